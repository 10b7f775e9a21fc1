"""Fixtures that put the stand-in modules of tests/tracer/standins* on sys.path.

Each fixture removes every ``nova``/``oslo_concurrency``/``racelane_targets``
module from ``sys.modules`` before and after the test, so the two Nova
variants never leak into each other or into other tests, and cancels any
post-import hook a test left waiting for those modules.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
STANDINS = HERE / "standins"
STANDINS_VICTORIA = HERE / "standins_victoria"
OWN_MODULES = ("nova", "oslo_concurrency", "racelane_targets")


def _purge() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in OWN_MODULES:
            del sys.modules[name]


def _on_path(folder: Path, *more: Path) -> Iterator[Path]:
    from tracer.record import hooks
    from tracer.record.instrument import uninstrument

    _purge()
    folders = [str(f) for f in (folder, *more)]
    sys.path[0:0] = folders  # the first folder wins for a package both hold
    importlib.invalidate_caches()
    try:
        yield folder
    finally:
        uninstrument()
        for name in hooks.pending():
            if name.split(".")[0] in OWN_MODULES:
                for hook in list(hooks._hooks.get(name, [])):
                    hooks.cancel(hook)
        for entry in folders:
            sys.path.remove(entry)
        _purge()
        importlib.invalidate_caches()


@pytest.fixture
def standins() -> Iterator[Path]:
    """The newest-release Nova stand-ins, oslo_concurrency and racelane_targets."""
    yield from _on_path(STANDINS)


@pytest.fixture
def victoria() -> Iterator[Path]:
    """The Nova 22.0.0 (Victoria) stand-ins; oslo_concurrency is the newest stand-ins' (it did not change)."""
    yield from _on_path(STANDINS_VICTORIA, STANDINS)
