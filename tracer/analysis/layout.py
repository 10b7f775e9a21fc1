"""Order spans by start and place them in their lane: nesting depth and sub-row.

Within a lane, spans normally nest: the recorder's parent links say which
span encloses which, and the depth follows from them with a few vectorized
passes (pointer jumping, O(n log depth)). Two spans of one lane that overlap
without nesting (greenthreads sharing a lane, lost parent links, bad data)
would be drawn on top of each other; such lanes are laid out again by a stack
sweep over their spans' times, which puts overlapping spans that do not nest
on separate *sub-rows*, each a properly nested band with its own depths.
"""

from __future__ import annotations

import numpy as np

MAX_SUB_ROWS = 64  # more overlapping bands than this in one lane share the last one
_CHUNK = 1 << 18  # rows per step where a full-length temporary would cost too much memory


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """Return the stable ascending order of integer ``keys`` as int64 indices.

    When the key range and the row count fit in 63 bits together, the index is
    packed into the low bits of the key and one plain sort does the work,
    several times faster than a stable argsort.
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64)
    low = int(keys.min())
    bits = max(1, (n - 1).bit_length())
    if (int(keys.max()) - low).bit_length() + bits <= 63:
        packed = (keys - low).astype(np.uint64)
        packed <<= np.uint64(bits)
        for first in range(0, n, _CHUNK):
            packed[first : first + _CHUNK] |= np.arange(first, min(n, first + _CHUNK), dtype=np.uint64)
        packed.sort()
        packed &= np.uint64((1 << bits) - 1)
        return packed.view(np.int64)
    return np.argsort(keys, kind="stable").astype(np.int64, copy=False)


def start_order(start_ns: np.ndarray, end_ns: np.ndarray, *, later_first: bool, tie: np.ndarray | None = None) -> np.ndarray:
    """Return the order by start ascending, then end descending.

    A parent therefore comes before the children that start with it. Rows
    equal in both are ordered by ``tie`` ascending when given (span ids: a
    recorder gives a parent its id before its children), else keep their
    order, or take the reverse one with ``later_first``.
    """
    order = stable_argsort(start_ns)
    tied_rows = []
    for first in range(0, len(order), _CHUNK):
        starts = start_ns[order[first : first + _CHUNK + 1]]
        tied_rows.append(np.flatnonzero(starts[1:] == starts[:-1]) + first)
    ties = np.concatenate(tied_rows) if tied_rows else np.zeros(0, np.int64)
    if len(ties):
        # Both ends of each tie, ascending and once each: a mask is O(n) where
        # ``np.union1d`` hashes or sorts (most rows tie in some traces).
        in_tie = np.zeros(len(order) + 1, bool)
        in_tie[ties] = True
        in_tie[ties + 1] = True
        slots = np.flatnonzero(in_tie)
        tied = order[slots]
        position = -tied if later_first else tied
        keys = (position, -end_ns[tied], start_ns[tied]) if tie is None else (position, tie[tied], -end_ns[tied], start_ns[tied])
        order[slots] = tied[np.lexsort(keys)]
    return order


def nest(start_ns: np.ndarray, end_ns: np.ndarray, lane: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``(depth, sub_row, lanes_swept)`` of spans sorted by ``start_order``.

    ``parent`` holds row indices (or -1); a link counts for the depth when it
    points to an earlier row of the same lane that encloses the child.
    """
    n = len(start_ns)
    depth = np.zeros(n, np.int32)
    sub_row = np.zeros(n, np.int32)
    if n == 0:
        return depth, sub_row, 0
    up = np.full(n, -1, np.int64)
    for first in range(0, n, _CHUNK):
        part = slice(first, first + _CHUNK)
        above = parent[part]
        ok = (above >= 0) & (above < np.arange(first, first + len(above)))
        safe = np.where(ok, above, 0)
        ok &= (lane[safe] == lane[part]) & (end_ns[safe] >= end_ns[part])
        up[part] = np.where(ok, above, -1)
    depth[up >= 0] = 1
    active = np.flatnonzero(up >= 0)
    while active.size:  # pointer jumping: each pass doubles the distance covered
        above = up[active]
        depth[active] += depth[above]
        up[active] = up[above]
        active = active[up[active] >= 0]
    del up, active
    bad_lanes = _overlapping_lanes(start_ns, end_ns, lane, depth)
    position = np.full(n, -1, np.int64) if len(bad_lanes) else np.zeros(0, np.int64)
    for rows in _rows_of_lanes(lane, bad_lanes):
        position[rows] = np.arange(len(rows))
        parents = np.where(parent[rows] >= 0, position[np.maximum(parent[rows], 0)], -1)
        position[rows] = -1
        lane_depth, lane_sub = sweep(start_ns[rows].tolist(), end_ns[rows].tolist(), parents.tolist())
        depth[rows] = lane_depth
        sub_row[rows] = lane_sub
    return depth, sub_row, len(bad_lanes)


