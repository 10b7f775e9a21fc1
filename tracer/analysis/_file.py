"""Read one trace file into columns: header, lanes, spans, open spans, marks, end.

The first complete line must be a racelane header, else the file is refused
with a ``TraceError``. After it, each line is parsed on its own; a line that
is not usable is skipped and reported, records of unknown type are ignored
(later format versions may add some), and nothing a file holds raises
anything but ``TraceError``.

Every ``header`` line starts a new *segment*: files may be concatenated, and
the lines after a header belong to the process it names. Each segment is
handed on (``emit``) as soon as the next header or the end of the file shows
it complete, while its rows are still the last ones in the shared columns.

``spans``, ``open`` and ``marks`` lines are read without parsing their
attributes. As the recorder writes them (``{"type":"spans","rows":[...],
"attrs":[...]}``, ``attrs`` last), the rows are the bytes between the
``"rows":`` key and the first ``,"attrs":``: rows hold no JSON object, and a
JSON string cannot hold an unescaped quote, so that byte sequence cannot occur
before the key. Only the rows are parsed; the attrs array goes to the
``AttrStore`` as raw bytes, checked when first decoded. The rows of ``spans``
lines (nearly all rows) are queued and read in blocks by the numpy
``SpanScanner``, in worker threads when the loader has a pool, a couple of
blocks ahead; lines it does not accept, and ``open`` and ``marks`` lines, are
parsed with orjson. Rows reach the columns in file order either way.

A line that does not have that shape (other key order, spaces, a row holding
an object, a ``]`` not right before the closing brace, or what may be a torn
line with a header appended to it) is parsed whole instead, and its attrs
array serialized again for the store: the same result, more slowly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn

import numpy as np
import orjson

from tracer.record.format import (
    END,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER,
    LANE,
    MARK_COLUMNS,
    MARKS,
    OPEN,
    OPEN_COLUMNS,
    SPAN_COLUMNS,
    SPANS,
    STATS,
)

from ._buffer import Columns
from ._columns import TIME_LIMIT, Interner, RowTable, describe
from ._lines import Bounds, LineReader
from ._scan import SpanScanner
from .attrs import AttrStore
from .errors import TraceError
from .report import FileReport, Problems

_I64 = 1 << 63
_ATTRS_KEY = b',"attrs":'
_FAST = tuple((b'{"type":"%s","rows":' % kind.encode(), kind) for kind in (SPANS, OPEN, MARKS))
_PREFIX_BYTES = {kind: len(prefix) for prefix, kind in _FAST}
_HEADER_START = b'{"type":"header"'
_CLOSE_BRACE = ord("}")
_CLOSE_BRACKET = ord("]")
_HEADER_TAIL = 8192  # how far from a line's end a joined header is looked for
_SCAN_BYTES = 1 << 21  # rows of queued ``spans`` lines scanned at once
_IN_FLIGHT = 2  # blocks being scanned ahead of the parser
_SMALL_BLOCK = 1 << 16  # fewer queued bytes than this are parsed by orjson: the scanner's fixed cost would dominate


@dataclass
class LaneInfo:
    """What the ``lane`` lines of a file said about one lane."""

    kind: str = "thread"
    name: str = ""
    native_id: int = -1
    spawned_by: int = 0  # span id, 0 when unknown


@dataclass
class FileData:
    """What one segment of a file (one process) held: its header facts, and where its rows are.

    Times are still on the process's own clock. ``spans``, ``opens`` and
    ``marks`` are ``(start, stop)`` row ranges in the loader's columns.
    """

    report: FileReport
    header: dict[str, Any]
    clock_offset_ns: int  # add to a time of this file to get wall-clock ns
    clock_source: str
    spans: tuple[int, int]
    opens: tuple[int, int]
    marks: tuple[int, int]
    span_errors: dict[int, tuple[str, str]]  # span column row -> (type, message)
    lanes: dict[int, LaneInfo] = field(default_factory=dict)
    end_ns: int | None = None  # monotonic time of the ``end`` record


@dataclass
class Sinks:
    """The columns the rows of every file of a load are appended to."""

    spans: Columns
    opens: Columns
    marks: Columns


class _Segment:
    """The process a header line started: its facts and its rows so far."""

    def __init__(self, report: FileReport, origin: int, tables: tuple[RowTable, RowTable, RowTable], starts: tuple[int, int, int]) -> None:
        self.report = report
        self.origin = origin  # its index among the segments of the load (for the attribute store)
        self.header: dict[str, Any] = {}
        self.offset_ns = 0
        self.clock_source = "none"
        self.lanes: dict[int, LaneInfo] = {}
        self.end_ns: int | None = None
        self.spans, self.opens, self.marks = tables
        self.tables = {SPANS: self.spans, OPEN: self.opens, MARKS: self.marks}
        self.starts = starts
        # ``spans`` lines waiting for the scanner: (line, rows, attrs, chunk, line start, line end);
        # the views keep their chunk alive until the block is taken in
        self.queue: list[tuple[int, memoryview, memoryview, bytes, int, int]] = []
        self.queued_bytes = 0
        self.inflight: deque[tuple[Future[Any], list[tuple[int, memoryview, memoryview, bytes, int, int]]]] = deque()


class FileParser:
    """Parse the lines of one file; hand each process segment to ``emit`` once complete.

    Args:
        path: the file, for messages.
        sinks: the shared columns rows go to.
        names, cats: interners shared by every file of a load.
        store: where attributes go.
        problems: where skipped lines and rows are reported.
        emit: called with each segment's ``FileData``, in order.
        reports: every segment's report of the load so far; this parser
            appends its own (their positions are the store's origins).
        scanner: reads the rows of ``spans`` lines in the recorder's layout
            (shared by the files of a load, as the interners are).
        pool: where ``scanner.read`` runs, ahead of the parser (None: inline).
    """

    def __init__(
        self,
        path: str,
        sinks: Sinks,
        *,
        names: Interner,
        cats: Interner,
        store: AttrStore,
        problems: Problems,
        emit: Callable[[FileData], None],
        reports: list[FileReport],
        scanner: SpanScanner,
        pool: Executor | None = None,
    ) -> None:
        self.path = path
        self._scanner = scanner
        self._pool = pool
        self._sinks = sinks
        self._names, self._cats = names, cats
        self._store = store
        self._problems = problems
        self._emit = emit
        self._reports = reports
        self._line = 0
        self._segment: _Segment | None = None

    def read(self, reader: LineReader, on_chunk: Callable[[], None] | None = None) -> None:
        """Consume every line ``reader`` yields, emitting each segment."""
        for data, bounds in reader:
            self.feed(data, bounds, reader.oversized, reader.max_record_bytes)
            if on_chunk is not None:
                on_chunk()
        if self._segment is None:
            self._no_header(reader.bytes_read)
        self._segment.report.torn_tail_bytes = reader.torn_tail_bytes
        self._close(self._line)
        self._store.seal()

    def feed(self, data: bytes, bounds: list[Bounds | None], oversized: dict[int, int], limit: int) -> None:
        """Parse the complete lines of a chunk (``None`` bounds for a line over the size limit)."""
        view = memoryview(data)
        fast = self._fast
        for bound in bounds:
            self._line += 1
            line = self._line
            if bound is None:
                self._oversized(line, oversized.get(line - 1, 0), limit)
            elif self._segment is None:
                self._header(view[bound[0] : bound[1]], line)
            elif not fast(data, view, bound[0], bound[1], line):
                self._record(data, view, bound[0], bound[1], line)
        self._store.seal()

    def take(self) -> FileData | None:
        """Convert every row fed so far and return the open segment's rows since the last take.

        For readers of growing files (``tracer.analysis.follow``): rows are
        handed on as their lines arrive instead of when the segment ends. The
        returned ranges stay valid until the next ``feed`` (the sinks start
        empty again, so copy the rows at once); its ``span_errors`` are handed
        over and forgotten here. Returns None before the first header.
        """
        segment = self._segment
        if segment is None:
            return None
        if not segment.inflight and segment.queued_bytes < _SMALL_BLOCK:  # a few lines: orjson is quicker
            queue, segment.queue, segment.queued_bytes = segment.queue, [], 0
            for line, rows, attrs, chunk, start, end in queue:
                if not self._rows(SPANS, line, rows, attrs):
                    self._record(chunk, memoryview(chunk), start, end, line, queued=True)
        self._collect()
        for table in (segment.spans, segment.opens, segment.marks):
            table.flush()
        self._store.seal()
        sinks = self._sinks
        spans, opens, marks = ((start, sink.size) for start, sink in zip(segment.starts, (sinks.spans, sinks.opens, sinks.marks)))
        segment.report.lines = self._line - segment.report.first_line + 1
        data = FileData(
            report=segment.report, header=segment.header, clock_offset_ns=segment.offset_ns,
            clock_source=segment.clock_source, spans=spans, opens=opens, marks=marks,
            span_errors=segment.spans.errors, lanes=segment.lanes, end_ns=segment.end_ns,
        )
        sinks.spans.size = sinks.opens.size = sinks.marks.size = 0
        segment.starts = (0, 0, 0)
        segment.spans.errors = {}
        return data

    def _fast(self, data: bytes, view: memoryview, start: int, end: int, line: int) -> bool:
        """Take a rows line laid out as the recorder writes it, parsing its rows only; False if it is not."""
        kind = next((kind for prefix, kind in _FAST if data.startswith(prefix, start, end)), None)
        if kind is None:
            return False
        body = start + _PREFIX_BYTES[kind]
        at = data.find(_ATTRS_KEY, body, end)
        if at < 0 or data[end - 1] != _CLOSE_BRACE or data[end - 2] != _CLOSE_BRACKET:
            return False
        if data.find(_HEADER_START, max(at, end - _HEADER_TAIL), end) >= 0:
            return False  # perhaps a torn line with the header of a file appended to it: parse it whole
        segment = self._segment
        assert segment is not None
        if kind == SPANS:
            if at - body > 2 and data.find(b"\\", body, at) < 0:  # rows the scanner may read
                segment.queue.append((line, view[body:at], view[at + len(_ATTRS_KEY) : end - 1], data, start, end))
                segment.queued_bytes += at - body
                if self._problems.strict:
                    self._collect()
                elif segment.queued_bytes >= _SCAN_BYTES:
                    self._drain()
                return True
            self._collect()  # rows stay in file order
        return self._rows(kind, line, view[body:at], view[at + len(_ATTRS_KEY) : end - 1])

    def _rows(self, kind: str, line: int, rows_raw: memoryview, attrs_raw: memoryview) -> bool:
        """Parse the rows of a line with orjson, keeping its attributes raw; False if they are not an array."""
        try:
            rows = orjson.loads(rows_raw)
        except orjson.JSONDecodeError:
            return False  # parsed whole, it may still be valid: a row holding an object, say
        if type(rows) is not list:
            return False
        segment = self._segment
        assert segment is not None
        store = self._store
        batch = len(store)
        ref = store.add(attrs_raw, len(rows), line, segment.origin) if rows else -1
        table = segment.tables[kind]
        table.add(line, rows, ref)
        if self._problems.strict:  # check now, so the first bad line is the one refused
            table.flush()
            store.check(batch)
        return True

    def _drain(self) -> None:
        """Hand the queued ``spans`` lines to the scanner (a worker thread when there is a pool)."""
        segment = self._segment
        assert segment is not None
        queue = segment.queue
        if not queue:
            return
        segment.queue, segment.queued_bytes = [], 0
        parts = [entry[1] for entry in queue]
        if self._pool is None:
            result: Future[Any] = Future()
            result.set_result(self._scanner.read(parts))
        else:
            result = self._pool.submit(self._scanner.read, parts)
        segment.inflight.append((result, queue))
        while len(segment.inflight) > _IN_FLIGHT:
            self._collect_one()

    def _collect(self) -> None:
        """Take in every block handed to the scanner, in order (before rows that must come after them)."""
        self._drain()
        segment = self._segment
        assert segment is not None
        while segment.inflight:
            self._collect_one()

    def _collect_one(self) -> None:
        """Take in the oldest scanned block: accepted lines as columns, the others through orjson, in order."""
        segment = self._segment
        assert segment is not None
        result, queue = segment.inflight.popleft()
        scanned = self._scanner.finish(result.result())
        counts = np.bincount(scanned.line, minlength=len(queue)).tolist()
        accepted = scanned.accepted.tolist()
        store, origin, table = self._store, segment.origin, segment.spans
        first_ref = np.full(len(queue), -1, np.int64)
        first_batch = len(store)
        for i, entry in enumerate(queue):
            if accepted[i]:
                first_ref[i] = store.add(entry[2], counts[i], entry[0], origin)
        if self._problems.strict:
            store.check(first_batch)
        refs = (first_ref[scanned.line] + scanned.index).astype(np.int32)
        if all(accepted):
            table.add_columns(scanned.columns, refs, scanned.errors)
            return
        first_row = 0
        run = 0  # first queued line of the run of accepted lines being gathered
        for i in range(len(queue) + 1):
            if i < len(queue) and accepted[i]:
                continue
            stop = first_row + sum(counts[run:i])
            if stop > first_row:
                part = slice(first_row, stop)
                errors = {r - first_row: e for r, e in scanned.errors.items() if first_row <= r < stop}
                table.add_columns({k: v[part] for k, v in scanned.columns.items()}, refs[part], errors)
            first_row, run = stop, i + 1
            if i < len(queue):
                line, rows, attrs, data, start, end = queue[i]
                if not self._rows(SPANS, line, rows, attrs):
                    self._record(data, memoryview(data), start, end, line, queued=True)

    # --- records ---------------------------------------------------------------
    def _record(self, data: bytes, view: memoryview, start: int, end: int, line: int, *, queued: bool = False) -> None:
        """Parse a whole line and act on it.

        ``queued``: the line waited for the scanner, so the rows before it are
        in and later ones still out: it must neither wait for them nor start
        a process (the fast path keeps lines that might out of the queue).
        """
        try:
            record = orjson.loads(view[start:end])
        except orjson.JSONDecodeError as err:
            joined = data.find(_HEADER_START, start + 1, end)
            if joined > 0 and not queued and self._joined_header(view[joined:end], line, joined - start):
                return
            self._skip(line, f"not valid JSON ({err})" if bytes(view[start:end]).strip() else "empty line")
            return
        if type(record) is not dict:
            self._skip(line, f"a record must be a JSON object, got {describe(record)}")
            return
        segment = self._segment
        assert segment is not None
        kind = record.get("type")
        if queued and kind not in (SPANS, OPEN, MARKS):
            self._skip(line, f"a record that starts as 'spans' but has 'type' {describe(kind)}; skipped")
            return
        if kind == SPANS and not queued:
            self._collect()
        if kind in (SPANS, OPEN, MARKS):
            rows = record.get("rows")
            if type(rows) is not list:
                self._skip(line, f"'rows' must be an array, got {describe(rows)}")
                return
            table = segment.tables[kind]
            table.add(line, rows, self._parsed_attrs(record, len(rows), line))
            if self._problems.strict:
                table.flush()
        elif kind == LANE:
            self._lane(line, record)
        elif kind in (END, STATS):
            self._end(record, kind == END)
        elif kind == HEADER:
            self._header(record, line)
        elif type(kind) is not str:
            self._skip(line, f"a record needs a string 'type', got {describe(kind)}")
        else:
            segment.report.ignored_lines += 1

    def _joined_header(self, raw: memoryview, line: int, torn: int) -> bool:
        """Start a segment from a header that follows a torn last line (``cat`` of a killed process's file)."""
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return False
        if type(record) is not dict or record.get("type") != HEADER:
            return False
        self._skip(line, f"a torn record of {torn} bytes before a header (were files joined?); skipped")
        self._header(record, line)
        return True

    def _parsed_attrs(self, record: dict[str, Any], rows: int, line: int) -> int:
        """Store the ``attrs`` of a record parsed whole; return the first ref, -1 when unusable."""
        if not rows:
            return -1
        segment = self._segment
        assert segment is not None
        attrs = record.get("attrs")
        reason = None
        if attrs is None:
            return -1  # no attributes at all (a writer that has none to give)
        if type(attrs) is not list:
            reason = f"'attrs' must be an array, got {describe(attrs)}"
        elif len(attrs) != rows:
            reason = f"'attrs' holds {len(attrs)} items for {rows} rows"
        else:
            try:
                raw = orjson.dumps(attrs)
            except orjson.JSONEncodeError:
                reason = "'attrs' is nested too deeply to keep"
            else:
                batch = len(self._store)
                ref = self._store.add(raw, rows, line, segment.origin)
                if self._problems.strict:
                    self._store.check(batch)
                return ref
        self._problems.attrs(segment.report, line, f"{reason}; the attributes of its {rows} rows are missing", rows)
        return -1

    def _header(self, raw: memoryview | dict[str, Any], line: int) -> None:
        """Start the segment of the header ``raw`` (bytes, or a record already parsed)."""
        path = self.path
        where = f"{path}:{line}"
        if isinstance(raw, dict):
            record: Any = raw
        else:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise TraceError(f"{path} is not a racelane trace: its first line is not JSON", path=path, line=1) from None
        if type(record) is not dict or record.get("type") != HEADER or record.get("format") != FORMAT_NAME:
            if line == 1:
                raise TraceError(f"{path} is not a racelane trace: its first line is not a racelane header", path=path, line=1)
            raise TraceError(f"{where}: a header that is not a racelane header (were other files joined to this one?)", path=path, line=line)
        version = record.get("version")
        if type(version) is not int or version < 1:
            raise TraceError(f"{where}: the header's 'version' must be a positive integer, got {describe(version)}", path=path, line=line)
        if version > FORMAT_VERSION:
            what = path if line == 1 else f"{where}: a process"
            raise TraceError(
                f"{what} is in trace format version {version}, newer than this racelane reads "
                f"(up to version {FORMAT_VERSION}); upgrade racelane to read it",
                path=path,
                line=line,
            )
        if self._segment is not None:
            self._close(line - 1)
        report = FileReport(path=path, segment=sum(r.path == path for r in self._reports), first_line=line)
        segment = self._open_segment(report)
        segment.header = record
        report.version = version
        report.host = _text(record.get("host")) or "?"
        report.process = _text(record.get("process"))
        pid = record.get("pid")
        report.pid = pid if type(pid) is int and -_I64 <= pid < _I64 else -1
        clock = record.get("clock")
        if type(clock) is dict and _is_time(clock.get("monotonic_ns")) and _is_time(clock.get("wall_ns")):
            segment.offset_ns = clock["wall_ns"] - clock["monotonic_ns"]
            segment.clock_source = _text(clock.get("source")) or "monotonic"
        else:
            self._problems.report.notes.append(f"{where}: the header has no usable 'clock'; its times are used as recorded")

    def _open_segment(self, report: FileReport) -> _Segment:
        # The callback holds the report, not this parser: no reference cycle (the
        # collector is off while loading, so a cycle would live on).
        reject = partial(self._problems.row, report)
        sinks = self._sinks
        tables = tuple(
            RowTable(columns, sink, names=self._names, cats=self._cats, reject=reject)
            for columns, sink in ((SPAN_COLUMNS, sinks.spans), (OPEN_COLUMNS, sinks.opens), (MARK_COLUMNS, sinks.marks))
        )
        segment = _Segment(report, len(self._reports), tables, (sinks.spans.size, sinks.opens.size, sinks.marks.size))  # type: ignore[arg-type]
        self._reports.append(report)
        self._segment = segment
        return segment

    def _close(self, last_line: int) -> None:
        """Convert what is left of the current segment and emit it."""
        segment = self._segment
        assert segment is not None
        self._collect()
        for table in (segment.spans, segment.opens, segment.marks):
            table.flush()
        spans, opens, marks = (
            (start, table.sink.size) for start, table in zip(segment.starts, (segment.spans, segment.opens, segment.marks))
        )
        segment.report.lines = last_line - segment.report.first_line + 1
        self._segment = None
        self._emit(
            FileData(
                report=segment.report,
                header=segment.header,
                clock_offset_ns=segment.offset_ns,
                clock_source=segment.clock_source,
                spans=spans,
                opens=opens,
                marks=marks,
                span_errors=segment.spans.errors,
                lanes=segment.lanes,
                end_ns=segment.end_ns,
            )
        )

    def _lane(self, line: int, record: dict[str, Any]) -> None:
        lane = record.get("lane")
        if not isinstance(lane, int) or not 0 <= lane < TIME_LIMIT:
            self._skip(line, f"'lane' must be an integer between 0 and 2**62-1, got {describe(lane)}")
            return
        lanes = self._segment.lanes  # type: ignore[union-attr]
        info = lanes.get(lane)
        if info is None:
            info = lanes[lane] = LaneInfo()
        kind, name, native, spawned = (record.get(k) for k in ("kind", "name", "native_id", "spawned_by"))
        if type(kind) is str:
            info.kind = kind
        if type(name) is str:
            info.name = name
        if type(native) is int and -_I64 <= native < _I64:
            info.native_id = native
        if type(spawned) is int and 0 < spawned < 2 * _I64:
            info.spawned_by = spawned

    def _end(self, record: dict[str, Any], is_end: bool) -> None:
        segment = self._segment
        assert segment is not None
        stats = record.get("stats")
        if type(stats) is dict:
            segment.report.stats = {k: v for k, v in stats.items() if type(v) is int}
        if is_end:
            segment.report.clean_end = True
            if _is_time(record.get("monotonic_ns")):
                segment.end_ns = record["monotonic_ns"]

    def _no_header(self, size: int) -> NoReturn:
        if size == 0:
            raise TraceError(f"{self.path} is empty; a racelane trace starts with a header line", path=self.path)
        raise TraceError(
            f"{self.path} is not a racelane trace: it has no complete first line ({size} bytes and no newline)",
            path=self.path,
        )

    # --- problems --------------------------------------------------------------
    def _oversized(self, line: int, size: int, limit: int) -> None:
        if self._segment is None:
            raise TraceError(
                f"{self.path} is not a racelane trace: its first line is longer than {limit} bytes",
                path=self.path,
                line=1,
            )
        self._skip(line, f"record of {size} bytes is longer than max_record_bytes ({limit}); skipped")

    def _skip(self, line: int, reason: str) -> None:
        self._problems.line(self._segment.report, line, reason)  # type: ignore[union-attr]


def _text(value: Any) -> str:
    return value if type(value) is str else ""


def _is_time(value: Any) -> bool:
    return type(value) is int and 0 <= value < TIME_LIMIT
