"""Read a TOML document given as a built-in name or a file path (profiles, rule sets)."""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from typing import Any

from .errors import ConfigError


def builtin_names(package: str, folder: str) -> list[str]:
    """Names (without ``.toml``) of the documents shipped in ``package``'s ``folder``."""
    found = resources.files(package).joinpath(folder)
    return sorted(p.name[:-5] for p in found.iterdir() if p.name.endswith(".toml"))


def read_toml(spec: str, package: str, folder: str, what: str, error: type[ConfigError]) -> tuple[str, dict[str, Any]]:
    """Return (source, document) for a built-in name or a ``.toml`` path.

    Raises:
        error: the file cannot be read, the name is unknown (the message lists
            the built-in ones), or the text is not TOML; the message names the source.
    """
    if os.path.sep in spec or spec.endswith(".toml"):
        source = spec
        try:
            with open(spec, "rb") as fh:
                raw = fh.read()
        except OSError as err:
            raise error(f"{spec}: cannot read {what}: {err.strerror}") from None
    else:
        source = f"<built-in {what} {spec}>"
        path = resources.files(package).joinpath(folder, f"{spec}.toml")
        if not path.is_file():
            known = ", ".join(builtin_names(package, folder))
            raise error(f"unknown {what} {spec!r}; built-in: {known}; or give a .toml path")
        raw = path.read_bytes()
    try:
        return source, tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise error(f"{source}: not valid TOML: {err}") from None