def _overlapping_lanes(start_ns: np.ndarray, end_ns: np.ndarray, lane: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Return the lanes where two spans at the same depth overlap in time."""
    key = lane.astype(np.int64) * (int(depth.max()) + 1) + depth
    order = stable_argsort(key)  # by lane, then depth, then start (rows are in start order)
    clashing = []
    for first in range(0, len(order), _CHUNK):
        rows = order[first : first + _CHUNK + 1]
        k = key[rows]
        # Sorted by start, a band has an overlap exactly when two neighbours overlap.
        clash = (k[1:] == k[:-1]) & (start_ns[rows[1:]] < end_ns[rows[:-1]])
        clashing.append(lane[rows[1:][clash]])
    return np.unique(np.concatenate(clashing))


def _rows_of_lanes(lane: np.ndarray, lanes: np.ndarray) -> list[np.ndarray]:
    if lanes.size == 0:
        return []
    rows = np.flatnonzero(np.isin(lane, lanes))
    rows = rows[np.argsort(lane[rows], kind="stable")]
    cuts = np.flatnonzero(np.diff(lane[rows])) + 1
    return np.split(rows, cuts)


def sweep(starts: list[int], ends: list[int], parents: list[int] | None = None, *, sub_rows: int = 0,
          preferred_rows: list[int] | None = None) -> tuple[list[int], list[int]]:
    """Lay out one lane's spans (in start order) by their times.

    Each sub-row keeps a stack of the ends of its open spans. A span goes to
    the first sub-row where it nests inside the innermost open span (or where
    nothing is open), trying its parent's sub-row first (``parents`` holds
    each span's parent position in these lists, -1 for none); its depth is
    the number of spans open there. Complexity: O(n * sub-rows), at most
    O(n * MAX_SUB_ROWS).

    A sweep may resume after earlier spans that all ended before the first of
    these starts (a follower lays out only a lane's latest spans): then
    ``sub_rows`` sub-rows exist already, empty, and ``preferred_rows`` gives
    the sub-row of each span's parent when that parent is among the earlier
    spans (-1 otherwise).
    """
    n = len(starts)
    depth = [0] * n
    sub = [0] * n
    stacks: list[list[int]] = [[] for _ in range(sub_rows)]
    for k in range(n):
        start, end = starts[k], ends[k]
        parent = parents[k] if parents is not None else -1
        preferred = sub[parent] if 0 <= parent < k else preferred_rows[k] if preferred_rows is not None else -1
        rows = [preferred, *range(len(stacks))] if preferred >= 0 else range(len(stacks))
        for row in rows:
            stack = stacks[row]
            while stack and stack[-1] <= start:
                stack.pop()
            if not stack or end <= stack[-1]:
                depth[k] = len(stack)
                sub[k] = row
                stack.append(end)
                break
        else:
            if len(stacks) < MAX_SUB_ROWS:
                stacks.append([end])
            sub[k] = len(stacks) - 1
    return depth, sub
