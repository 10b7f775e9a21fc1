"""Start recording from ``RACELANE_*`` environment variables, here and in children.

``racelane record`` and a deployment (a systemd drop-in for nova-compute, for
example) turn recording on without touching the program's code: setting
``RACELANE_OUT`` and putting ``boot_dir()`` on ``PYTHONPATH`` makes every
Python process started with that environment record into its own file.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Recording


def boot_dir() -> str:
    """Return the directory holding racelane's ``sitecustomize`` for ``PYTHONPATH``."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot")


def with_pid(pattern: str) -> str:
    """Return ``pattern`` with ``{pid}`` in it, so each process writes its own file."""
    if "{pid}" in pattern:
        return pattern
    root, ext = os.path.splitext(pattern)
    return f"{root}-{{pid}}{ext or '.jsonl'}"


def export_to_children(environ: MutableMapping[str, str]) -> None:
    """Make Python processes started with ``environ`` record too, each into its own file."""
    if environ.get("RACELANE_OUT"):
        environ["RACELANE_OUT"] = with_pid(environ["RACELANE_OUT"])
    paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if boot_dir() not in paths:
        environ["PYTHONPATH"] = os.pathsep.join([boot_dir(), *paths])


def start_from_env(own_path: str | None = None, strict: bool = False) -> Recording | None:
    """Start recording if ``RACELANE_OUT`` (or ``own_path``) is set and ``RACELANE_DISABLE`` is not 1.

    Never raises unless ``strict``: a bad setting is reported through
    ``logging`` and the program runs unrecorded.
    """
    if not (own_path or os.environ.get("RACELANE_OUT")) or os.environ.get("RACELANE_DISABLE") == "1":
        return None
    from . import core

    if core._active is not None:
        return None
    try:
        from .api import start
        from .options import Options

        options = Options.from_env(None, **({"path": own_path} if own_path else {}))
        return start(**{f: getattr(options, f) for f in ("path", "flush_interval_s", "host", "process", "profile", "secret_keys", "file_mode")})
    except Exception as err:
        if strict:
            raise
        import logging

        logging.getLogger("racelane").warning("racelane: recording not started: %s", err)
        return None
