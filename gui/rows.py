"""Spans grouped by drawing row, each row in start order, with coarser levels for zoomed-out views.

A lane is drawn as one or more rows: each sub-row band of the lane takes as
many rows as its deepest span needs, and a span's row is its band's first
row plus its depth. ``RowIndex`` orders every span by (row, start) once, so
the spans of a row that touch a time range are found with two binary
searches. For views where a pixel covers many spans, ``RowIndex.level(k)``
merges the spans shorter than ``2**k`` ns into buckets of that width (one per
row and bucket, coloured by the category that covers most of it) and keeps
the longer spans as they are; levels are built on first use and a few are
kept. No Qt here: only numpy.

Times are int64 ns relative to the trace's start (``Trace.t0_ns``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from tracer.analysis import LOCK_HELD_KIND, LOCK_WAIT_KIND, Trace

STYLE_PLAIN, STYLE_WAIT, STYLE_HELD = 0, 1, 2
_LEVELS_KEPT = 4
_DOMINANT_BINS = 2_000_000  # bincount bins per chunk when finding each bucket's dominant category


@dataclass(frozen=True)
class Items:
    """Items (spans or merged buckets) of many rows: the answer of a query, in (row, start) order."""

    row: np.ndarray  # int64 row id
    start: np.ndarray  # int64 ns
    end: np.ndarray  # int64 ns
    cat: np.ndarray  # int32
    weight: np.ndarray  # float64: ns covered by the item's category
    src: np.ndarray  # int64 position in the RowIndex's span order; -1 for merged buckets
    style: np.ndarray  # int8: STYLE_*

    def __len__(self) -> int:
        return len(self.start)


class Layer:
    """Items sorted by (row, start), with row offsets and a running maximum of ends per row."""

    def __init__(self, n_rows: int, row: np.ndarray, start: np.ndarray, end: np.ndarray, cat: np.ndarray,
                 weight: np.ndarray, src: np.ndarray, style: np.ndarray) -> None:
        self.row, self.start, self.end, self.cat = row, start, end, cat
        self.weight, self.src, self.style = weight, src, style
        self.ptr = np.searchsorted(row, np.arange(n_rows + 1), side="left").astype(np.int64)
        self.endmax = _running_max_per_row(end, self.ptr)

    def __len__(self) -> int:
        return len(self.start)

    def ranges(self, rows: np.ndarray, t_lo: int, t_hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Return, per row, the position range ``[lo, hi)`` of items that may touch ``[t_lo, t_hi]``."""
        lo = np.empty(len(rows), np.int64)
        hi = np.empty(len(rows), np.int64)
        ptr, endmax, start = self.ptr, self.endmax, self.start
        for k, r in enumerate(rows.tolist()):
            a, b = int(ptr[r]), int(ptr[r + 1])
            lo[k] = a + int(np.searchsorted(endmax[a:b], t_lo, side="left"))
            hi[k] = a + int(np.searchsorted(start[a:b], t_hi, side="right"))
        return lo, np.maximum(hi, lo)

    def take(self, lo: np.ndarray, hi: np.ndarray) -> Items:
        """Return the items of the position ranges ``[lo, hi)``, concatenated."""
        pos = _concat_ranges(lo, hi)
        return Items(self.row[pos], self.start[pos], self.end[pos], self.cat[pos], self.weight[pos], self.src[pos],
                     self.style[pos])


