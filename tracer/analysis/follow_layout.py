"""Keep the depth and sub-row of spans up to date as rows are inserted at the end of a sorted table.

``layout.nest`` lays out a whole trace at once: a span's depth is the length
of its chain of same-lane parents that enclose it (*link depth*), and a lane
where two spans of one link depth overlap in time is laid out again by
``layout.sweep`` (sub-rows). A follower re-sorts only the tail of its span
table (the rows from the earliest start that changed), so this module redoes
only that tail: link depths follow from parents (earlier rows keep theirs),
and whether a lane overlaps is kept per lane as a count of *clashes* (a row
that overlaps the previous row of its lane and link depth). To find the
previous row of a (lane, depth) before the tail, each row keeps a link to the
previous row of its (lane, depth) (``prev_same``), and each (lane, depth) its
last row. Lanes
that overlap are swept again when their rows change, from the lane's last
*quiet point* before the tail: a row that every earlier row of the lane ends
before, where ``layout.sweep`` would find its sub-rows all empty. A lane with
no quiet point (a span that never ends) is swept whole; such lanes are rare
in recorded traces (racelane gives every thread, greenthread and task its own).

Unfinished spans end at the trace's end, which moves; the table re-sorts
whatever an end that moved may change here (see ``follow_trace``).
"""

from __future__ import annotations

import numpy as np

from .layout import sweep


