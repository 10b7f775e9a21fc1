"""Spans grouped by drawing row, each row in start order, with coarser levels for zoomed-out views.

A lane is drawn as one or more rows: each sub-row band of the lane takes as
many rows as its deepest span needs, and a span's row is its band's first
row plus its depth. ``RowIndex`` keeps every span by (row, start), so the
spans of a row that touch a time range are found with two binary searches.
For views where a pixel covers many spans, ``RowIndex.level(k)`` merges the
spans shorter than ``2**k`` ns into buckets of that width (one per row and
bucket, coloured by the category that covers most of it) and keeps the
longer spans as they are; levels are built on first use and a few are kept.
No Qt here: only numpy.

A followed trace grows by its end, and the viewer needs an index for every
update: ``RowIndex.following`` derives the next one from the last in
O(spans changed), not O(spans). Each drawing row owns a region of columns
shared by the indexes of one growing trace (``_Store``), with room to grow:
new spans of a row are written after its end, which no earlier index reads
(each holds its own row bounds), and a row whose old spans changed (written
again out of order, or unfinished spans whose end moved) is copied whole to
free space, never rewritten in place. So an index handed to the painting
thread never changes under it. When the free space runs out, the regions are
packed into new columns (amortized O(1) per span).

Times are int64 ns relative to the trace's start (``Trace.t0_ns``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from tracer.analysis import Trace
from tracer.record.format import LOCK_CATEGORY, LOCK_HELD, LOCK_WAIT

STYLE_PLAIN, STYLE_WAIT, STYLE_HELD = 0, 1, 2
_LEVELS_KEPT = 4
_DOMINANT_BINS = 2_000_000  # bincount bins per chunk when finding each bucket's dominant category
_ROOM = 1.5  # a row's region holds this many times its spans (plus ``_ROOM_MIN``): appends seldom move it
_ROOM_MIN = 16
_BLOCK_COPY_ROWS = 64  # rows moved at once up to which each is copied as a block


@dataclass(frozen=True)
class Items:
    """Items (spans or merged buckets) of many rows: the answer of a query, in (row, start) order."""

    row: np.ndarray  # int64 row id
    start: np.ndarray  # int64 ns
    end: np.ndarray  # int64 ns
    cat: np.ndarray  # int32
    weight: np.ndarray  # float64: ns covered by the item's category
    src: np.ndarray  # int64 position in the RowIndex's raw layer (``RowIndex.order``); -1 for merged buckets
    style: np.ndarray  # int8: STYLE_*

    def __len__(self) -> int:
        return len(self.start)


class Layer:
    """Items of each row in start order, at positions ``[lo[r], hi[r])`` of its columns, with a running maximum of ends per row.

    ``src`` is None for the raw layer (an item's source is its position),
    else each item's position in the raw layer (-1 for merged buckets).
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, row: np.ndarray, start: np.ndarray, end: np.ndarray,
                 cat: np.ndarray, weight: np.ndarray, src: np.ndarray | None, style: np.ndarray,
                 endmax: np.ndarray) -> None:
        self.lo, self.hi = lo, hi
        self.row, self.start, self.end, self.cat = row, start, end, cat
        self.weight, self.src, self.style, self.endmax = weight, src, style, endmax

    @classmethod
    def packed(cls, n_rows: int, row: np.ndarray, start: np.ndarray, end: np.ndarray, cat: np.ndarray,
               weight: np.ndarray, src: np.ndarray | None, style: np.ndarray) -> Layer:
        """Return the layer of items sorted by (row, start), one row after the other."""
        ptr = np.searchsorted(row, np.arange(n_rows + 1), side="left").astype(np.int64)
        return cls(ptr[:-1], ptr[1:], row, start, end, cat, weight, src, style, _running_max_per_row(end, ptr))

    def __len__(self) -> int:
        return int((self.hi - self.lo).sum())

    def positions(self) -> np.ndarray:
        """Return the positions of every item, in (row, start) order."""
        return _concat_ranges(self.lo, self.hi)

    def ranges(self, rows: np.ndarray, t_lo: int, t_hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Return, per row, the position range ``[lo, hi)`` of items that may touch ``[t_lo, t_hi]``."""
        lo = np.empty(len(rows), np.int64)
        hi = np.empty(len(rows), np.int64)
        row_lo, row_hi, endmax, start = self.lo, self.hi, self.endmax, self.start
        for k, r in enumerate(rows.tolist()):
            a, b = int(row_lo[r]), int(row_hi[r])
            lo[k] = a + int(np.searchsorted(endmax[a:b], t_lo, side="left"))
            hi[k] = a + int(np.searchsorted(start[a:b], t_hi, side="right"))
        return lo, np.maximum(hi, lo)

    def take(self, lo: np.ndarray, hi: np.ndarray) -> Items:
        """Return the items of the position ranges ``[lo, hi)``, concatenated."""
        pos = _concat_ranges(lo, hi)
        src = pos if self.src is None else self.src[pos]
        return Items(self.row[pos], self.start[pos], self.end[pos], self.cat[pos], self.weight[pos], src,
                     self.style[pos])


class _Store:
    """The raw layer's columns, shared by the indexes of one growing trace (see the module docstring).

    Row ``r`` owns positions ``[base[r], room[r])``; positions from ``used``
    on are free. Only the newest index (``version``) may be extended, and
    only past its rows' ends or into free space: what an index reads is
    never written again.
    """

    DTYPES = {"row": np.int64, "start": np.int64, "end": np.int64, "cat": np.int32, "weight": np.float64,
              "style": np.int8, "span": np.int64, "open": bool, "endmax": np.int64}

    def __init__(self, counts: np.ndarray) -> None:
        room = (counts * _ROOM).astype(np.int64) + _ROOM_MIN
        self.base = np.cumsum(room) - room
        self.room = self.base + room  # per row: the end of its region (for the newest index)
        self.used = int(room.sum())
        # As much again for rows that move: packing the rows into new columns costs O(spans) once the
        # moves wrote as many positions, so a move costs O(1) per span moved, amortized. Space never
        # written is not memory (the pages of a large array stay unmapped until written).
        self.capacity = 2 * self.used
        self.cols = {name: np.empty(self.capacity, dtype) for name, dtype in self.DTYPES.items()}
        self.version = 0
        self.style_names: tuple[int, int, np.ndarray] | None = None  # (names, lock category, style per name)

    def styles(self, trace: Trace) -> tuple[int, np.ndarray]:
        """Return the lock category and the drawing style of each name (``STYLE_*``; only lock spans use it)."""
        lock_cat = trace.cats.index(LOCK_CATEGORY) if LOCK_CATEGORY in trace.cats else -1
        cached = self.style_names
        if cached is None or cached[0] != len(trace.names) or cached[1] != lock_cat:
            kinds = {LOCK_WAIT: STYLE_WAIT, LOCK_HELD: STYLE_HELD}  # as ``Trace.locks`` names kinds
            table = np.array([kinds.get(name.partition(" ")[0], STYLE_PLAIN) for name in trace.names], np.int8)
            cached = self.style_names = (len(trace.names), lock_cat, table)
        return lock_cat, cached[2]

    def write(self, pos: np.ndarray, trace: Trace, spans: np.ndarray, rows: np.ndarray, t0_ns: int) -> None:
        """Write span rows ``spans`` of ``trace`` (drawn on ``rows``) at positions ``pos`` (``endmax`` aside)."""
        table = trace.spans
        cols = self.cols
        start = table.start_ns[spans] - t0_ns
        end = table.end_ns[spans] - t0_ns
        cat = table.cat[spans]
        lock_cat, style_of = self.styles(trace)
        cols["row"][pos] = rows
        cols["start"][pos] = start
        cols["end"][pos] = end
        cols["cat"][pos] = cat
        cols["weight"][pos] = np.maximum(end - start, 1)
        cols["style"][pos] = np.where(cat == lock_cat, style_of[table.name[spans]], STYLE_PLAIN) if len(style_of) else 0
        cols["span"][pos] = spans
        cols["open"][pos] = table.open[spans]


class RowIndex:
    """Every span of a trace placed on a drawing row; see the module docstring.

    ``order`` maps a raw layer position to its span row and ``open_by_pos``
    says whether that span is unfinished (both are indexed by position,
    positions outside the rows' ranges hold nothing of this index);
    ``span_row`` maps a span row to its drawing row.
    """

    def __init__(self, trace: Trace) -> None:
        spans = trace.spans
        n, n_lanes = len(spans), len(trace.lanes)
        self.t0_ns = trace.t0_ns
        self.end_ns = trace.end_ns
        self.duration_ns = max(1, trace.end_ns - trace.t0_ns)
        self.n_spans = n
        self.n_cats = len(trace.cats)
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
        self._band_rows, self._band_first = band_rows, band_first
        used = np.flatnonzero(band_rows.reshape(-1) > 0)  # the deepest row of each band must keep a span
        self._band_last = (self.lane_first_row[used // bands] + band_first.reshape(-1)[used]
                           + band_rows.reshape(-1)[used] - 1)
        row = self.lane_first_row[lane] + band_first[lane, sub] + depth if n else np.zeros(0, np.int64)
        # A stable sort of small integers is a radix sort in numpy: pick the narrowest type.
        narrow = np.int16 if self.n_rows < 2**15 else np.int32 if self.n_rows < 2**31 else np.int64
        row = row.astype(narrow)
        order = np.argsort(row, kind="stable")
        self.span_row = row  # drawing row of each span row
        counts = np.bincount(row, minlength=self.n_rows).astype(np.int64) if n else np.zeros(self.n_rows, np.int64)
        store = self._store = _Store(counts)
        ptr = np.concatenate(([0], np.cumsum(counts)))
        sorted_rows = row[order].astype(np.int64)
        pos = store.base[sorted_rows] + (np.arange(n, dtype=np.int64) - ptr[sorted_rows])
        store.write(pos, trace, order, sorted_rows, self.t0_ns)
        store.cols["endmax"][pos] = _running_max_per_row(store.cols["end"][pos], ptr)
        self._version = store.version
        self._publish(store.base, store.base + counts)

    def _publish(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Take the rows' ranges ``[lo, hi)`` of the store's columns as this index's raw layer."""
        cols = self._store.cols
        self.raw = Layer(lo, hi, cols["row"], cols["start"], cols["end"], cols["cat"], cols["weight"], None,
                         cols["style"], cols["endmax"])
        self.order = cols["span"]  # position -> span row
        self.open_by_pos = cols["open"]
        self._levels: OrderedDict[int, tuple[Layer, Layer]] = OrderedDict()
        # Levels of the index this one follows, with where they stop being valid (see ``_level_after``).
        self._carried: dict[int, tuple[tuple[Layer, Layer], int, np.ndarray, np.ndarray]] = {}

    @classmethod
    def following(cls, previous: RowIndex | None, trace: Trace, stable_rows: int) -> RowIndex:
        """Return the index of ``trace``, a later state of the growing trace that ``previous`` indexes.

        ``stable_rows``: how many span rows at the start of the table are the
        same as when ``previous`` was built (an unfinished span's end aside:
        it follows the trace's end). Complexity: O(spans from
        ``stable_rows`` on, plus the rows of lanes with an unfinished span
        whose end moved), amortized; a new lane, a deeper nesting or a
        change before ``stable_rows`` builds the index whole.
        """
        if previous is None or stable_rows <= 0:
            return cls(trace)
        index = cls.__new__(cls)
        return index if index._follow(previous, trace, stable_rows) else cls(trace)

    def _follow(self, previous: RowIndex, trace: Trace, stable_rows: int) -> bool:
        """Become ``previous`` advanced to ``trace`` (see ``following``); False when it must be built whole."""
        store = previous._store
        spans = trace.spans
        n = len(spans)
        first = min(stable_rows, previous.n_spans, n)
        band_rows = previous._band_rows
        if (store.version != previous._version or trace.t0_ns != previous.t0_ns or len(trace.cats) != previous.n_cats
                or len(trace.lanes) != len(previous.lane_rows)):
            return False
        lane = spans.lane[first:].astype(np.int64)
        sub = spans.sub_row[first:].astype(np.int64)
        depth = spans.depth[first:].astype(np.int64)
        if len(lane) and (int(sub.max()) >= band_rows.shape[1] or (depth >= band_rows[lane, sub]).any()):
            return False  # a deeper nesting or a new sub-row band: rows are numbered again
        tail_rows = previous.lane_first_row[lane] + previous._band_first[lane, sub] + depth
        span_row = np.concatenate((previous.span_row[:first], tail_rows.astype(previous.span_row.dtype)))
        lo, hi = previous.raw.lo, previous.raw.hi
        n_rows = previous.n_rows
        keep = (hi - lo) - np.bincount(previous.span_row[first:previous.n_spans], minlength=n_rows)
        # Unfinished spans end at the trace's end: their rows are written again whole when it moved.
        redo = np.zeros(n_rows, bool)
        if trace.end_ns != previous.end_ns:
            redo[span_row[np.flatnonzero(spans.open[:first])]] = True
        again = store.cols["span"][_concat_ranges(lo[redo], lo[redo] + keep[redo])] if redo.any() else np.zeros(0, np.int64)
        keep[redo] = 0
        items = np.concatenate((np.sort(again), np.arange(first, n, dtype=np.int64)))
        item_rows = span_row[items].astype(np.int64)
        by_row = np.argsort(item_rows, kind="stable")
        items, item_rows = items[by_row], item_rows[by_row]
        added = np.bincount(item_rows, minlength=n_rows).astype(np.int64)
        total = keep + added
        if len(previous._band_last) and (total[previous._band_last] == 0).any():
            return False  # a band lost its deepest span: rows are numbered again
        in_place = (keep == hi - lo) & (store.room >= lo + total)  # nothing replaced, and room after the row's end
        move = np.flatnonzero(~in_place & (added > 0))
        need = (total[move] * _ROOM).astype(np.int64) + _ROOM_MIN
        source = store
        if store.used + int(need.sum()) > store.capacity:  # no free space left: every row moves to new columns
            store = _Store(total)
            store.style_names = source.style_names
            move = np.arange(n_rows)
            new_lo = store.base.copy()
        else:
            new_lo = lo.copy()
            new_lo[move] = store.used + np.cumsum(need) - need
            store.used += int(need.sum())
            store.room[move] = new_lo[move] + need
        cols = store.cols
        if len(move):
            _copy_rows(source.cols, cols, lo[move], new_lo[move], keep[move])
        ptr = np.concatenate(([0], np.cumsum(added)))
        pos = new_lo[item_rows] + keep[item_rows] + (np.arange(len(items), dtype=np.int64) - ptr[item_rows])
        store.write(pos, trace, items, item_rows, previous.t0_ns)
        before = np.where(keep > 0, cols["endmax"][np.maximum(new_lo + keep - 1, 0)], np.iinfo(np.int64).min)
        cols["endmax"][pos] = np.maximum(_running_max_per_row(cols["end"][pos], ptr), before[item_rows])
        store.version = source.version + 1
        self._store, self._version = store, store.version
        self.t0_ns, self.end_ns = previous.t0_ns, trace.end_ns
        self.duration_ns = max(1, trace.end_ns - trace.t0_ns)
        self.n_spans, self.n_cats = n, previous.n_cats
        self.lane_rows, self.lane_first_row, self.n_rows = previous.lane_rows, previous.lane_first_row, n_rows
        self.row_lane, self.row_local = previous.row_lane, previous.row_local
        self._band_rows, self._band_first, self._band_last = band_rows, previous._band_first, previous._band_last
        self.span_row = span_row
        self._publish(new_lo, new_lo + total)
        # Rows from ``first`` on, old (replaced) and new, start no earlier than the last stable row.
        since_ns = int(spans.start_ns[first - 1]) - self.t0_ns if first > 0 else np.iinfo(np.int64).min // 2
        shift = new_lo - lo  # a moved row's items keep their order: the previous levels' items there point this far back
        self._carried = {k: (level, since_ns, redo, shift) for k, level in previous._levels.items()}
        return True

    def level(self, k: int) -> tuple[Layer, Layer]:
        """Return ``(long spans, buckets)`` of level ``k``: buckets ``2**k`` ns wide merge the spans shorter than four.

        A level serves pixels of ``2**k`` to ``2**(k+1)`` ns, so its long spans
        are always at least two pixels wide (drawn one by one) and only
        buckets need merging per column. An index from ``following`` takes
        the level of the index it follows, when that one had it, up to the
        first bucket that changed, and builds only the rest.
        """
        found = self._levels.get(k)
        if found is not None:
            self._levels.move_to_end(k)
            return found
        carried = self._carried.get(k)
        found = self._level_after(k, *carried) if carried is not None else self._level_items(k, self.raw.positions())
        self._levels[k] = found
        while len(self._levels) > _LEVELS_KEPT:
            self._levels.popitem(last=False)
        return found

    def _level_items(self, k: int, pos: np.ndarray) -> tuple[Layer, Layer]:
        """Return the level ``k`` of the raw items at positions ``pos`` (in (row, start) order)."""
        raw = self.raw
        row, start, end = raw.row[pos], raw.start[pos], raw.end[pos]
        long = (end - start) >= 4 * (1 << k)
        keep, short_at = np.flatnonzero(long), np.flatnonzero(~long)
        del long
        at = pos[keep]
        spans = Layer.packed(self.n_rows, row[keep], start[keep], end[keep], raw.cat[at], raw.weight[at], at,
                             raw.style[at])
        short = pos[short_at]
        row, start = row[short_at], start[short_at]
        del keep, short_at, at, end
        bucket = start >> k
        first = _run_starts(row, bucket)
        del bucket
        flags = np.zeros(len(short), bool)
        flags[first] = True
        run_id = np.cumsum(flags) - 1
        del flags
        cat, weight = dominant(run_id, len(first), raw.cat[short], raw.weight[short], self.n_cats)
        end = np.maximum.reduceat(raw.end[short], first) if len(first) else np.zeros(0, np.int64)
        buckets = Layer.packed(self.n_rows, row[first], start[first], end, cat, weight,
                               np.full(len(first), -1, np.int64), np.zeros(len(first), np.int8))
        return spans, buckets

    def _level_after(self, k: int, old: tuple[Layer, Layer], since_ns: int, redone: np.ndarray,
                     shift: np.ndarray) -> tuple[Layer, Layer]:
        """Return level ``k`` from the previous index's: its items before the bucket of ``since_ns``, then the rest built.

        Raw items that start before ``since_ns`` are the previous index's,
        in the same order, ``shift`` positions further per row (rows moved
        to other columns), except in the rows ``redone`` (written again):
        those rows are built whole.
        """
        cut = (since_ns >> k) << k  # buckets start on multiples of 2**k: the bucket of ``since_ns`` is built again
        raw = self.raw
        fresh = _concat_ranges(np.where(redone, raw.lo, _row_cuts(raw, cut)), raw.hi)
        parts = self._level_items(k, fresh)
        return (_joined(self.n_rows, old[0], parts[0], cut, redone, shift),
                _joined(self.n_rows, old[1], parts[1], cut, redone, shift))

    def span_at(self, row: int, t: float, tolerance_ns: float) -> int:
        """Return the span row drawn at time ``t`` (ns since start) on drawing row ``row``, or -1.

        A span containing ``t`` wins (the shortest, if several); otherwise the
        nearest one within ``tolerance_ns``.
        """
        if not 0 <= row < self.n_rows:
            return -1
        raw = self.raw
        a, b = int(raw.lo[row]), int(raw.hi[row])
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


def _row_cuts(layer: Layer, t: int) -> np.ndarray:
    """Return, per row of ``layer``, the position of its first item starting at ``t`` or later."""
    lo, hi, start = layer.lo, layer.hi, layer.start
    return np.array([a + int(np.searchsorted(start[a:b], t, side="left")) for a, b in zip(lo.tolist(), hi.tolist())],
                    np.int64).reshape(len(lo))


def _joined(n_rows: int, old: Layer, fresh: Layer, cut: int, redone: np.ndarray, shift: np.ndarray) -> Layer:
    """Return, per row, the items of ``old`` that start before ``cut`` (none in rows ``redone``) then those of ``fresh``.

    The raw positions (``src``) of the items kept move by their row's ``shift``.
    """
    keep = _concat_ranges(old.lo, np.where(redone, old.lo, _row_cuts(old, cut)))
    add = fresh.positions()
    row = np.concatenate((old.row[keep], fresh.row[add]))
    order = np.argsort(row, kind="stable")  # each row: the old items (earlier), then the new

    def both(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate((a[keep], b[add]))[order]

    src = None
    if old.src is not None and fresh.src is not None:
        kept = old.src[keep]
        kept = np.where(kept >= 0, kept + shift[old.row[keep]], kept)  # merged buckets (-1) point nowhere
        src = np.concatenate((kept, fresh.src[add]))[order]
    return Layer.packed(n_rows, row[order], both(old.start, fresh.start), both(old.end, fresh.end),
                        both(old.cat, fresh.cat), both(old.weight, fresh.weight), src, both(old.style, fresh.style))


def _copy_rows(source: dict[str, np.ndarray], target: dict[str, np.ndarray], lo: np.ndarray, new_lo: np.ndarray,
               count: np.ndarray) -> None:
    """Copy ``count[r]`` items of each row from ``source`` at ``lo[r]`` to ``target`` at ``new_lo[r]``, every column.

    Rows are copied as blocks (a memory copy each) while they are few: a
    gather through an index of every position costs several times more.
    """
    if len(lo) <= _BLOCK_COPY_ROWS:
        for a, b, n in zip(lo.tolist(), new_lo.tolist(), count.tolist()):
            if n:
                for name, column in target.items():
                    column[b : b + n] = source[name][a : a + n]
        return
    src = _concat_ranges(lo, lo + count)
    dst = _concat_ranges(new_lo, new_lo + count)
    for name, column in target.items():
        column[dst] = source[name][src]


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
