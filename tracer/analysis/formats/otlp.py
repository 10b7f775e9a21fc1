"""OpenTelemetry OTLP/JSON traces to and from racelane.

Import (``import_otlp``) reads one ``{"resourceSpans": [...]}`` document, or
the file exporter's JSON Lines layout (one ``TracesData`` per line; a line that
is not valid JSON is skipped and counted). Ids may be hex (any case, the
OTLP/JSON rule) or base64 (what protobuf-default encoders write); 64-bit
integers (times, ``intValue``) may be decimal strings or numbers.

- A **process** is a resource: ``service.name`` names it, ``host.name`` is its
  host (``unknown`` when absent), ``process.pid`` its pid (a synthetic one
  when absent). Resources with the same three values are merged; the
  resource's other attributes are kept in the header under ``resource``.
- A **lane** is a thread when the span says which: the attribute
  ``thread.id`` (an integer; it becomes the lane id) or else ``thread.name``;
  both are moved from the attributes to the lane. Spans without them go to
  one lane per trace id within their process (kind ``task``, named after
  the trace's first span there and the trace id), since the spans of one
  request are the closest thing to one flow of control; spans of a trace that
  overlap without nesting are laid out on sub-rows like any lane.
- ``parentSpanId`` becomes the parent when that span is in the same
  process; ``status.code`` 2 (ERROR) marks the span failed, with the type
  from an ``exception`` event (``exception.type``) or ``Error``, and the
  status message; a span without ``endTimeUnixNano`` (or 0) is unfinished.
- **Events** become marks in the span's lane, attached to the span.
- The **category** is the attribute ``racelane.cat`` when present, else the
  instrumentation scope's name; a span kind other than INTERNAL is kept as
  the attribute ``otel.span_kind``.

Export (``export_otlp``) writes the file exporter's layout: one line per batch
of at most ``SPANS_PER_LINE`` spans of one process, each line a
``TracesData`` with one ``ResourceSpans`` (``service.name`` = process,
``host.name`` = host, ``process.pid``) and one scope ``racelane``. Span ids
are racelane's as 16 hex digits; the trace id of a span is derived from the
root of its parent chain (across lanes: a spawned lane belongs to its
spawner's trace) and its process. Times are decimal-string ns, enums
integers (``kind`` 1 INTERNAL, ``status.code`` 2 for a failed span, whose
exception type goes to ``racelane.error.type``). Attributes are typed; the
category is ``racelane.cat``, the lane ``thread.id`` (racelane's lane id),
``thread.name`` and ``racelane.lane.kind``; an unfinished span ends at the
trace's end with ``racelane.unfinished`` true. Marks are events of the span
they were made in, or of a zero-length span with ``racelane.mark`` true
when made outside any span. Lanes that hold neither spans nor marks are not
written (OTLP has no place for them).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ..errors import TraceError
from ._native import (
    MAX_LANE_ID,
    Imported,
    ImportReport,
    Lane,
    Process,
    int_value,
    native_bytes,
    no_gc,
    small_int,
    write_atomically,
)

if TYPE_CHECKING:
    from ..model import Trace

DEFAULT_HOST = "unknown"
SPANS_PER_LINE = 1000
CAT = "racelane.cat"
LANE_KIND = "racelane.lane.kind"
UNFINISHED = "racelane.unfinished"
ERROR_TYPE = "racelane.error.type"
MARK = "racelane.mark"
THREAD_ID = "thread.id"
THREAD_NAME = "thread.name"
KIND_INTERNAL = 1
STATUS_ERROR = 2
_KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STRIPPED = (CAT, LANE_KIND, UNFINISHED, ERROR_TYPE, MARK, THREAD_ID, THREAD_NAME)
_TIME_LIMIT = 1 << 62
_MARK_SPAN_BIT = 1 << 63  # ids of the spans that carry marks made outside any span


# --- import -------------------------------------------------------------------
def import_otlp(path: str | os.PathLike[str]) -> Imported:
    """Convert an OTLP/JSON traces file into racelane native JSON Lines.

    Returns:
        ``Imported(data, report)``; the report counts what was skipped
        (``path:line N: reason`` for unreadable lines, ``path:span N: reason``
        for spans).

    Raises:
        TraceError: the file cannot be read or holds no OTLP trace data.
    """
    path = os.fspath(path)
    report = ImportReport(path, "otlp")
    with no_gc():
        docs = _read_docs(path, report)
        builder = _Builder(report)
        for line, doc in docs:
            builder.document(line, doc)
        del docs
        processes = builder.processes()
        data = native_bytes(processes)
    report.processes = len(processes)
    report.spans = sum(len(p.spans) + len(p.opens) for p in processes)
    report.marks = sum(len(p.marks) for p in processes)
    return Imported(data, report)


def _read_docs(path: str, report: ImportReport) -> list[tuple[int | None, Any]]:
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as err:
        raise TraceError(f"cannot read {path}: {err.strerror or err}", path=path) from None
    docs: list[tuple[int | None, Any]] = []
    try:
        docs.append((None, orjson.loads(data)))
    except orjson.JSONDecodeError:
        try:  # NaN, Infinity, integers beyond 64 bits: JSON only to Python's reader
            docs.append((None, json.loads(data)))
        except (ValueError, RecursionError):
            lines = data.split(b"\n")
            for n, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                try:
                    docs.append((n, orjson.loads(raw)))
                except orjson.JSONDecodeError as err:
                    if n == len(lines) and n > 1:
                        report.notes.append(f"{path}:{n}: the last line is cut off; skipped")
                    else:
                        report.problem(f"line {n}", f"not valid JSON ({err})")
    if not any(type(doc) is dict and "resourceSpans" in doc for _, doc in docs):
        why = report.problems[0].split(": ", 1)[1] if report.problems and not docs else "no object with 'resourceSpans'"
        raise TraceError(f"{path} is not OTLP/JSON trace data: {why}", path=path)
    return docs


def _values(attributes: Any) -> dict[str, Any]:
    """Return OTLP ``KeyValue``s as a plain dict."""
    out: dict[str, Any] = {}
    if type(attributes) is not list:
        return out
    for item in attributes:
        if type(item) is dict and type(item.get("key")) is str:
            out[item["key"]] = _value(item.get("value"))
    return out


def _value(value: Any) -> Any:
    """Return an OTLP ``AnyValue`` as a plain JSON value (None when empty or unknown)."""
    if type(value) is not dict:
        return None
    if "stringValue" in value:
        text = value["stringValue"]
        return text if type(text) is str else str(text)
    if "intValue" in value:
        number = int_value(value["intValue"])
        return number if number is not None else value["intValue"]
    if "doubleValue" in value:
        number = value["doubleValue"]
        if type(number) in (int, float):
            return float(number)
        try:
            return float(number)
        except (TypeError, ValueError):
            return None
    if "boolValue" in value:
        return value["boolValue"] is True
    if "arrayValue" in value:
        inner = value["arrayValue"]
        items = inner.get("values") if type(inner) is dict else None
        return [_value(v) for v in items] if type(items) is list else []
    if "kvlistValue" in value:
        inner = value["kvlistValue"]
        return _values(inner.get("values") if type(inner) is dict else None)
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _id(value: Any, size: int) -> bytes | None:
    """Decode a trace id (16 bytes) or span id (8 bytes): hex in any case, or base64."""
    if type(value) is not str or not value:
        return None
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_" if "-" in value or "_" in value else None,
                               validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


class _Span:
    """One OTLP span as read, before lanes and parents are settled."""

    __slots__ = ("attrs", "cat", "end", "error", "events", "id", "lane_key", "name", "parent", "start", "thread_name",
                 "trace")

    def __init__(self, span_id: int, trace: str, start: int, end: int | None) -> None:
        self.id, self.trace, self.start, self.end = span_id, trace, start, end
        self.parent = 0
        self.name = ""
        self.cat = ""
        self.lane_key: tuple[str, Any] = ("trace", trace)
        self.thread_name: str | None = None
        self.error: list[str] | None = None
        self.attrs: dict[str, Any] | None = None
        self.events: list[tuple[int, str, str, dict[str, Any] | None]] = []


class _Proc:
    def __init__(self, host: str, service: str, pid: int | None, resource: dict[str, Any]) -> None:
        self.host, self.service, self.pid, self.resource = host, service, pid, resource
        self.spans: list[_Span] = []
        self.ids: set[int] = set()
        self.loose_marks: list[tuple[Any, int, str, str, dict[str, Any] | None]] = []  # (lane key, ts, ...)
        self.kinds: dict[Any, str] = {}  # lane key -> racelane lane kind
        self.lane_names: dict[Any, str] = {}  # lane key -> name, from spans that only carry marks


class _Builder:
    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.procs: dict[tuple[str, str, int | None], _Proc] = {}
        self.count = 0

    def document(self, line: int | None, doc: Any) -> None:
        where = f"line {line}" if line is not None else "document"
        if type(doc) is not dict or type(doc.get("resourceSpans")) is not list:
            self.report.problem(where, "not a TracesData object (no 'resourceSpans' array)")
            return
        for resource_spans in doc["resourceSpans"]:
            if type(resource_spans) is not dict:
                self.report.problem(where, "a ResourceSpans must be an object")
                continue
            resource = resource_spans.get("resource")
            attrs = _values(resource.get("attributes") if type(resource) is dict else None)
            service = attrs.pop("service.name", None)
            host = attrs.pop("host.name", None)
            pid = small_int(attrs.pop("process.pid", None))
            key = (host if type(host) is str and host else DEFAULT_HOST, service if type(service) is str else "", pid)
            proc = self.procs.get(key)
            if proc is None:
                proc = self.procs[key] = _Proc(key[0], key[1], pid, attrs)
            scopes = resource_spans.get("scopeSpans", resource_spans.get("instrumentationLibrarySpans"))
            for scope_spans in scopes if type(scopes) is list else []:
                if type(scope_spans) is not dict:
                    continue
                scope = scope_spans.get("scope", scope_spans.get("instrumentationLibrary"))
                scope_name = _str_or(scope.get("name"), "") if type(scope) is dict else ""
                spans = scope_spans.get("spans")
                for span in spans if type(spans) is list else []:
                    self.count += 1
                    self._span(proc, span, scope_name)

    def _span(self, proc: _Proc, raw: Any, scope_name: str) -> None:
        where = f"span {self.count}"
        if type(raw) is not dict:
            self.report.problem(where, "a span must be an object")
            return
        trace = _id(raw.get("traceId"), 16)
        span_id = _id(raw.get("spanId"), 8)
        if trace is None or span_id is None or not any(span_id):
            self.report.problem(where, f"bad traceId/spanId {raw.get('traceId')!r:.40}/{raw.get('spanId')!r:.20}")
            return
        parent = _id(raw.get("parentSpanId"), 8) if raw.get("parentSpanId") else None
        start = int_value(raw.get("startTimeUnixNano"))
        end = int_value(raw.get("endTimeUnixNano")) if raw.get("endTimeUnixNano") not in (None, "", "0", 0) else None
        if start is None or not 0 <= start < _TIME_LIMIT:
            self.report.problem(where, f"'startTimeUnixNano' must be ns since the epoch, got {raw.get('startTimeUnixNano')!r:.40}")
            return
        if end is not None and not start <= end < _TIME_LIMIT:
            self.report.problem(where, f"'endTimeUnixNano' {end} is before 'startTimeUnixNano' {start}")
            return
        number = int.from_bytes(span_id, "big")
        if number in proc.ids:
            self.report.problem(where, f"span id {span_id.hex()} repeats one already read; skipped")
            return
        proc.ids.add(number)
        attrs = _values(raw.get("attributes"))
        span = _Span(number, trace.hex(), start, end)
        span.parent = int.from_bytes(parent, "big") if parent else 0
        span.name = _str_or(raw.get("name"), "")
        span.cat = _str_or(attrs.pop(CAT, None), scope_name)
        thread_id, thread_name = attrs.pop(THREAD_ID, None), attrs.pop(THREAD_NAME, None)
        kind = attrs.pop(LANE_KIND, None)
        if type(thread_id) is int and not isinstance(thread_id, bool):
            span.lane_key = ("thread", thread_id)
        elif type(thread_name) is str:
            span.lane_key = ("thread-name", thread_name)
        else:
            span.lane_key = ("trace", span.trace)
        span.thread_name = thread_name if isinstance(thread_name, str) else None
        if type(kind) is str:
            proc.kinds.setdefault(span.lane_key, kind)
        if attrs.pop(UNFINISHED, None) is True:
            span.end = None
        is_mark = attrs.pop(MARK, None) is True
        error_type = attrs.pop(ERROR_TYPE, None)
        otel_kind = raw.get("kind")
        if otel_kind not in (None, 0, KIND_INTERNAL) and type(otel_kind) is int:
            attrs["otel.span_kind"] = _KIND_NAMES.get(otel_kind, str(otel_kind))
        events = raw.get("events")
        exception: dict[str, Any] = {}
        for k, event in enumerate(events if type(events) is list else []):
            if type(event) is not dict:
                self.report.problem(where, f"event {k} must be an object")
                continue
            ts = int_value(event.get("timeUnixNano"))
            if ts is None or not 0 <= ts < _TIME_LIMIT:
                self.report.problem(where, f"event {k}: 'timeUnixNano' must be ns since the epoch")
                continue
            values = _values(event.get("attributes"))
            event_cat = _str_or(values.pop(CAT, None), "")
            name = _str_or(event.get("name"), "")
            if name == "exception" and not exception:
                exception = values
            mark = (ts, name, event_cat, values or None)
            if is_mark:
                proc.loose_marks.append((span.lane_key, *mark))
            else:
                span.events.append(mark)
        if is_mark:
            if span.thread_name is not None:
                proc.lane_names.setdefault(span.lane_key, span.thread_name)
            return
        status = raw.get("status")
        span.error = None
        if type(status) is dict and status.get("code") in (STATUS_ERROR, "STATUS_CODE_ERROR"):
            message = status.get("message") if type(status.get("message")) is str else ""
            etype = error_type if type(error_type) is str else exception.get("exception.type")
            span.error = [etype if type(etype) is str else "Error",
                          message or (exception.get("exception.message") or "")]
            if type(span.error[1]) is not str:
                span.error[1] = str(span.error[1])
        span.attrs = attrs or None
        proc.spans.append(span)

    def processes(self) -> list[Process]:
        out = []
        synthetic = max((p.pid for p in self.procs.values() if p.pid is not None), default=0)
        for proc in self.procs.values():
            pid = proc.pid
            if pid is None:
                synthetic += 1
                pid = synthetic
            extra: dict[str, Any] = {"imported": {"format": "otlp", "path": self.report.path}}
            if proc.resource:
                extra["resource"] = proc.resource
            native = Process(host=proc.host, pid=pid, process=proc.service, extra=extra)
            self._fill(proc, native)
            out.append(native)
        return out

    def _fill(self, proc: _Proc, native: Process) -> None:
        spans = sorted(proc.spans, key=lambda s: (s.start, -(s.end if s.end is not None else 1 << 63)))
        keys = list(dict.fromkeys([s.lane_key for s in spans] + [m[0] for m in proc.loose_marks]))
        lane_ids: dict[Any, int] = {}
        for key in keys:
            if key[0] == "thread" and 0 <= key[1] <= MAX_LANE_ID:
                lane_ids[key] = key[1]
        taken = set(lane_ids.values())
        next_id = 1
        for key in keys:
            if key not in lane_ids:
                while next_id in taken:
                    next_id += 1
                lane_ids[key] = next_id
                taken.add(next_id)
        lane_of_span = {s.id: lane_ids[s.lane_key] for s in spans}
        for key in keys:
            lane = native.lanes[lane_ids[key]] = Lane()
            lane.kind = proc.kinds.get(key, "task" if key[0] == "trace" else "thread")
            if key[0] == "thread":
                lane.native_id = None
            named = proc.lane_names.get(key)
            if named is not None:
                lane.name = named
        for span in spans:
            lane_id = lane_of_span[span.id]
            lane = native.lanes[lane_id]
            parent = span.parent if span.parent in lane_of_span else 0
            if not lane.name and span.thread_name is not None:
                lane.name = span.thread_name
            if span.lane_key[0] == "trace" and not lane.name:
                lane.name = f"{span.name} [{span.trace[:8]}]"
            if _spawned_from_other_lane(parent, lane_of_span, lane_id) and not lane.spawned_by:
                lane.spawned_by = parent
            if span.end is None:
                native.opens.append([span.id, parent, lane_id, span.start, span.name, span.cat])
                native.open_attrs.append(span.attrs)
            else:
                native.spans.append([span.id, parent, lane_id, span.start, span.end, span.name, span.cat, span.error])
                native.span_attrs.append(span.attrs)
            for ts, name, cat, values in span.events:
                native.marks.append([lane_id, ts, name, cat, span.id])
                native.mark_attrs.append(values)
        for key, ts, name, cat, values in proc.loose_marks:
            native.marks.append([lane_ids[key], ts, name, cat, 0])
            native.mark_attrs.append(values)


def _str_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _spawned_from_other_lane(parent: int, lane_of_span: dict[int, int], lane_id: int) -> bool:
    """Whether a span's parent lives in another lane of the process (the span's lane was spawned from there)."""
    return parent != 0 and lane_of_span.get(parent, lane_id) != lane_id


# --- export -------------------------------------------------------------------
def _any(value: Any) -> dict[str, Any]:
    """Return a plain JSON value as an OTLP ``AnyValue``."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        if -(1 << 63) <= value < 1 << 63:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if kind is float:
        return {"doubleValue": value}
    if value is None:
        return {}
    if kind is list or kind is tuple:
        return {"arrayValue": {"values": [_any(v) for v in value]}}
    if kind is dict:
        return {"kvlistValue": {"values": _attributes(value)}}
    return {"stringValue": str(value)}


