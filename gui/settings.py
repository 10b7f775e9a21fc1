"""What the viewer remembers between runs: theme, recent files, window geometry and layout.

Stored with ``QSettings`` (organization and application ``racelane``: on
Linux ``~/.config/racelane/racelane.conf``). ``RACELANE_SETTINGS=FILE``
points the viewer at another INI file instead (benchmarks, scripted runs).
A window opened without ``Settings`` (tests, screenshots) keeps them in
memory only and never reads or writes the user's file.

Values are checked when read back: the file is the user's to edit, so a
wrong type or a garbled entry falls back to the default, never raises.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any, Protocol

ORGANIZATION = APPLICATION = "racelane"
ENV_FILE = "RACELANE_SETTINGS"
MAX_RECENT = 10


class Store(Protocol):
    """The part of ``QSettings`` used here."""

    def value(self, key: str, default: Any = None) -> Any: ...
    def setValue(self, key: str, value: Any) -> None: ...
    def remove(self, key: str) -> None: ...
    def sync(self) -> None: ...


class MemoryStore:
    """A ``Store`` in a dict: settings that last as long as the window."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def value(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def setValue(self, key: str, value: Any) -> None:
        self.values[key] = value

    def remove(self, key: str) -> None:
        self.values.pop(key, None)

    def sync(self) -> None:
        pass


def user_store() -> Store:
    """Return the user's ``QSettings`` (or the INI file ``$RACELANE_SETTINGS`` names)."""
    from PySide6 import QtCore

    path = os.environ.get(ENV_FILE)
    if path:
        return QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)  # type: ignore[return-value]
    return QtCore.QSettings(ORGANIZATION, APPLICATION)  # type: ignore[return-value]


class Settings:
    """Typed access to the stored settings; see the module docstring."""

    def __init__(self, store: Store | None = None) -> None:
        self.store: Store = store if store is not None else MemoryStore()

    @classmethod
    def for_user(cls) -> Settings:
        """Return the settings of the user (persistent)."""
        return cls(user_store())

    @property
    def persistent(self) -> bool:
        """Whether these settings outlive the window."""
        return not isinstance(self.store, MemoryStore)

    # --- theme -----------------------------------------------------------------------------
    def theme(self) -> str:
        """Return the theme choice: ``system`` (default), ``light`` or ``dark``."""
        from .theme import CHOICES

        value = self.store.value("view/theme", "system")
        return value if value in CHOICES else "system"

    def set_theme(self, choice: str) -> None:
        """Remember the theme choice."""
        self.store.setValue("view/theme", choice)

    # --- recent files --------------------------------------------------------------------------
    def recent(self) -> list[list[str]]:
        """Return the recently opened sets of files, newest first (each set opened together)."""
        raw = self.store.value("files/recent", "[]")
        try:
            entries = json.loads(raw) if isinstance(raw, str) else []
        except ValueError:
            return []
        if not isinstance(entries, list):
            return []
        out = []
        for entry in entries:
            if isinstance(entry, list) and entry and all(isinstance(p, str) and p for p in entry):
                out.append(entry)
        return out[:MAX_RECENT]

    def add_recent(self, paths: Sequence[str]) -> None:
        """Put the set ``paths`` first in the recent files (absolute paths; once)."""
        entry = [os.path.abspath(p) for p in paths]
        if not entry:
            return
        entries = [e for e in self.recent() if e != entry]
        self._set_recent([entry, *entries])

    def remove_recent(self, paths: Sequence[str]) -> None:
        """Forget the set ``paths``."""
        entry = [os.path.abspath(p) for p in paths]
        self._set_recent([e for e in self.recent() if e != entry])

    def clear_recent(self) -> None:
        """Forget every recent file."""
        self._set_recent([])

    def _set_recent(self, entries: list[list[str]]) -> None:
        self.store.setValue("files/recent", json.dumps(entries[:MAX_RECENT]))

    def last_directory(self) -> str:
        """Return the directory of the last file dialog ('' when none)."""
        value = self.store.value("files/last_directory", "")
        return value if isinstance(value, str) else ""

    def set_last_directory(self, path: str) -> None:
        """Remember the directory of the last file dialog."""
        self.store.setValue("files/last_directory", path)

    # --- window -------------------------------------------------------------------------------
    def save_window(self, window: Any) -> None:
        """Remember the geometry and state (toolbars, docks) of ``window``."""
        self.store.setValue("window/geometry", window.saveGeometry())
        self.store.setValue("window/state", window.saveState())
        self.store.sync()

    def set_splitter_sizes(self, name: str, sizes: Sequence[int]) -> None:
        """Remember the sizes of the window's splitter ``name``."""
        self.store.setValue(f"window/splitter/{name}", json.dumps([int(s) for s in sizes]))

    def restore_window(self, window: Any) -> bool:
        """Give ``window`` its remembered geometry and state; return whether there was any."""
        geometry = self.store.value("window/geometry")
        state = self.store.value("window/state")
        done = False
        if geometry is not None and _is_bytes(geometry):
            done = bool(window.restoreGeometry(geometry))
        if state is not None and _is_bytes(state):
            window.restoreState(state)
        return done

    def splitter_sizes(self, name: str) -> list[int] | None:
        """Return the remembered sizes of splitter ``name`` (None: none, or not a list of sizes)."""
        raw = self.store.value(f"window/splitter/{name}")
        try:
            sizes = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            return None
        if isinstance(sizes, list) and sizes and all(isinstance(s, int) and s >= 0 for s in sizes) and any(sizes):
            return sizes
        return None

    def sync(self) -> None:
        """Write pending changes out."""
        self.store.sync()


def _is_bytes(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray)) or type(value).__name__ == "QByteArray"
