"""Merge the rows of many processes into one ``Trace``.

Every file's rows are appended to shared columns while it is read. As soon
as a process (a file, or one segment of a concatenated file) is done,
``Merger.add`` settles it in place: repeated span ids are
dropped, ``open`` rows are kept only for spans that never finished (appended
after the file's finished spans), times move to the wall clock, and span ids
(parents, marks, spawners) become row numbers. ``Merger.finish`` then builds
the lane table, sorts the spans by start and lays them out once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tracer.record.format import MARK_COLUMNS, OPEN_COLUMNS, SPAN_COLUMNS

from ._buffer import MIN_ROW_BYTES, Columns
from ._columns import BLOCK_ROWS, RowTable
from ._file import FileData, LaneInfo, Sinks
from .attrs import AttrStore
from .layout import nest, stable_argsort, start_order
from .model import LaneTable, MarkTable, Trace, TraceFile, remap, reorder_spans, sort_marks

_ROW_COLUMNS = tuple(RowTable.dtypes(SPAN_COLUMNS))  # the span columns rows fill
_OPEN_COLUMNS = tuple(RowTable.dtypes(OPEN_COLUMNS))


@dataclass
class BuildCounts:
    """What merging found besides the columns."""

    lanes_swept: int = 0  # lanes laid out by time because their spans overlap without nesting


class _Ids:
    """Find the rows of span ids within one process.

    The recorder numbers spans from a random start, one after another, so a
    process's ids usually span a range not much wider than their count: then
    a table indexed by ``id - lowest`` finds every row in one gather. Other
    ids (hand-written, or from another writer) are sorted and searched.
    """

    DENSE = 4  # use a table when the id range is at most this many times the count (plus slack)

    def __init__(self, ids: np.ndarray) -> None:
        self.ids = ids
        self.table: np.ndarray | None = None
        n = len(ids)
        if n:
            low, high = int(ids.min()), int(ids.max())
            if high - low < self.DENSE * n + 1024:
                self.low = np.uint64(low)
                self.table = np.full(high - low + 1, -1, np.int64)
                self.table[(ids - self.low)[::-1]] = np.arange(n - 1, -1, -1, dtype=np.int64)  # the first row wins
                return
        self.order = stable_argsort(ids)
        self.sorted = ids[self.order]

    def rows(self, wanted: np.ndarray) -> np.ndarray:
        """Return the row of each id in ``wanted``, -1 when absent (or 0)."""
        if len(self.ids) == 0 or len(wanted) == 0:
            return np.full(len(wanted), -1, np.int64)
        if self.table is not None:
            offset = wanted - self.low  # wraps around below ``low``: out of range like those above
            inside = (offset < np.uint64(len(self.table))) & (wanted != 0)
            found = self.table[np.where(inside, offset, 0).astype(np.int64)]
            return np.where(inside, found, -1)
        at = np.minimum(np.searchsorted(self.sorted, wanted), len(self.sorted) - 1)
        found = (self.sorted[at] == wanted) & (wanted != 0)
        return np.where(found, self.order[at], -1)

    def first_of_each(self) -> np.ndarray:
        """Return a mask keeping the first row of every id."""
        if self.table is not None:
            return np.asarray(self.table[(self.ids - self.low).astype(np.int64)] == np.arange(len(self.ids)))
        keep = np.ones(len(self.sorted), bool)
        keep[self.order[1:][self.sorted[1:] == self.sorted[:-1]]] = False
        return keep


def _resolve(column: np.ndarray, lookup: _Ids, offset: int) -> None:
    """Replace the span ids in ``column`` (uint64) by rows + ``offset`` (int64, -1 unknown)."""
    rows = lookup.rows(column)
    column.view(np.int64)[:] = np.where(rows >= 0, rows + offset, -1)


class Merger:
    """Collect files one after another, then build the trace."""

    def __init__(self, total_bytes: int) -> None:
        spans = {**RowTable.dtypes(SPAN_COLUMNS), "open": bool, "file": np.int32}  # file: the process's segment
        self.sinks = Sinks(
            spans=Columns(spans, total_bytes // MIN_ROW_BYTES + BLOCK_ROWS),
            opens=Columns(RowTable.dtypes(OPEN_COLUMNS), 4096),
            marks=Columns({**RowTable.dtypes(MARK_COLUMNS), "file": np.int32}, 4096),
        )
        self.files: list[FileData] = []
        self.ranges: list[tuple[int, int]] = []  # each file's rows in the span columns
        self.lane_ids: list[set[int]] = []
        self.spawned: list[dict[int, int]] = []  # per file: lane id -> spawner's row
        self.errors: dict[int, tuple[str, str]] = {}

    def add(self, data: FileData) -> None:
        """Settle the rows of a file just read (its rows are the last ones)."""
        index = len(self.files)
        spans, opens, marks = self.sinks.spans, self.sinks.opens, self.sinks.marks
        first, stop = data.spans
        finished = _Ids(spans["id"][first:stop])
        keep = finished.first_of_each()
        done = int(keep.sum())
        data.report.duplicate_spans = stop - first - done
        if done < stop - first:
            for name in _ROW_COLUMNS:
                spans[name][first : first + done] = spans[name][first:stop][keep]
            spans.size = stop = first + done
            kept = np.cumsum(keep) - 1
            data.span_errors = {first + int(kept[r - first]): e for r, e in data.span_errors.items() if keep[r - first]}
            finished = _Ids(spans["id"][first:stop])
        self.errors.update(data.span_errors)
        begin, end = data.opens
        pending = _Ids(opens["id"][begin:end]).first_of_each() & (finished.rows(opens["id"][begin:end]) < 0)
        spans.append({name: opens[name][begin:end][pending] for name in _OPEN_COLUMNS}, fill={"end_ns": 0})
        opens.size = begin  # scratch: the next file reuses it
        rows = slice(first, spans.size)
        spans["open"][first:stop] = False
        spans["open"][stop : spans.size] = True
        spans["file"][rows] = index
        spans["start_ns"][rows] += data.clock_offset_ns
        spans["end_ns"][first:stop] += data.clock_offset_ns
        lookup = _Ids(spans["id"][rows])
        _resolve(spans["parent"][rows], lookup, first)
        mark_rows = slice(*data.marks)
        marks["ts_ns"][mark_rows] += data.clock_offset_ns
        marks["file"][mark_rows] = index
        _resolve(marks["span"][mark_rows], lookup, first)
        spawners = {lane: info.spawned_by for lane, info in data.lanes.items() if info.spawned_by}
        found = lookup.rows(np.array(list(spawners.values()), np.uint64))
        self.spawned.append({lane: int(row) + first for lane, row in zip(spawners, found.tolist()) if row >= 0})
        used = _distinct(np.concatenate([spans["lane"][rows], marks["lane"][mark_rows]]))
        self.lane_ids.append(set(data.lanes) | set(used.tolist()))
        data.report.spans, data.report.unfinished = spans.size - first, spans.size - stop
        data.report.lanes = len(self.lane_ids[-1])
        self.ranges.append((first, spans.size))
        self.files.append(data)

    def finish(self, names: list[str], cats: list[str], store: AttrStore) -> tuple[Trace, BuildCounts]:
        """Return the merged trace; the merger is spent afterwards."""
        lanes, lane_maps = self._lanes()
        columns = self.sinks.spans.take()
        marks = self.sinks.marks.take()
        self.sinks = None  # type: ignore[assignment]
        columns["lane"] = self._map_lanes(columns["lane"], self.ranges, lane_maps)
        mark_files = [(int(np.searchsorted(marks["file"], i)), int(np.searchsorted(marks["file"], i, "right"))) for i in range(len(self.files))]
        marks["lane"] = self._map_lanes(marks["lane"], mark_files, lane_maps)
        names = _sort_strings(names, columns["name"], marks["name"])
        cats = _sort_strings(cats, columns["cat"], marks["cat"])
        columns["span_id"] = columns.pop("id")
        columns["parent"] = columns["parent"].view(np.int64)
        marks["span"] = marks["span"].view(np.int64)
        columns["error"] = np.zeros(len(columns["span_id"]), bool)
        columns["error"][list(self.errors)] = True
        mark_table = MarkTable(**marks)
        trace_files = [_trace_file(data) for data in self.files]
        file_ends = [f.end_ns for f in trace_files if f.end_ns is not None]
        unfinished = columns["open"]
        candidates = [*file_ends, *(int(a.max()) for a in (columns["start_ns"], columns["end_ns"][~unfinished]) if len(a))]
        if len(mark_table):
            candidates.append(int(mark_table.ts_ns.max()))
        columns["end_ns"][unfinished] = max(candidates, default=0)
        spans, inverse = reorder_spans(columns, start_order(columns["start_ns"], columns["end_ns"], later_first=True, tie=columns["span_id"]))
        mark_table = replace(mark_table, span=remap(mark_table.span, inverse))
        lanes = replace(lanes, spawned_by=remap(lanes.spawned_by, inverse))
        errors = {int(inverse[i]): e for i, e in self.errors.items()}
        del inverse
        depth, sub_row, swept = nest(spans.start_ns, spans.end_ns, spans.lane, spans.parent)
        spans = replace(spans, depth=depth, sub_row=sub_row)
        trace = Trace(
            spans=spans, marks=sort_marks(mark_table), lanes=lanes, files=trace_files, names=names, cats=cats,
            hosts=sorted({data.report.host for data in self.files}), store=store, errors=errors,
        )
        return trace, BuildCounts(lanes_swept=swept)

    @staticmethod
    def _map_lanes(local: np.ndarray, ranges: list[tuple[int, int]], maps: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """Return the lane rows of per-file lane ids (each file's rows in its range)."""
        out = np.empty(len(local), np.int32)
        for (first, stop), (ids, rows) in zip(ranges, maps):
            out[first:stop] = rows[np.searchsorted(ids, local[first:stop])]
        return out

    def _lanes(self) -> tuple[LaneTable, list[tuple[np.ndarray, np.ndarray]]]:
        """Return the lane table (host > process > lane) and, per file, its lane ids and rows."""
        keys = sorted(
            (data.report.host, data.report.process, data.report.pid, index, lane)
            for index, data in enumerate(self.files)
            for lane in self.lane_ids[index]
        )
        hosts = sorted({data.report.host for data in self.files})
        host_rows = {host: row for row, host in enumerate(hosts)}
        infos = [self.files[k[3]].lanes.get(k[4], LaneInfo()) for k in keys]
        table = LaneTable(
            lane_id=np.array([k[4] for k in keys], np.int64),
            file=np.array([k[3] for k in keys], np.int32),
            host=np.array([host_rows[k[0]] for k in keys], np.int32),
            pid=np.array([k[2] for k in keys], np.int64),
            native_id=np.array([info.native_id for info in infos], np.int64),
            spawned_by=np.array([self.spawned[k[3]].get(k[4], -1) for k in keys], np.int64),
            process=[k[1] for k in keys],
            kind=[info.kind for info in infos],
            name=[info.name for info in infos],
            label=_labels(keys, infos),
        )
        by_file: list[tuple[list[int], list[int]]] = [([], []) for _ in self.files]
        for row, k in enumerate(keys):
            by_file[k[3]][0].append(k[4])
            by_file[k[3]][1].append(row)
        maps = [(np.array(ids, np.int64), np.array(rows, np.int32)) for ids, rows in by_file]
        return table, maps


def _distinct(values: np.ndarray) -> np.ndarray:
    """Return the distinct values of non-negative ``values``, sorted (by counting when they are small, as lane ids are)."""
    if len(values) and int(values.max()) < 4 * len(values) + 65536:
        return np.flatnonzero(np.bincount(values))
    return np.unique(values)


def _sort_strings(values: list[str], *codes: np.ndarray) -> list[str]:
    """Return ``values`` sorted, recoding ``codes`` in place to match.

    Codes are handed out as strings are first met, which depends on how the
    files were cut into chunks; sorted, the tables are the same however they
    were read (and a legend reads better).
    """
    order = sorted(range(len(values)), key=values.__getitem__)
    recode = np.empty(len(values), np.int32)
    recode[order] = np.arange(len(values), dtype=np.int32)
    for column in codes:
        if len(column) and len(recode):
            np.take(recode, column, out=column)
    return [values[k] for k in order]


def _labels(keys: list[tuple[Any, ...]], infos: list[LaneInfo]) -> list[str]:
    """Name lanes readably, adding the lane id where a process has several of one name."""
    seen: dict[tuple[int, str], int] = {}
    for k, info in zip(keys, infos):
        seen[(k[3], info.name)] = seen.get((k[3], info.name), 0) + 1
    labels = []
    for k, info in zip(keys, infos):
        if not info.name:
            labels.append(f"{info.kind} #{k[4]}")
        elif seen[(k[3], info.name)] > 1:
            labels.append(f"{info.name} #{k[4]}")
        else:
            labels.append(info.name)
    return labels


def _trace_file(data: FileData) -> TraceFile:
    report = data.report
    return TraceFile(
        path=report.path,
        segment=report.segment,
        first_line=report.first_line,
        host=report.host,
        pid=report.pid,
        process=report.process,
        version=report.version,
        clock_offset_ns=data.clock_offset_ns,
        clock_source=data.clock_source,
        end_ns=None if data.end_ns is None else data.end_ns + data.clock_offset_ns,
        header=data.header,
    )
