"""Growable numpy columns that rows are appended to, block by block.

The loader reserves room for every span the input could hold (each row
takes at least ``MIN_ROW_BYTES`` of JSON) before reading: the operating
system maps pages only when they are written, so the reservation costs
address space, not memory, and the columns never need to be copied to grow
(which would hold them twice). Should the reservation fail or fall short,
the columns grow by half their size at a time instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_ROW_BYTES = 20  # the shortest row, ``[1,0,0,0,"","",{}]`` and its comma


class Columns:
    """Parallel numpy columns with a common length ``size`` and room to grow."""

    def __init__(self, dtypes: dict[str, Any], capacity: int) -> None:
        self.dtypes = dtypes
        capacity = max(16, capacity)
        try:
            self.arrays = {name: np.empty(capacity, dtype) for name, dtype in dtypes.items()}
        except MemoryError:  # no overcommit here: start small and grow
            capacity = 1 << 16
            self.arrays = {name: np.empty(capacity, dtype) for name, dtype in dtypes.items()}
        self.capacity = capacity
        self.size = 0

    def append(self, block: dict[str, np.ndarray], fill: dict[str, Any] | None = None) -> None:
        """Append a block of rows; columns missing from it take the ``fill`` value."""
        n = len(next(iter(block.values())))
        self.reserve(self.size + n)
        rows = slice(self.size, self.size + n)
        for name, values in block.items():
            self.arrays[name][rows] = values
        for name, value in (fill or {}).items():
            self.arrays[name][rows] = value
        self.size += n

    def reserve(self, needed: int) -> None:
        """Make room for ``needed`` rows in all."""
        if needed <= self.capacity:
            return
        capacity = max(needed, self.capacity + self.capacity // 2)
        for name, old in self.arrays.items():
            new = np.empty(capacity, old.dtype)
            new[: self.size] = old[: self.size]
            self.arrays[name] = new
        self.capacity = capacity

    def __getitem__(self, name: str) -> np.ndarray:
        """Return column ``name`` (its full capacity: slice what you need)."""
        return self.arrays[name]

    def take(self) -> dict[str, np.ndarray]:
        """Return the columns cut to ``size`` and forget them (ownership passes on)."""
        columns = {name: array[: self.size] for name, array in self.arrays.items()}
        self.arrays = {}
        return columns