class RowIndex:
    """Every span of a trace placed on a drawing row; see the module docstring."""

    def __init__(self, trace: Trace) -> None:
        spans = trace.spans
        n, n_lanes = len(spans), len(trace.lanes)
        self.t0_ns = trace.t0_ns
        self.duration_ns = max(1, trace.end_ns - trace.t0_ns)
        lane = spans.lane
        sub = spans.sub_row
        depth = spans.depth
        bands = int(sub.max()) + 1 if n else 1
        band = lane.astype(np.int64) * bands + sub
        band_rows = np.zeros(n_lanes * bands, np.int64)
        if n:
            np.maximum.at(band_rows, band, depth.astype(np.int64) + 1)  # same dtypes: the fast path
        band_rows = band_rows.reshape(n_lanes, bands)
        band_first = np.cumsum(band_rows, axis=1) - band_rows
        lane_rows = np.maximum(band_rows.sum(axis=1), 1)  # a lane without spans still shows its marks
        self.lane_rows = lane_rows
        self.lane_first_row = np.cumsum(lane_rows) - lane_rows
        self.n_rows = int(lane_rows.sum())
        self.row_lane = np.repeat(np.arange(n_lanes, dtype=np.int64), lane_rows)
        self.row_local = np.arange(self.n_rows, dtype=np.int64) - self.lane_first_row[self.row_lane]
        row = self.lane_first_row[lane] + band_first[lane, sub] + depth if n else np.zeros(0, np.int64)
        # A stable sort of small integers is a radix sort in numpy: pick the narrowest type.
        narrow = np.int16 if self.n_rows < 2**15 else np.int32 if self.n_rows < 2**31 else np.int64
        row = row.astype(narrow)
        order = np.argsort(row, kind="stable")
        self.order = order  # position -> span row
        self.span_row = row  # drawing row of each span row
        style = np.zeros(n, np.int8)
        locks = trace.locks
        style[locks.span[locks.kind == LOCK_WAIT_KIND]] = STYLE_WAIT
        style[locks.span[locks.kind == LOCK_HELD_KIND]] = STYLE_HELD
        start = spans.start_ns[order] - self.t0_ns
        end = spans.end_ns[order] - self.t0_ns
        self.raw = Layer(self.n_rows, row[order].astype(np.int64), start, end, spans.cat[order].astype(np.int32),
                         np.maximum(end - start, 1).astype(np.float64), np.arange(n, dtype=np.int64), style[order])
        self.open_positions = np.flatnonzero(spans.open[order])
        self.n_cats = len(trace.cats)
        self._levels: OrderedDict[int, tuple[Layer, Layer]] = OrderedDict()

    def level(self, k: int) -> tuple[Layer, Layer]:
        """Return ``(long spans, buckets)`` of level ``k``: buckets ``2**k`` ns wide merge the spans shorter than four.

        A level serves pixels of ``2**k`` to ``2**(k+1)`` ns, so its long spans
        are always at least two pixels wide (drawn one by one) and only
        buckets need merging per column.
        """
        found = self._levels.get(k)
        if found is not None:
            self._levels.move_to_end(k)
            return found
        raw = self.raw
        width = 1 << k
        long = (raw.end - raw.start) >= 4 * width
        keep = np.flatnonzero(long)
        spans = Layer(self.n_rows, raw.row[keep], raw.start[keep], raw.end[keep], raw.cat[keep], raw.weight[keep],
                      keep, raw.style[keep])
        short = np.flatnonzero(~long)
        del long, keep
        row, start = raw.row[short], raw.start[short]
        bucket = start >> k
        first = _run_starts(row, bucket)
        del bucket
        flags = np.zeros(len(short), bool)
        flags[first] = True
        run_id = np.cumsum(flags) - 1
        del flags
        cat, weight = dominant(run_id, len(first), raw.cat[short], raw.weight[short], self.n_cats)
        end = np.maximum.reduceat(raw.end[short], first) if len(first) else np.zeros(0, np.int64)
        buckets = Layer(self.n_rows, row[first], start[first], end, cat, weight, np.full(len(first), -1, np.int64),
                        np.zeros(len(first), np.int8))
        self._levels[k] = (spans, buckets)
        while len(self._levels) > _LEVELS_KEPT:
            self._levels.popitem(last=False)
        return spans, buckets

    def span_at(self, row: int, t: float, tolerance_ns: float) -> int:
        """Return the span row drawn at time ``t`` (ns since start) on drawing row ``row``, or -1.

        A span containing ``t`` wins (the shortest, if several); otherwise the
        nearest one within ``tolerance_ns``.
        """
        if not 0 <= row < self.n_rows:
            return -1
        raw = self.raw
        a, b = int(raw.ptr[row]), int(raw.ptr[row + 1])
        hi = a + int(np.searchsorted(raw.start[a:b], t + tolerance_ns, side="right"))
        best, best_key = -1, (2, 0.0)
        for pos in range(hi - 1, max(a, hi - 256) - 1, -1):
            if raw.endmax[pos] < t - tolerance_ns:
                break
            s, e = int(raw.start[pos]), int(raw.end[pos])
            if e < t - tolerance_ns:
                continue
            key = (0, float(e - s)) if s <= t <= e else (1, min(abs(s - t), abs(e - t)))
            if key < best_key:
                best, best_key = pos, key
        return int(self.order[best]) if best >= 0 else -1


def dominant(run_id: np.ndarray, n_runs: int, cat: np.ndarray, weight: np.ndarray, n_cats: int) -> tuple[np.ndarray, np.ndarray]:
    """Return, per run, the category with the most weight and that weight.

    ``run_id`` is sorted (items of a run are adjacent). Bincounts over
    (run, category) pairs, in chunks of runs so memory stays bounded.
    """
    out_cat = np.zeros(n_runs, np.int32)
    out_weight = np.zeros(n_runs, np.float64)
    if n_runs == 0:
        return out_cat, out_weight
    present = np.flatnonzero(np.bincount(cat, minlength=max(n_cats, 1)))
    if len(present) == 1:
        out_cat[:] = present[0]
        out_weight[:] = np.bincount(run_id, weight, minlength=n_runs)
        return out_cat, out_weight
    dense_of = np.zeros(int(present[-1]) + 1, np.int64)
    dense_of[present] = np.arange(len(present))
    m = len(present)
    per_chunk = max(1, _DOMINANT_BINS // m)
    for r0 in range(0, n_runs, per_chunk):
        r1 = min(n_runs, r0 + per_chunk)
        i0, i1 = np.searchsorted(run_id, [r0, r1], side="left")
        key = (run_id[i0:i1] - r0) * m + dense_of[cat[i0:i1]]
        sums = np.bincount(key, weight[i0:i1], minlength=(r1 - r0) * m).reshape(r1 - r0, m)
        best = sums.argmax(axis=1)
        out_cat[r0:r1] = present[best]
        out_weight[r0:r1] = sums[np.arange(r1 - r0), best]
    return out_cat, out_weight


def _run_starts(row: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Return the positions where (row, key), sorted, takes a new value."""
    if len(row) == 0:
        return np.zeros(0, np.int64)
    change = (row[1:] != row[:-1]) | (key[1:] != key[:-1])
    return np.concatenate(([0], np.flatnonzero(change) + 1)).astype(np.int64)


def _concat_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Return the positions of all ranges ``[lo, hi)`` one after the other (no Python loop)."""
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    before = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(lo - before, counts)


def _running_max_per_row(end: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Return the running maximum of ``end`` restarted at each row (so searches can skip ended spans)."""
    n = len(end)
    if n == 0:
        return end.copy()
    n_rows = len(ptr) - 1
    span = int(end.max()) - int(end.min()) + 1
    if span * (n_rows + 1) < 2**62:  # shift each row above the previous ones: one accumulate for all
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(ptr))
        shift = rows * span - int(end.min())
        return np.maximum.accumulate(end + shift) - shift
    out = np.empty_like(end)
    for r in range(n_rows):
        a, b = ptr[r], ptr[r + 1]
        if b > a:
            np.maximum.accumulate(end[a:b], out=out[a:b])
    return out