def _attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _any(v)} for k, v in values.items()]


def export_otlp(trace: Trace, out_path: str | os.PathLike[str]) -> int:
    """Write ``trace`` as OTLP/JSON Lines (file-exporter layout) to ``out_path``; return the spans written.

    Written under a temporary name beside ``out_path`` and renamed when complete.
    """
    return write_atomically(out_path, ".otlp.tmp", lambda out: _write_otlp(trace, out))


def _file_tag(file: Any) -> int:
    # Stable across copies of the same trace: no directory in the tag.
    anchor = (file.header.get("clock") or {}).get("wall_ns") if isinstance(file.header, dict) else None
    digest = hashlib.blake2b(f"{file.host}\0{file.pid}\0{file.process}\0{os.path.basename(file.path)}\0{file.segment}"
                             f"\0{anchor}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def _roots(parent: np.ndarray) -> np.ndarray:
    """Return each span's root row by following parent links (pointer jumping)."""
    root = np.where(parent >= 0, parent, np.arange(len(parent)))
    while True:
        above = root[root]
        if np.array_equal(above, root):
            return root
        root = above


def _write_otlp(trace: Trace, out: Any) -> int:
    from tracer import __version__

    spans, lanes, marks = trace.spans, trace.lanes, trace.marks
    names, cats = trace.names, trace.cats
    tags = [_file_tag(f) for f in trace.files]
    root = _roots(spans.parent)
    span_id = spans.span_id
    trace_ids = [f"{tags[f]:016x}" for f in range(len(trace.files))]
    lane_attrs = [
        [{"key": THREAD_ID, "value": {"intValue": str(int(lanes.lane_id[k]))}},
         {"key": THREAD_NAME, "value": {"stringValue": lanes.name[k]}},
         {"key": LANE_KIND, "value": {"stringValue": lanes.kind[k]}}]
        for k in range(len(lanes))
    ]
    marks_of: dict[int, list[int]] = {}
    loose: dict[int, list[int]] = {}
    for m, (row, lane) in enumerate(zip(marks.span.tolist(), marks.lane.tolist())):
        if row >= 0:
            marks_of.setdefault(row, []).append(m)
        else:
            loose.setdefault(int(lanes.file[lane]), []).append(m)
    scope = {"name": "racelane", "version": __version__}
    written = 0

    def event(m: int) -> dict[str, Any]:
        values = trace.mark_attrs(m)
        values[CAT] = cats[marks.cat[m]]
        return {"timeUnixNano": str(int(marks.ts_ns[m])), "name": names[marks.name[m]], "attributes": _attributes(values)}

    def line(resource: dict[str, Any], items: list[dict[str, Any]]) -> None:
        doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": items}]}]}
        out.write(orjson.dumps(doc) + b"\n")

    for f, file in enumerate(trace.files):
        resource_values: dict[str, Any] = {}
        extra = file.header.get("resource")
        if type(extra) is dict:
            resource_values.update(extra)
        resource_values.update({"service.name": file.process, "host.name": file.host, "process.pid": file.pid})
        resource = {"attributes": _attributes(resource_values)}
        rows_of_file = np.flatnonzero(spans.file == f)
        for first in range(0, len(rows_of_file), SPANS_PER_LINE):
            rows = rows_of_file[first : first + SPANS_PER_LINE]
            values_of = trace.attrs_many(rows)
            top = root[rows]
            trace_id = [trace_ids[f] + f"{t:016x}" for f, t in zip(spans.file[top].tolist(), span_id[top].tolist())]
            parent = spans.parent[rows]
            parent_id = span_id[np.maximum(parent, 0)].tolist()
            items = []
            for k, (row, values, has_parent, is_open, failed, name, cat, lane, start, end, sid) in enumerate(zip(
                rows.tolist(), values_of, (parent >= 0).tolist(), spans.open[rows].tolist(), spans.error[rows].tolist(),
                spans.name[rows].tolist(), spans.cat[rows].tolist(), spans.lane[rows].tolist(),
                spans.start_ns[rows].tolist(), spans.end_ns[rows].tolist(), span_id[rows].tolist(),
            )):
                values[CAT] = cats[cat]
                item: dict[str, Any] = {"traceId": trace_id[k], "spanId": f"{sid:016x}"}
                if has_parent:
                    item["parentSpanId"] = f"{parent_id[k]:016x}"
                if is_open:
                    values[UNFINISHED] = True
                error = trace.error(row) if failed else None
                if error is not None:
                    values[ERROR_TYPE] = error[0]
                item["name"] = names[name]
                item["kind"] = KIND_INTERNAL
                item["startTimeUnixNano"] = str(start)
                item["endTimeUnixNano"] = str(end)
                item["attributes"] = _attributes(values) + lane_attrs[lane]
                if row in marks_of:
                    item["events"] = [event(m) for m in marks_of[row]]
                item["status"] = {"code": STATUS_ERROR, "message": error[1]} if error is not None else {}
                items.append(item)
            line(resource, items)
            written += len(items)
        items = []
        for k, m in enumerate(loose.get(f, [])):
            lane = int(marks.lane[m])
            ts = str(int(marks.ts_ns[m]))
            items.append({
                "traceId": trace_ids[f] + f"{_MARK_SPAN_BIT | (k + 1):016x}", "spanId": f"{_MARK_SPAN_BIT | (k + 1):016x}",
                "name": names[marks.name[m]], "kind": KIND_INTERNAL, "startTimeUnixNano": ts, "endTimeUnixNano": ts,
                "attributes": [{"key": MARK, "value": {"boolValue": True}}, *lane_attrs[lane]],
                "events": [event(m)], "status": {},
            })
            if len(items) == SPANS_PER_LINE:
                line(resource, items)
                items = []
        if items:
            line(resource, items)
    return written
