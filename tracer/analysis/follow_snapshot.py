"""Snapshots of a growing table that share their unchanged rows: copying a followed trace costs O(rows changed).

A viewer keeps the trace it draws while the follower goes on merging, so it
needs a copy that never changes (``LiveTrace.snapshot``). Copying every
column at each update costs O(rows) (milliseconds at a few hundred thousand
spans, ten times a second). But an update changes only the rows after the
last unchanged one, and mostly appends: the next snapshot can share the
columns of the last one.

``SharedColumns`` keeps, per column, one array that the snapshots are
prefixes of (views ``[:size]``). Rows past the last snapshot's end are read
by none of them, so a snapshot that only adds rows writes them there, in
place. A snapshot whose rows before the last one's end changed (a tail
sorted again, a column recoded, unfinished spans whose end moved) writes
that column into a new array; the snapshots taken before keep the old one.
Arrays are made half as large again as needed, so rows are copied O(1)
times each, amortized.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_GROWTH = 1.5
_MIN_ROWS = 1024


class SharedColumns:
    """Columns of the snapshots of one growing table; see the module docstring. Not thread-safe (the writer's)."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self.size = 0  # rows of the last snapshot
        self.copied = 0  # rows copied so far (tests, benchmarks)

    def publish(self, columns: dict[str, np.ndarray], size: int, stable: int, changed: Iterable[str] = ()) -> dict[str, np.ndarray]:
        """Return ``columns[name][:size]`` for every column, as arrays that never change afterwards.

        ``stable``: rows ``[0, stable)`` of every column are the same as at
        the last ``publish``, except in the columns named in ``changed``.
        Complexity: O(size - stable) when ``stable`` reaches the last
        snapshot's end, else O(size) for each column written again.
        """
        if size < self.size:
            raise ValueError(f"a growing table cannot shrink (from {self.size} rows to {size})")
        stable = min(stable, self.size)
        dirty = set(changed)
        out = {}
        for name, source in columns.items():
            array = self._arrays.get(name)
            if array is None or stable < self.size or name in dirty or size > len(array):
                array = self._fresh(name, source, size)
            elif size > self.size:
                array[self.size : size] = source[self.size : size]  # past every snapshot's end: no reader sees it
                self.copied += size - self.size
            view = array[:size]
            view.flags.writeable = False  # shared with later snapshots: nobody may write through it
            out[name] = view
        self.size = size
        return out

    def _fresh(self, name: str, source: np.ndarray, size: int) -> np.ndarray:
        """Write column ``name`` into a new array (the snapshots taken so far keep the old one)."""
        capacity = max(int(size * _GROWTH), _MIN_ROWS)
        array = np.empty(capacity, source.dtype)
        array[:size] = source[:size]
        self._arrays[name] = array
        self.copied += size
        return array