class LiveLayout:
    """Link depths, clashes and sub-rows of a span table that grows at its tail.

    The table's columns are passed in (numpy arrays the caller owns); rows
    before ``first`` must not have changed since the last call. Not
    thread-safe.
    """

    def __init__(self) -> None:
        self._last: dict[int, int] = {}  # (lane << 32 | link depth) -> its last row
        self._clashes = np.zeros(16, np.int64)  # per lane key
        self._swept: set[int] = set()  # lane keys laid out by ``sweep``
        self._quiet: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # swept lane -> (quiet rows, sub-rows before each)
        self.changed_from = 0  # the first row whose depth or sub-row the last ``place`` may have written

    @property
    def lanes_swept(self) -> int:
        """Return how many lanes hold spans that overlap without nesting."""
        return len(self._swept)

    @property
    def swept(self) -> frozenset[int]:
        """Return the lane keys laid out by ``sweep`` (their spans overlap without nesting)."""
        return frozenset(self._swept)

    def drop_tail(self, first: int, old_size: int, columns: dict[str, np.ndarray]) -> None:
        """Forget rows ``first..old_size`` of the table (about to be rewritten)."""
        if first >= old_size:
            return
        key, pdepth, clash = columns["key"], columns["pdepth"], columns["clash"]
        tail = slice(first, old_size)
        lost = np.bincount(key[tail], weights=clash[tail], minlength=len(self._clashes)).astype(np.int64)
        self._clashes[: len(lost)] -= lost
        pairs, heads = np.unique(key[tail].astype(np.int64) << 32 | pdepth[tail].astype(np.int64), return_index=True)
        last = self._last
        for pair, before in zip(pairs.tolist(), columns["prev_same"][first + heads].tolist()):
            if before >= 0:
                last[pair] = before
            else:
                last.pop(pair, None)

    def place(self, first: int, size: int, columns: dict[str, np.ndarray], end_ns: int) -> None:
        """Lay out rows ``first..size`` (written since ``drop_tail``); sweep the lanes that overlap.

        ``columns`` holds ``start``, ``end`` (the trace's end for unfinished
        rows), ``open``, ``parent`` (row), ``key`` (lane), and receives
        ``pdepth``, ``clash``, ``prev_same``, ``depth`` and ``sub_row``.
        """
        self.changed_from = size
        if first >= size:
            return
        self.changed_from = first
        start, end, parent, key = (columns[k] for k in ("start", "end", "parent", "key"))
        pdepth, clash = columns["pdepth"], columns["clash"]
        rows = np.arange(first, size, dtype=np.int64)
        up = parent[rows]
        linked = up >= 0
        safe = np.where(linked, up, 0)
        linked &= (key[safe] == key[rows]) & (end[safe] >= end[rows])
        # value: links from the row to ``jump`` (or to the top, adding an earlier row's final depth)
        value = linked.astype(np.int64)
        before = linked & (up < first)
        value[before] += pdepth[up[before]]
        jump = np.where(linked & (up >= first), up - first, -1)
        active = np.flatnonzero(jump >= 0)
        while active.size:  # pointer jumping, as in layout.nest
            above = jump[active]
            value[active] += value[above]
            jump[active] = jump[above]
            active = active[jump[active] >= 0]
        pdepth[rows] = value
        self._grow(int(key[rows].max()) + 1)
        touched = self._check_clashes(rows, start, end, key, pdepth, clash, columns["prev_same"])
        columns["depth"][rows] = pdepth[rows]
        columns["sub_row"][rows] = 0
        bad = set(np.flatnonzero(self._clashes > 0).tolist())
        for lane in bad - self._swept:
            self._quiet.pop(lane, None)
            self._sweep(lane, 0, size, columns, end_ns)
        for lane in (touched & bad) & self._swept:
            self._sweep(lane, first, size, columns, end_ns)
        for lane in self._swept - bad:  # its overlap was in rows now gone: link depths again
            self._quiet.pop(lane, None)
            lane_rows = np.flatnonzero(key[:size] == lane)
            self.changed_from = min(self.changed_from, int(lane_rows[0]) if len(lane_rows) else size)
            columns["depth"][lane_rows] = pdepth[lane_rows]
            columns["sub_row"][lane_rows] = 0
        self._swept = bad

    def _grow(self, lanes: int) -> None:
        if lanes > len(self._clashes):
            grown = np.zeros(max(lanes, 2 * len(self._clashes)), np.int64)
            grown[: len(self._clashes)] = self._clashes
            self._clashes = grown

    def _check_clashes(self, rows: np.ndarray, start: np.ndarray, end: np.ndarray, key: np.ndarray, pdepth: np.ndarray,
                       clash: np.ndarray, prev_same: np.ndarray) -> set[int]:
        """Flag each new row that overlaps the previous row of its (lane, link depth); return the lanes touched."""
        pairs = key[rows].astype(np.int64) << 32 | pdepth[rows].astype(np.int64)
        by_pair = np.argsort(pairs, kind="stable")  # rows stay in order within a (lane, depth)
        order, pair = rows[by_pair], pairs[by_pair]
        head = np.concatenate(([True], pair[1:] != pair[:-1]))
        heads = np.flatnonzero(head)
        ends = np.concatenate((heads[1:] - 1, [len(order) - 1]))
        previous = np.empty(len(order), np.int64)
        previous[1:] = order[:-1]
        last = self._last
        group_pairs = pair[heads].tolist()
        previous[heads] = [last.get(p, -1) for p in group_pairs]
        last.update(zip(group_pairs, order[ends].tolist()))
        prev_same[order] = previous
        known = previous >= 0
        # Unfinished rows end at the trace's end already (``end`` holds it).
        flags = known & (start[order] < end[np.where(known, previous, 0)])
        clash[order] = flags
        if flags.any():
            self._clashes += np.bincount(key[order][flags], minlength=len(self._clashes))
        return set(np.flatnonzero(np.bincount(key[rows])).tolist())

    def _sweep(self, lane: int, first: int, size: int, columns: dict[str, np.ndarray], end_ns: int) -> None:
        """Lay out the rows of ``lane`` from its last quiet point before row ``first`` on, as ``layout.nest`` would."""
        key, parent, sub_row = columns["key"], columns["parent"], columns["sub_row"]
        quiet_rows, quiet_subs = self._quiet.get(lane, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        k = int(np.searchsorted(quiet_rows, first, side="left")) - 1  # a quiet row in the tail may have changed
        origin, sub_rows = (int(quiet_rows[k]), int(quiet_subs[k])) if k >= 0 else (0, 0)
        self.changed_from = min(self.changed_from, origin)
        rows = np.flatnonzero(key[origin:size] == lane) + origin
        if not len(rows):
            return
        above = parent[rows]
        inside = above >= 0
        inside[inside] = key[above[inside]] == lane
        earlier = inside & (above < origin)
        inside &= above >= origin
        position = np.full(len(rows), -1, np.int64)
        position[inside] = np.searchsorted(rows, above[inside])
        preferred = np.full(len(rows), -1, np.int64)
        preferred[earlier] = sub_row[above[earlier]]
        starts = columns["start"][rows]
        ends = np.where(columns["open"][rows], end_ns, columns["end"][rows])
        depth, sub = sweep(starts.tolist(), ends.tolist(), position.tolist(), sub_rows=sub_rows,
                           preferred_rows=preferred.tolist())
        columns["depth"][rows] = depth
        sub_now = np.asarray(sub, np.int64)
        sub_row[rows] = sub_now
        # Quiet points from ``origin`` on: rows that every earlier row of the lane ends before.
        reach = np.maximum.accumulate(ends)
        quiet = np.concatenate(([True], reach[:-1] < starts[1:]))
        used = np.maximum(sub_rows, np.concatenate(([0], np.maximum.accumulate(sub_now + 1)[:-1])))
        keep = quiet_rows < origin
        self._quiet[lane] = (np.concatenate((quiet_rows[keep], rows[quiet])), np.concatenate((quiet_subs[keep], used[quiet])))
