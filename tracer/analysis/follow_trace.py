"""A ``Trace`` that grows as a follower reads: rows merged incrementally, re-sorting only the tail.

The loader reads every file, then settles each process, sorts all spans and
lays them out once (``_build.Merger``). A follower cannot wait for the end:
it hands ``LiveTrace.add`` the rows each read produced (parsed by the
loader's own ``FileParser``), and ``commit`` merges them so that the trace is
at every moment the one ``load`` would build from the complete lines read so
far, column for column:

- Each span id of a process gets a stable *uid* when first seen; a finished
  row replaces the ``open`` row of the same id, a repeated finished row is
  dropped, as the loader does. Parent and mark references are kept as uids
  and resolved when the span they name arrives (children are written before
  their parents, which finish later).
- The span table stays sorted by (start, longer first, span id, later file
  first), the loader's order. New rows, and rows whose position may change,
  start at or after some time; only the rows from there on (the *tail*) are
  sorted again and rewritten. Spans are written when they finish, so the tail
  reaches back by the length of the longest span finished since the last
  commit.
- Depths and sub-rows of the tail follow from ``follow_layout``.
- Strings keep the loader's sorted codes and lanes its host > process > lane
  order; both are recoded across the table only when a new name or lane
  appears (rare once a service runs).
- Unfinished spans end at the trace's end, which moves with every commit;
  the few rows whose order or layout an end that moved could change are put
  back in the tail (see ``_end_moved``).

``commit`` and ``trace`` run on one thread (the consumer's). The trace they
return shares the table's arrays: it is valid until the next ``commit``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from functools import partial

import numpy as np
import numpy.ma  # ``np.unique`` imports it on first use (15-40 ms): here, not at the first write

from tracer.record.format import LOCK_CATEGORY

from ._buffer import Columns
from ._build import _labels
from ._columns import Interner
from ._file import FileData, FileParser, LaneInfo, Sinks
from ._scan import SpanScanner
from .attrs import AttrStore
from .follow_layout import LiveLayout
from .follow_rows import MARK_DTYPES, OPEN_DTYPES, SPAN_DTYPES, IdIndex, SegmentRows
from .follow_snapshot import SharedColumns
from .model import LaneTable, MarkTable, SpanTable, Trace, TraceFile
from .report import FileReport, LoadReport, Problems

_NONE = np.iinfo(np.int64).min
_LANE_TABLE = 1 << 16  # lane ids below this find their key through a table
# Rows reserved up front: address space, not memory (pages are mapped when written), so the
# columns are not copied to grow (a pause of milliseconds per growth) until a million spans.
_ROWS = 1 << 20


class _Segment:
    """One process of a followed file: its facts, ids and the references still waiting for their span."""

    def __init__(self, uid: int, rows: SegmentRows, offset_ns: int) -> None:
        self.uid = uid
        self.order = (rows.source, rows.report.segment)
        self.report = rows.report
        self.path = rows.path
        self.header = rows.header
        self.offset_ns = offset_ns
        self.clock_source = rows.clock_source
        self.lanes: dict[int, LaneInfo] = {}
        self.end_ns: int | None = None
        self.settled = True
        self.index = IdIndex()
        self.waiting_parents: list[tuple[np.ndarray, np.ndarray]] = []  # (child uids, parent ids)
        self.waiting_marks: list[tuple[np.ndarray, np.ndarray]] = []  # (mark uids, span ids)
        self.lane_table = np.zeros(0, np.int32)  # lane id -> lane key for small ids (-1: none yet)
        self.kept = 0  # spans kept (finished or unfinished)
        self.unfinished = 0
        self.duplicates = 0


@dataclass
class CommitStats:
    """What one ``commit`` merged."""

    spans: int = 0  # spans added (an unfinished span that finished is not counted again)
    finished: int = 0  # of them, or of earlier unfinished ones, that finished
    marks: int = 0
    relevant: int = 0  # spans and marks added or finished whose names the watched predicate accepts
    tail_rows: int = 0  # rows sorted again
    new_lanes: int = 0
    new_files: int = 0


@dataclass
class _Pending:
    spans: list[np.ndarray] = field(default_factory=list)  # uids to place (new, or finished since)
    marks: list[np.ndarray] = field(default_factory=list)
    upgraded: bool = False  # an unfinished span finished (its uid is in ``spans`` and maybe in the table)
    start_ns: int = np.iinfo(np.int64).max  # rows from here on are sorted again
    mark_ts_ns: int = np.iinfo(np.int64).max
    lanes: bool = False
    names: bool = False
    files: bool = False
    stats: CommitStats = field(default_factory=CommitStats)


class LiveTrace:
    """Rows merged into a trace as they are read; see the module docstring.

    Args:
        host_offsets_ns: clock offset per host, added to its times as they
            are merged (what ``Trace.with_host_offsets`` does for a loaded trace).
    """

    def __init__(self, host_offsets_ns: dict[str, int] | None = None) -> None:
        self.host_offsets_ns = dict(host_offsets_ns or {})
        self.report = LoadReport()
        self.problems = Problems(self.report, strict=False)
        self.reports: list[FileReport] = []  # every segment's report in the order parsers opened them
        self.names, self.cats = Interner(), Interner()
        self.store = AttrStore(partial(_attrs_problem, self.problems, self.reports), mapped=False)
        self.scanner = SpanScanner(self.names, self.cats)
        self._segments: list[_Segment] = []  # by uid
        self._by_key: dict[tuple[int, int], _Segment] = {}
        self._file_of: np.ndarray = np.zeros(0, np.int32)  # segment uid -> file index (order of the files)
        self._files: list[_Segment] = []  # in file order
        self._a = Columns({"start": np.int64, "end": np.int64, "open": bool, "name": np.int32, "cat": np.int32,
                           "key": np.int32, "span_id": np.uint64, "seg": np.int32, "error": bool,
                           "attrs_ref": np.int32, "parent": np.int64, "row": np.int64}, _ROWS)
        self._s = Columns({"uid": np.int64, "start": np.int64, "end": np.int64, "open": bool, "name": np.int32,
                           "cat": np.int32, "lane": np.int32, "depth": np.int32, "sub_row": np.int32,
                           "parent": np.int64, "span_id": np.uint64, "file": np.int32, "error": bool,
                           "attrs_ref": np.int32, "pdepth": np.int32, "clash": bool, "prev_same": np.int64, "key": np.int32,
                           "relevant": bool}, _ROWS)
        self._ma = Columns({"ts": np.int64, "key": np.int32, "name": np.int32, "cat": np.int32, "span": np.int64,
                            "seg": np.int32, "attrs_ref": np.int32}, _ROWS // 8)
        self._ms = Columns({"muid": np.int64, "ts": np.int64, "lane": np.int32, "name": np.int32, "cat": np.int32,
                            "span": np.int64, "file": np.int32, "attrs_ref": np.int32, "relevant": bool}, _ROWS // 8)
        self._errors: dict[int, tuple[str, str]] = {}  # uid -> error
        self._row_errors: dict[int, tuple[str, str]] = {}  # row -> error
        self._open: set[int] = set()  # uids of unfinished spans
        self._volatile: set[int] = set()  # unfinished uids whose order or depth a moving end may change
        self._max_end = _NONE  # latest end of a finished span ...
        self._at_max_end: list[int] = []  # ... and the uids that end there
        self._end_ns = _NONE  # the trace's end
        self._file_end_ns = _NONE
        self._lane_keys: list[tuple[int, int]] = []  # lane key -> (segment uid, lane id)
        self._lane_key_of: dict[tuple[int, int], int] = {}
        self._lane_uses = np.zeros(64, np.int64)  # rows (spans kept and marks) per lane key
        self._lane_row = np.zeros(0, np.int32)  # lane key -> lane table row (-1 when not in it)
        self._lanes: LaneTable | None = None
        self._lane_keys_shown: list[int] = []
        self._hosts: list[str] = []
        self._names_sorted: list[str] = []
        self._name_rank = np.zeros(0, np.int32)
        self._cats_sorted: list[str] = []
        self._cat_rank = np.zeros(0, np.int32)
        self._spawner_uid: dict[tuple[int, int], int] = {}  # (lane key, spawner's span id) -> uid, once known
        self._relevant_name: Callable[[str], bool] | None = None
        self._relevant_code = np.zeros(0, bool)
        self._layout = LiveLayout()
        self._stable_rows = 0  # span rows unchanged since ``take_stable_rows`` (an unfinished span's end aside)
        self._span_snapshots = SharedColumns()
        self._mark_snapshots = SharedColumns()
        # Rows unchanged since the last ``snapshot``, but for the columns named (an unfinished span's
        # end, which follows the trace's end; a mark's span, whose row moves with the tail).
        self._snap_spans_stable, self._snap_spans_changed = 0, set[str]()
        self._snap_marks_stable, self._snap_marks_changed = 0, set[str]()
        self._pending = _Pending()
        self._trace: Trace | None = None

    # --- reading ------------------------------------------------------------------------------
    def parser(self, path: str, sinks: Sinks, emit: Callable[[FileData], None]) -> FileParser:
        """Return a ``FileParser`` for one followed file, sharing this trace's strings, attributes and report."""
        return FileParser(path, sinks, names=self.names, cats=self.cats, store=self.store, problems=self.problems,
                          emit=emit, reports=self.reports, scanner=self.scanner)

    @staticmethod
    def sinks() -> Sinks:
        """Return empty columns for one parser (small: a follower's reads are)."""
        return Sinks(
            spans=Columns({**SPAN_DTYPES}, 4096), opens=Columns({**OPEN_DTYPES}, 256),
            marks=Columns({**MARK_DTYPES}, 256),
        )

    def watch(self, relevant_name: Callable[[str], bool]) -> None:
        """Flag spans and marks whose names ``relevant_name`` accepts (and lock spans); ``CommitStats.relevant`` counts them."""
        self._relevant_name = relevant_name
        self._relevant_code = np.zeros(0, bool)
        self._pending.names = True

    @staticmethod
    def name_matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
        """Return a predicate accepting names that match any of the glob ``patterns``."""
        exact = {p for p in patterns if not any(ch in p for ch in "*?[")}
        globs = [p for p in patterns if p not in exact]
        return lambda name: name in exact or any(fnmatch.fnmatchcase(name, g) for g in globs)

    # --- merging ------------------------------------------------------------------------------
    def add(self, rows: SegmentRows) -> None:
        """Take the rows of one read (call ``commit`` to merge them into the table)."""
        seg = self._segment(rows)
        pending = self._pending
        if rows.lanes != seg.lanes:
            pending.lanes = True  # a lane was named or renamed
            for lane in rows.lanes:
                self._lane_key(seg, lane)
        seg.lanes = rows.lanes
        seg.end_ns = rows.end_ns
        seg.settled = rows.settled
        seg.path = rows.path
        if rows.end_ns is not None:
            self._file_end_ns = max(self._file_end_ns, rows.end_ns + seg.offset_ns)
        self._add_spans(seg, rows.spans, rows.span_errors, finished=True)
        self._add_spans(seg, rows.opens, {}, finished=False)
        self._add_marks(seg, rows.marks)
        self._resolve(seg)

    def _segment(self, rows: SegmentRows) -> _Segment:
        key = (rows.source, rows.report.segment)
        seg = self._by_key.get(key)
        if seg is not None:
            return seg
        host = rows.report.host
        seg = _Segment(len(self._segments), rows, rows.clock_offset_ns + self.host_offsets_ns.get(host, 0))
        self._segments.append(seg)
        self._by_key[key] = seg
        if max(self._segments, key=lambda s: s.order) is not seg:
            # Files after it in the follower's order are renumbered; ties in the order break
            # by file, so sort everything again (a new process in an earlier file is rare).
            self._pending.start_ns = self._pending.mark_ts_ns = _NONE
        self._pending.files = True
        self._pending.stats.new_files += 1
        return seg

    def _lane_key(self, seg: _Segment, lane: int) -> int:
        key = self._lane_key_of.get((seg.uid, lane))
        if key is None:
            key = self._lane_key_of[(seg.uid, lane)] = len(self._lane_keys)
            self._lane_keys.append((seg.uid, lane))
            self._pending.lanes = True
            if key >= len(self._lane_uses):
                grown = np.zeros(2 * len(self._lane_uses), np.int64)
                grown[: len(self._lane_uses)] = self._lane_uses
                self._lane_uses = grown
        return key

    def _lane_keys_of(self, seg: _Segment, lanes: np.ndarray) -> np.ndarray:
        """Return the lane key of each lane id of ``seg`` (small ids through a table, the others one by one)."""
        if not len(lanes):
            return np.zeros(0, np.int32)
        table = seg.lane_table
        if int(lanes.max()) < _LANE_TABLE:
            keys = table[lanes] if len(table) > int(lanes.max()) else np.full(len(lanes), -1, np.int32)
            if keys.min() >= 0:
                return keys
            for lane in np.unique(lanes[keys < 0]).tolist():
                key = self._lane_key(seg, lane)
                if lane >= len(seg.lane_table):
                    grown = np.full(max(lane + 1, 2 * len(seg.lane_table), 16), -1, np.int32)
                    grown[: len(seg.lane_table)] = seg.lane_table
                    seg.lane_table = grown
                seg.lane_table[lane] = key
            return np.asarray(seg.lane_table[lanes])
        distinct, inverse = np.unique(lanes, return_inverse=True)
        found = np.array([self._lane_key(seg, int(lane)) for lane in distinct.tolist()], np.int32)
        return found[inverse]

    def _add_spans(self, seg: _Segment, cols: dict[str, np.ndarray], errors: dict[int, tuple[str, str]], *, finished: bool) -> None:
        ids = cols["id"]
        if len(ids) == 0:
            return
        a, pending = self._a, self._pending
        if seg.index.all_new(ids) and _distinct(ids):
            self._add_new_spans(seg, cols, errors, finished)  # the usual case: every id seen for the first time
            return
        known = seg.index.lookup(ids)
        if known.max() < 0 and _distinct(ids):
            self._add_new_spans(seg, cols, errors, finished)
            return
        _, first = np.unique(ids, return_index=True)
        is_first = np.zeros(len(ids), bool)
        is_first[first] = True
        new = is_first & (known < 0)
        if finished:
            upgrade = is_first & (known >= 0)
            upgrade[upgrade] = a["open"][known[upgrade]]
        else:
            upgrade = np.zeros(len(ids), bool)
        if finished:
            seg.duplicates += int((~new & ~upgrade).sum())
            self._count_duplicates(seg)
        keys = self._lane_keys_of(seg, cols["lane"])
        start = cols["start_ns"] + seg.offset_ns
        end = cols["end_ns"] + seg.offset_ns if finished else np.zeros(len(ids), np.int64)
        name, cat, refs = cols["name"], cols["cat"], cols["attrs_ref"]
        n_new = int(new.sum())
        uids = np.empty(len(ids), np.int64)
        uids[new] = np.arange(a.size, a.size + n_new)
        a.append({
            "start": start[new], "end": end[new], "open": np.full(n_new, not finished), "name": name[new],
            "cat": cat[new], "key": keys[new], "span_id": ids[new], "seg": np.full(n_new, seg.uid, np.int32),
            "error": np.zeros(n_new, bool), "attrs_ref": refs[new], "parent": np.full(n_new, -1, np.int64),
            "row": np.full(n_new, -1, np.int64),
        })
        seg.index.add(ids[new], uids[new])
        seg.kept += n_new
        self._use(keys[new], 1)
        if upgrade.any():
            up = known[upgrade]
            uids[upgrade] = up
            self._use(a["key"][up], -1)
            self._use(keys[upgrade], 1)
            placed = a["row"][up]
            if (placed >= 0).any():
                pending.start_ns = min(pending.start_ns, int(self._s["start"][placed[placed >= 0]].min()))
            for column, values in (("start", start), ("end", end), ("name", name), ("cat", cat), ("key", keys),
                                   ("attrs_ref", refs)):
                a[column][up] = values[upgrade]
            a["open"][up] = False
            for uid in up.tolist():
                self._open.discard(uid)
                self._volatile.discard(uid)
            seg.unfinished -= len(up)
            pending.stats.finished += len(up)
            pending.upgraded = True
        if not finished:
            self._open.update(uids[new].tolist())
            seg.unfinished += n_new
        kept = new | upgrade
        kept_uids = uids[kept]
        for position, error in errors.items():
            if kept[position]:
                self._errors[int(uids[position])] = error
                a["error"][uids[position]] = True
        if finished and kept.any():
            ends = end[kept]
            latest = int(ends.max())
            if latest > self._max_end:
                self._max_end, self._at_max_end = latest, []
            if latest == self._max_end:
                self._at_max_end.extend(kept_uids[ends == latest].tolist())
        parents = cols["parent"][kept]
        a["parent"][kept_uids] = -1
        seg.waiting_parents.append((kept_uids, parents))
        pending.spans.append(kept_uids)
        if len(kept_uids):
            pending.start_ns = min(pending.start_ns, int(start[kept].min()))
        pending.stats.spans += n_new

    def _add_new_spans(self, seg: _Segment, cols: dict[str, np.ndarray], errors: dict[int, tuple[str, str]],
                       finished: bool) -> None:
        """Take rows whose span ids are all new and distinct (what a recorder writes): ``_add_spans`` without masks."""
        a, pending = self._a, self._pending
        ids = cols["id"]
        n = len(ids)
        keys = self._lane_keys_of(seg, cols["lane"])
        start = cols["start_ns"] + seg.offset_ns
        end = cols["end_ns"] + seg.offset_ns if finished else np.zeros(n, np.int64)
        first_uid = a.size
        uids = np.arange(first_uid, first_uid + n, dtype=np.int64)
        a.append({"start": start, "end": end, "name": cols["name"], "cat": cols["cat"], "key": keys, "span_id": ids,
                  "attrs_ref": cols["attrs_ref"]},
                 fill={"open": not finished, "seg": seg.uid, "error": False, "parent": -1, "row": -1})
        seg.index.add(ids, uids)
        seg.kept += n
        self._use(keys, 1)
        if finished:
            for position, error in errors.items():
                self._errors[first_uid + position] = error
                a["error"][first_uid + position] = True
            latest = int(end.max())
            if latest > self._max_end:
                self._max_end, self._at_max_end = latest, []
            if latest == self._max_end:
                self._at_max_end.extend(uids[end == latest].tolist())
        else:
            self._open.update(range(first_uid, first_uid + n))
            seg.unfinished += n
        seg.waiting_parents.append((uids, cols["parent"]))
        pending.spans.append(uids)
        pending.start_ns = min(pending.start_ns, int(start.min()))
        pending.stats.spans += n

    def _use(self, keys: np.ndarray, delta: int) -> None:
        """Count rows in lanes; a lane that gains its first row or loses its last one changes the lane table."""
        if not len(keys):
            return
        counts = np.bincount(keys, minlength=len(self._lane_uses))
        touched = counts > 0
        before = self._lane_uses > 0
        self._lane_uses += counts * delta
        if (before[touched] != (self._lane_uses[touched] > 0)).any():
            self._pending.lanes = True

    def _count_duplicates(self, seg: _Segment) -> None:
        seg.report.duplicate_spans = seg.duplicates

    def _add_marks(self, seg: _Segment, cols: dict[str, np.ndarray]) -> None:
        n = len(cols["ts_ns"])
        if not n:
            return
        ma = self._ma
        keys = self._lane_keys_of(seg, cols["lane"])
        muids = np.arange(ma.size, ma.size + n)
        ts = cols["ts_ns"] + seg.offset_ns
        ma.append({"ts": ts, "key": keys, "name": cols["name"], "cat": cols["cat"], "span": np.full(n, -1, np.int64),
                   "seg": np.full(n, seg.uid, np.int32), "attrs_ref": cols["attrs_ref"]})
        self._use(keys, 1)
        seg.waiting_marks.append((muids, cols["span"]))
        self._pending.marks.append(muids)
        self._pending.mark_ts_ns = min(self._pending.mark_ts_ns, int(ts.min()))
        self._pending.stats.marks += n

    def _resolve(self, seg: _Segment) -> None:
        """Link the parents and marks that were waiting for spans of ``seg`` that are now known."""
        for attr, column in (("waiting_parents", self._a["parent"]), ("waiting_marks", self._ma["span"])):
            waiting = getattr(seg, attr)
            if not waiting:
                continue
            owners = np.concatenate([w[0] for w in waiting]) if len(waiting) > 1 else waiting[0][0]
            ids = np.concatenate([w[1] for w in waiting]) if len(waiting) > 1 else waiting[0][1]
            found = seg.index.lookup(ids)
            known = found >= 0
            linked = owners[known]
            column[linked] = found[known]
            rest = ~known & (ids != 0)
            setattr(seg, attr, [(owners[rest], ids[rest])] if rest.any() else [])
            if attr == "waiting_parents" and len(linked):
                # A parent that arrived after its children: they start no earlier, so they are in the tail.
                placed = self._a["row"][linked]
                placed = placed[placed >= 0]
                if len(placed):
                    self._pending.start_ns = min(self._pending.start_ns, int(self._s["start"][placed].min()))

    # --- commit -------------------------------------------------------------------------------
    def commit(self) -> CommitStats:
        """Merge what ``add`` took into the table; return what changed. Complexity: O(tail log tail), plus O(n) when a name, lane or file is new."""
        pending, self._pending = self._pending, _Pending()
        a, s, ms = self._a, self._s, self._ms
        new_spans = _joined(pending.spans)
        new_marks = _joined(pending.marks)
        n_old = s.size
        stats = pending.stats
        recoded = self._strings(pending)
        if pending.lanes or pending.files:
            stats.new_lanes = self._lane_table()
            recoded = True
        old_end = self._end_ns
        self._end_ns = max(self._end_ns, self._latest(new_spans, new_marks))
        start_ns = pending.start_ns
        if self._end_ns != old_end and self._open and n_old:
            start_ns = min(start_ns, self._end_moved(old_end))
        first = int(np.searchsorted(s["start"][:n_old], start_ns, side="left")) if start_ns > _NONE else 0
        tail = np.concatenate([s["uid"][first:n_old], new_spans]) if first < n_old else new_spans
        if pending.upgraded:  # a finished span replacing its unfinished row is in the table already
            tail = np.unique(tail)
        stats.tail_rows = len(tail)
        columns = s.arrays
        self._layout.drop_tail(first, n_old, columns)
        if len(tail):
            tail = tail[self._tail_order(tail)]
        size = first + len(tail)
        s.reserve(size)
        columns = s.arrays
        self._write_tail(first, size, tail)
        s.size = size
        if self._end_ns != old_end and self._open:
            open_rows = a["row"][np.fromiter(self._open, np.int64, len(self._open))]
            columns["end"][open_rows] = self._end_ns
            self._snap_spans_changed.add("end_ns")
        self._layout.place(first, size, columns, self._end_ns)
        self._stable_rows = 0 if recoded else min(self._stable_rows, first, self._layout.changed_from)
        self._snap_spans_stable = 0 if recoded else min(self._snap_spans_stable, first, self._layout.changed_from)
        self._note_volatile(first, size)
        for row in [r for r in self._row_errors if r >= first]:
            del self._row_errors[row]
        erred = np.flatnonzero(columns["error"][first:size]) + first
        for row, uid in zip(erred.tolist(), columns["uid"][erred].tolist()):
            self._row_errors[row] = self._errors[uid]
        first_mark = self._merge_marks(pending, new_marks)
        self._snap_marks_stable = 0 if recoded else min(self._snap_marks_stable, first_mark)
        if ms.size and (len(tail) or len(new_marks)):  # rows moved or arrived (a mark's span may be one), or marks
            span = _through(self._ma["span"][ms["muid"][: ms.size]], a["row"])
            if (span[: self._snap_marks_stable] != ms["span"][: self._snap_marks_stable]).any():
                self._snap_marks_changed.add("span")
            ms["span"][: ms.size] = span
        stats.relevant = self._count_relevant(new_spans, new_marks)
        self._trace = None
        return stats

    def _tail_order(self, tail: np.ndarray) -> np.ndarray:
        """Return the order of the uids ``tail`` in the table: start, longer first, span id, later file first."""
        a = self._a
        end = np.where(a["open"][tail], self._end_ns, a["end"][tail])
        if len(self._segments) == 1:  # one file: no ties between files to break
            return np.lexsort((a["span_id"][tail], -end, a["start"][tail]))
        file = self._file_of[a["seg"][tail]]
        return np.lexsort((-file.astype(np.int64), a["span_id"][tail], -end, a["start"][tail]))

    def _latest(self, uids: np.ndarray, marks: np.ndarray) -> int:
        a = self._a
        latest = self._file_end_ns
        if len(uids):
            latest = max(latest, int(a["start"][uids].max()))
            done = uids[~a["open"][uids]]
            if len(done):
                latest = max(latest, int(a["end"][done].max()))
        if len(marks):
            latest = max(latest, int(self._ma["ts"][marks].max()))
        return latest

    def _end_moved(self, old_end: int) -> int:
        """Return the earliest start of rows whose order or layout depends on the trace's previous end.

        Unfinished spans end at the trace's end: comparisons between them and
        a start or a finished end equal to the old end change when it moves.
        Those are the rows that start at the old end, the finished spans
        ending there, and the unfinished spans that tie with another row's
        start or hang under a finished parent in their lane (``_volatile``).
        """
        a = self._a
        starts = [old_end]
        if self._max_end == old_end and self._at_max_end:
            starts.append(int(a["start"][np.array(self._at_max_end, np.int64)].min()))
        if self._volatile:
            starts.append(int(a["start"][np.fromiter(self._volatile, np.int64, len(self._volatile))].min()))
        return min(starts)

    def _note_volatile(self, first: int, size: int) -> None:
        s = self._s.arrays
        self._note_volatile_swept(s)
        rows = np.flatnonzero(s["open"][first:size]) + first
        if not len(rows):
            return
        start = s["start"]
        tied = ((rows > 0) & (start[np.maximum(rows - 1, 0)] == start[rows])) | (
            (rows + 1 < size) & (start[np.minimum(rows + 1, size - 1)] == start[rows]))
        parent = s["parent"][rows]
        safe = np.maximum(parent, 0)
        under_finished = (parent >= 0) & ~s["open"][safe] & (s["key"][safe] == s["key"][rows])
        self._volatile.update(s["uid"][rows[tied | under_finished]].tolist())

    def _note_volatile_swept(self, s: dict[str, np.ndarray]) -> None:
        """Unfinished spans in a swept lane: their sub-row and depth depend on where their end falls.

        A lane becomes swept after its unfinished spans may have arrived, so
        every unfinished span is looked at, not only the new rows (there are few).
        """
        swept = self._layout.swept
        if not swept or not self._open:
            return
        uids = np.fromiter(self._open, np.int64, len(self._open))
        in_swept = np.isin(s["key"][self._a["row"][uids]], np.fromiter(swept, np.int64, len(swept)))
        self._volatile.update(uids[in_swept].tolist())

    def _write_tail(self, first: int, size: int, tail: np.ndarray) -> None:
        a, columns = self._a, self._s.arrays
        rows = slice(first, size)
        a["row"][tail] = np.arange(first, size, dtype=np.int64)
        is_open = a["open"][tail]
        columns["uid"][rows] = tail
        columns["start"][rows] = a["start"][tail]
        columns["end"][rows] = np.where(is_open, self._end_ns, a["end"][tail])
        columns["open"][rows] = is_open
        names, cats, keys = a["name"][tail], a["cat"][tail], a["key"][tail]
        columns["name"][rows] = self._name_rank[names]
        columns["cat"][rows] = self._cat_rank[cats]
        columns["key"][rows] = keys
        columns["lane"][rows] = self._lane_row[keys]
        columns["span_id"][rows] = a["span_id"][tail]
        columns["file"][rows] = self._file_of[a["seg"][tail]]
        columns["error"][rows] = a["error"][tail]
        columns["attrs_ref"][rows] = a["attrs_ref"][tail]
        parent = _through(a["parent"][tail], a["row"])
        parent[parent >= np.arange(first, size)] = -1  # as the loader: links to later rows are dropped
        columns["parent"][rows] = parent
        relevant = self._relevant_code[names] if len(self._relevant_code) else np.zeros(len(tail), bool)
        columns["relevant"][rows] = relevant | (cats == self._lock_cat())

    def _lock_cat(self) -> int:
        return self.cats.index.get(LOCK_CATEGORY, -2)

    def _merge_marks(self, pending: _Pending, new: np.ndarray) -> int:
        """Sort the marks from the earliest new one on again; return the first row written."""
        ms, ma = self._ms, self._ma
        old = ms.size
        first = int(np.searchsorted(ms["ts"][:old], pending.mark_ts_ns, side="left")) if pending.mark_ts_ns > _NONE else 0
        if first >= old and not len(new):
            return old
        tail = np.concatenate([ms["muid"][first:old], new])
        if len(tail):
            file = self._file_of[ma["seg"][tail]]
            tail = tail[np.lexsort((tail, file, ma["ts"][tail]))]
        size = first + len(tail)
        ms.reserve(size)
        rows = slice(first, size)
        ms["muid"][rows] = tail
        ms["ts"][rows] = ma["ts"][tail]
        names = ma["name"][tail]
        ms["name"][rows] = self._name_rank[names]
        ms["cat"][rows] = self._cat_rank[ma["cat"][tail]]
        ms["lane"][rows] = self._lane_row[ma["key"][tail]]
        ms["file"][rows] = self._file_of[ma["seg"][tail]]
        ms["attrs_ref"][rows] = ma["attrs_ref"][tail]
        ms["relevant"][rows] = self._relevant_code[names] if len(self._relevant_code) else False
        ms.size = size
        return first

    def _count_relevant(self, uids: np.ndarray, marks: np.ndarray) -> int:
        if not len(self._relevant_code):
            return 0
        a = self._a
        count = int((self._relevant_code[a["name"][uids]] | (a["cat"][uids] == self._lock_cat())).sum()) if len(uids) else 0
        if len(marks):
            count += int(self._relevant_code[self._ma["name"][marks]].sum())
        return count

    def _strings(self, pending: _Pending) -> bool:
        """Sort new names and categories, recoding the table when they change its codes; return whether it did."""
        recoded = False
        for attr, interner, columns in (("name", self.names, ("name",)), ("cat", self.cats, ("cat",))):
            rank_attr, sorted_attr = f"_{attr}_rank", f"_{attr}s_sorted"
            old_rank: np.ndarray = getattr(self, rank_attr)
            if len(interner.values) == len(old_rank):
                continue
            values = list(interner.values)
            order = sorted(range(len(values)), key=values.__getitem__)
            rank = np.empty(len(values), np.int32)
            rank[order] = np.arange(len(values), dtype=np.int32)
            setattr(self, rank_attr, rank)
            setattr(self, sorted_attr, [values[k] for k in order])
            if len(old_rank):  # recode what the table holds: old sorted code -> arrival -> new sorted code
                recode = np.empty(len(old_rank), np.int32)
                recode[old_rank] = rank[: len(old_rank)]
                for table in (self._s, self._ms):
                    for column in columns:
                        codes = table[column][: table.size]
                        codes[:] = recode[codes]
                recoded = True
        if self._relevant_name is not None and len(self._relevant_code) < len(self.names.values):
            known = len(self._relevant_code)
            more = np.array([self._relevant_name(v) for v in self.names.values[known:]], bool)
            self._relevant_code = np.concatenate([self._relevant_code, more])
            if known == 0 and self._s.size:  # watching began after rows were merged
                s, ms = self._s, self._ms
                arrival = self._a["name"][s["uid"][: s.size]]
                s["relevant"][: s.size] = self._relevant_code[arrival] | (self._a["cat"][s["uid"][: s.size]] == self._lock_cat())
                ms["relevant"][: ms.size] = self._relevant_code[self._ma["name"][ms["muid"][: ms.size]]]
        return recoded

    def _lane_table(self) -> int:
        """Build the lane table (host > process > lane); recode the table's lanes and files. Return new lanes."""
        self._files = sorted(self._segments, key=lambda seg: seg.order)
        old_file = self._file_of
        self._file_of = np.zeros(len(self._segments), np.int32)
        for index, seg in enumerate(self._files):
            self._file_of[seg.uid] = index
        keys: list[tuple[str, str, int, int, int, int]] = []
        for lane_key, (seg_uid, lane) in enumerate(self._lane_keys):
            seg = self._segments[seg_uid]
            if lane in seg.lanes or self._lane_uses[lane_key] > 0:
                report = seg.report
                keys.append((report.host, report.process, report.pid, int(self._file_of[seg_uid]), lane, lane_key))
        keys.sort()
        before = len(self._lane_keys_shown)
        self._hosts = sorted({seg.report.host for seg in self._segments})
        host_rows = {host: row for row, host in enumerate(self._hosts)}
        infos = [self._segments[self._lane_keys[k[5]][0]].lanes.get(k[4], LaneInfo()) for k in keys]
        lane_row = np.full(len(self._lane_keys), -1, np.int32)
        lane_row[[k[5] for k in keys]] = np.arange(len(keys), dtype=np.int32)
        self._lane_row = lane_row
        self._lane_keys_shown = [k[5] for k in keys]
        label_keys = [(k[0], k[1], k[2], k[3], k[4]) for k in keys]
        self._lanes = LaneTable(
            lane_id=np.array([k[4] for k in keys], np.int64),
            file=np.array([k[3] for k in keys], np.int32),
            host=np.array([host_rows[k[0]] for k in keys], np.int32),
            pid=np.array([k[2] for k in keys], np.int64),
            native_id=np.array([info.native_id for info in infos], np.int64),
            spawned_by=np.zeros(len(keys), np.int64),
            process=[k[1] for k in keys],
            kind=[info.kind for info in infos],
            name=[info.name for info in infos],
            label=_labels(label_keys, infos),
        )
        s, ms = self._s, self._ms
        s["lane"][: s.size] = lane_row[s["key"][: s.size]]
        ms["lane"][: ms.size] = lane_row[self._ma["key"][ms["muid"][: ms.size]]]
        if not np.array_equal(old_file, self._file_of[: len(old_file)]):
            s["file"][: s.size] = self._file_of[self._a["seg"][s["uid"][: s.size]]]
            ms["file"][: ms.size] = self._file_of[self._ma["seg"][ms["muid"][: ms.size]]]
        return max(0, len(keys) - before)

    # --- the trace ----------------------------------------------------------------------------
    def trace(self) -> Trace:
        """Return the trace as of the last ``commit`` (shares this table's arrays: valid until the next commit)."""
        if self._trace is not None:
            return self._trace
        s, ms = self._s, self._ms
        n, m = s.size, ms.size
        spans = SpanTable(
            start_ns=s["start"][:n], end_ns=s["end"][:n], open=s["open"][:n], name=s["name"][:n], cat=s["cat"][:n],
            lane=s["lane"][:n], depth=s["depth"][:n], sub_row=s["sub_row"][:n], parent=s["parent"][:n],
            span_id=s["span_id"][:n], file=s["file"][:n], error=s["error"][:n], attrs_ref=s["attrs_ref"][:n],
        )
        marks = MarkTable(ts_ns=ms["ts"][:m], lane=ms["lane"][:m], name=ms["name"][:m], cat=ms["cat"][:m],
                          span=ms["span"][:m], file=ms["file"][:m], attrs_ref=ms["attrs_ref"][:m])
        lanes = self._lanes if self._lanes is not None else _empty_lanes()
        lanes = replace(lanes, spawned_by=self._spawners())
        files = [self._trace_file(seg) for seg in self._files]
        firsts = [int(column[0]) for column in (spans.start_ns, marks.ts_ns) if len(column)]  # both sorted
        self._trace = Trace(spans=spans, marks=marks, lanes=lanes, files=files, names=self._names_sorted,
                            cats=self._cats_sorted, hosts=self._hosts, store=self.store, errors=dict(self._row_errors),
                            host_offsets_ns=self.host_offsets_ns, bounds_ns=(min(firsts, default=0), self.end_ns))
        return self._trace

    def take_stable_rows(self) -> int:
        """Return how many span rows at the start of the table are as they were at the last call.

        Those rows kept every column (an unfinished span's end aside: it is
        the trace's end, which moves); the rows after them may have moved,
        changed or be new. Readers that keep something derived from the
        rows (the viewer's row index) update only what comes after. The
        first call returns 0.
        """
        stable, self._stable_rows = self._stable_rows, self._s.size
        return min(stable, self._s.size)

    def snapshot(self) -> Trace:
        """Return the trace as of the last ``commit``, with columns that never change (the follower's go on).

        For readers that keep a trace while the follower goes on (a viewer
        drawing it, a background search or export). Snapshots share their
        unchanged rows (``follow_snapshot``). Complexity: O(rows changed
        since the last snapshot), amortized; O(n) per column whose older
        rows changed (a new name or lane, unfinished spans whose end moved).
        """
        trace = self.trace()
        spans = SpanTable(**self._span_snapshots.publish(
            {f.name: getattr(trace.spans, f.name) for f in fields(trace.spans)}, len(trace.spans),
            self._snap_spans_stable, self._snap_spans_changed))
        marks = MarkTable(**self._mark_snapshots.publish(
            {f.name: getattr(trace.marks, f.name) for f in fields(trace.marks)}, len(trace.marks),
            self._snap_marks_stable, self._snap_marks_changed))
        self._snap_spans_stable, self._snap_spans_changed = len(spans), set()
        self._snap_marks_stable, self._snap_marks_changed = len(marks), set()
        return Trace(spans=spans, marks=marks, lanes=trace.lanes, files=list(trace.files), names=list(trace.names),
                     cats=list(trace.cats), hosts=list(trace.hosts), store=trace.store, errors=dict(self._row_errors),
                     host_offsets_ns=trace.host_offsets_ns, bounds_ns=(trace.t0_ns, trace.end_ns))

    def load_report(self) -> LoadReport:
        """Return the report of what was read so far (the follower's counterpart of ``load``'s report)."""
        report = self.report
        report.files = [seg.report for seg in self._files]
        for seg in self._files:
            seg.report.spans, seg.report.unfinished = seg.kept, seg.unfinished
        for seg in self._files:
            seg.report.lanes = sum(1 for k in self._lane_keys_shown if self._lane_keys[k][0] == seg.uid)
        report.spans, report.marks = self._s.size, self._ms.size
        report.lanes = len(self._lane_keys_shown)
        report.hosts = list(self._hosts)
        report.unfinished = len(self._open)
        notes = [note for note in report.notes if "lanes hold spans that overlap" not in note]
        if self._layout.lanes_swept:
            notes.append(f"{self._layout.lanes_swept} lanes hold spans that overlap without nesting; they were laid out on sub-rows")
        report.notes = notes
        return report

    def _spawners(self) -> np.ndarray:
        """Return the row of the span that started each lane (-1 unknown); spawner uids are found once."""
        uids = np.full(len(self._lane_keys_shown), -1, np.int64)
        for row, lane_key in enumerate(self._lane_keys_shown):
            seg_uid, lane = self._lane_keys[lane_key]
            seg = self._segments[seg_uid]
            info = seg.lanes.get(lane)
            if info is None or not info.spawned_by:
                continue
            found = self._spawner_uid.get((lane_key, info.spawned_by))
            if found is None:
                found = int(seg.index.lookup(np.array([info.spawned_by], np.uint64))[0])
                if found >= 0:
                    self._spawner_uid[(lane_key, info.spawned_by)] = found
            uids[row] = found
        return _through(uids, self._a["row"])

    def _trace_file(self, seg: _Segment) -> TraceFile:
        report = seg.report
        return TraceFile(
            path=report.path, segment=report.segment, first_line=report.first_line, host=report.host,
            pid=report.pid, process=report.process, version=report.version,
            clock_offset_ns=seg.offset_ns - self.host_offsets_ns.get(report.host, 0), clock_source=seg.clock_source,
            end_ns=None if seg.end_ns is None else seg.end_ns + seg.offset_ns - self.host_offsets_ns.get(report.host, 0),
            header=seg.header,
        )

    # --- lookups for followers ----------------------------------------------------------------
    @property
    def end_ns(self) -> int:
        """Return the trace's end as of the last commit."""
        return max(self._end_ns, 0)

    def segment_uid(self, file: int) -> int:
        """Return the stable id of file (process) ``file`` of the current trace (file indices may shift)."""
        return self._files[file].uid

    def file_of(self, segment_uid: int) -> int:
        """Return the current file index of the process with stable id ``segment_uid``."""
        return int(self._file_of[segment_uid])

    def settled(self, segment_uid: int) -> bool:
        """Return whether the last read of that process's file ended at the end of a line."""
        return self._segments[segment_uid].settled

    def span_row(self, segment_uid: int, span_id: int) -> int:
        """Return the current row of a span (-1 when unknown)."""
        if not 0 <= segment_uid < len(self._segments):
            return -1
        uid = int(self._segments[segment_uid].index.lookup(np.array([span_id], np.uint64))[0])
        return int(self._a["row"][uid]) if uid >= 0 else -1

    def lane_row(self, segment_uid: int, lane_id: int) -> int:
        """Return the current lane table row of a lane (-1 when unknown)."""
        key = self._lane_key_of.get((segment_uid, lane_id))
        return int(self._lane_row[key]) if key is not None and key < len(self._lane_row) else -1

    def relevant_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the rows of spans and of marks that the watched predicate accepts (lock spans included)."""
        s, ms = self._s, self._ms
        return np.flatnonzero(s["relevant"][: s.size]), np.flatnonzero(ms["relevant"][: ms.size])

    def relevant_mask(self) -> np.ndarray:
        """Return, per span row, whether the watched predicate accepts it (a view: valid until the next commit)."""
        return np.asarray(self._s["relevant"][: self._s.size])


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """Return the uids of ``parts`` one after the other (most commits hold one part: no copy then)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _distinct(values: np.ndarray) -> bool:
    """Return whether no value repeats (a sort: numpy's hashing ``unique`` costs more on small arrays)."""
    if len(values) < 2:
        return True
    ordered = np.sort(values)
    return bool((ordered[1:] != ordered[:-1]).all())


def _through(refs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Map uids (-1 none) to rows through ``rows``."""
    return np.where(refs >= 0, rows[np.maximum(refs, 0)], -1).astype(np.int64)


def _empty_lanes() -> LaneTable:
    z = np.zeros(0, np.int64)
    return LaneTable(lane_id=z, file=z.astype(np.int32), host=z.astype(np.int32), pid=z, native_id=z, spawned_by=z,
                     process=[], kind=[], name=[], label=[])


def _attrs_problem(problems: Problems, segments: list[FileReport], origin: int, line: int, reason: str, rows: int) -> None:
    problems.attrs(segments[origin], line, reason, rows)
