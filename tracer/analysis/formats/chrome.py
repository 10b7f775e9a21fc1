"""Chrome Trace Event JSON (chrome://tracing, ui.perfetto.dev, speedscope) to and from racelane.

Import (``import_chrome``) reads the array form ``[{event}, ...]`` and the
object form ``{"traceEvents": [...]}``. Like Perfetto it accepts an array that
is never closed (a trace cut off while written) and a trailing comma; an
event that is not valid JSON is skipped, counted, and reading goes on at the
next line. Each ``pid`` becomes one racelane process, each ``(pid, tid)`` a
lane:

- ``X`` complete events and ``B``/``E`` pairs (matched per thread as a
  stack, in time order; ``E`` arguments are merged into the ``B``'s) become
  spans; a ``B`` never ended becomes an unfinished span (an ``open`` row);
- ``i``/``I`` instant events become marks, attached to the innermost span
  of their thread that encloses them;
- ``M`` metadata ``process_name`` and ``thread_name`` name processes and lanes;
- every other phase (counters, async, flows, samples, ...) is ignored and
  counted per phase in the report.

``ts`` and ``dur`` are microseconds, integers, fractions or decimal strings,
and are converted to ns exactly (strings) or to the nearest ns (numbers);
``displayTimeUnit`` is ignored, as Perfetto and catapult do. ``args`` become
attributes and ``cat`` the category. Imported processes have the host
``unknown`` unless the file was written by ``export_chrome``, whose metadata
(under the ``racelane`` key of the ``M`` events' args) restores hosts, pids,
lane ids and kinds, absolute times, errors and unfinished spans.

Export (``export_chrome``) writes the array form, streamed in chunks. Each
racelane process is one ``pid`` (its own pid, or a synthetic one when two
processes share it), named ``host · process (pid)``; each lane is its own
``tid`` (greenthreads and tasks too, so Perfetto draws their spans on their
own track). Chrome requires the spans of one thread to nest; spans of a lane
that overlap without nesting (``SpanTable.sub_row`` > 0) go to extra tids
named ``<lane> (overlap n)``. Spans are ``X`` events with their attributes
as ``args`` (plus ``racelane.error`` for a failed span); unfinished spans end
at the trace's end with ``args["racelane.unfinished"] = true``; marks are
thread-scoped instant events. ``ts`` is in µs from the trace's first time
(``racelane.t0_ns`` of the process metadata), so a float keeps every ns.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ..errors import TraceError
from ._native import Imported, ImportReport, Lane, Process, native_bytes, no_gc, ns_from_us, small_int, write_atomically

if TYPE_CHECKING:
    from ..model import Trace

DEFAULT_HOST = "unknown"
UNFINISHED = "racelane.unfinished"
ERROR = "racelane.error"
META = "racelane"
CHUNK_SPANS = 1 << 15  # spans serialized per write
MAX_OVERLAP_TRACKS = 64  # matches the viewer's sub-row limit

_SPAN_PHASES = {"X", "B", "E"}
_MARK_PHASES = {"i", "I"}
_BOM = b"\xef\xbb\xbf"
# Times (ns) and the metadata's t0 stay within +-2**61, so every process's times fit the format's [0, 2**62).
_TIME_LIMIT = 1 << 61


# --- import -------------------------------------------------------------------
def import_chrome(path: str | os.PathLike[str]) -> Imported:
    """Convert a Chrome Trace Event JSON file into racelane native JSON Lines.

    Returns:
        ``Imported(data, report)``: the native bytes (write them to a
        ``.jsonl`` file and ``load`` it) and an ``ImportReport`` counting the
        events skipped (``path:event N: reason``) and ignored.

    Raises:
        TraceError: the file cannot be read, or is not Chrome trace JSON.
    """
    path = os.fspath(path)
    report = ImportReport(path, "chrome")
    with no_gc():
        events = _read_events(path, report)
        processes = _Builder(report).build(events)
        del events
        data = native_bytes(processes)
    report.processes = len(processes)
    report.spans = sum(len(p.spans) + len(p.opens) for p in processes)
    report.marks = sum(len(p.marks) for p in processes)
    return Imported(data, report)


def _read_events(path: str, report: ImportReport) -> list[Any]:
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as err:
        raise TraceError(f"cannot read {path}: {err.strerror or err}", path=path) from None
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    head = data.lstrip()[:1]
    if head not in (b"[", b"{"):
        raise TraceError(f"{path} is not a Chrome trace: it starts with neither '[' nor '{{'", path=path)
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _read_leniently(path, data, report)
    if type(doc) is list:
        return doc
    if type(doc) is dict and type(doc.get("traceEvents")) is list:
        return list(doc["traceEvents"])
    raise TraceError(f"{path} is not a Chrome trace: a JSON object without a 'traceEvents' array", path=path)


def _read_leniently(path: str, data: bytes, report: ImportReport) -> list[Any]:
    """Read the events of an array cut short, with a trailing comma, or with broken events."""
    text = data.decode("utf-8", errors="replace")
    start = text.find("[")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        key = text.find('"traceEvents"')
        start = text.find("[", key) if key >= 0 else -1
        if start < 0:
            raise TraceError(f"{path} is not a Chrome trace: not valid JSON and no 'traceEvents' array", path=path)
    decoder = json.JSONDecoder()
    events: list[Any] = []
    pos, n, closed = start + 1, len(text), False
    while pos < n:
        char = text[pos]
        if char in " \t\r\n,":
            pos += 1
            continue
        if char == "]":
            closed = True
            break
        try:
            event, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            resume = _next_event_line(text, max(err.pos, pos + 1))
            if resume < 0:
                report.notes.append(f"{path}: the last event is cut off; skipped")
                break
            report.problem(f"event {len(events) + 1}", f"not valid JSON ({err.msg}); skipped up to the next line")
            events.append(None)  # keep the numbering of later events
            pos = resume
            continue
        events.append(event)
    if not closed:
        report.notes.append(f"{path}: the event array is not closed; the events before the cut were read")
    return events


def _next_event_line(text: str, pos: int) -> int:
    """Return where the next line starting with ``{`` (after blanks) begins, or -1."""
    while True:
        newline = text.find("\n", pos)
        if newline < 0:
            return -1
        pos = newline + 1
        stripped = text[pos : pos + 256].lstrip(" \t\r,")
        if stripped.startswith("{") or stripped.startswith("]"):
            return pos


def _track_key(value: Any) -> int | str:
    number = small_int(value)
    if number is not None:
        return number
    return value if type(value) is str else "" if value is None else json.dumps(value, sort_keys=True, default=str)


_Open = tuple[int, int | None, int]  # (start, end or None when unfinished, span id)


class _Track:
    """One Chrome thread: its intervals, instants and open ``B`` stack."""

    __slots__ = ("intervals", "marks", "pending")

    def __init__(self) -> None:
        self.intervals: list[list[Any]] = []  # [start, end | None, seq, name, cat, args]
        self.marks: list[list[Any]] = []  # [ts, seq, name, cat, args]
        self.pending: list[tuple[int, int, dict[str, Any]]] = []  # (ts, seq, event) of B and E, sorted later


class _Builder:
    def __init__(self, report: ImportReport) -> None:
        self.report = report
        self.tracks: dict[tuple[int | str, int | str], _Track] = {}
        self.process_names: dict[int | str, str] = {}
        self.process_meta: dict[int | str, dict[str, Any]] = {}
        self.thread_names: dict[tuple[int | str, int | str], str] = {}
        self.thread_meta: dict[tuple[int | str, int | str], dict[str, Any]] = {}

    def build(self, events: list[Any]) -> list[Process]:
        for seq, event in enumerate(events):
            if event is None:
                continue
            self._event(seq, event)
        return self._processes()

    def _event(self, seq: int, event: Any) -> None:
        where = f"event {seq + 1}"
        if type(event) is not dict:
            self.report.problem(where, f"an event must be a JSON object, got {type(event).__name__}")
            return
        ph = event.get("ph")
        if type(ph) is not str:
            self.report.problem(where, "the event has no 'ph' (phase) string")
            return
        pid = _track_key(event.get("pid"))
        if ph == "M":
            self._metadata(pid, event)
            return
        if ph not in _SPAN_PHASES and ph not in _MARK_PHASES:
            self.report.ignore(ph)
            return
        ts = ns_from_us(event.get("ts"))
        if ts is None:
            self.report.problem(where, f"'ts' must be a number of microseconds, got {event.get('ts')!r:.40}")
            return
        if not -_TIME_LIMIT < ts < _TIME_LIMIT:
            self.report.problem(where, f"'ts' {event.get('ts')!r:.40} is out of range (more than 73 years from 0)")
            return
        key = (pid, _track_key(event.get("tid")))
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = _Track()
        if ph == "X":
            dur = ns_from_us(event.get("dur", 0))
            if dur is None or dur < 0 or ts + dur >= _TIME_LIMIT:
                self.report.problem(where, f"'dur' must be a number of microseconds >= 0 (and end in range), got {event.get('dur')!r:.40}")
                return
            track.intervals.append([ts, ts + dur, seq, _text(event.get("name")), _text(event.get("cat")), event.get("args")])
        elif ph in _MARK_PHASES:
            track.marks.append([ts, seq, _text(event.get("name")), _text(event.get("cat")), event.get("args")])
        else:
            track.pending.append((ts, seq, event))

    def _metadata(self, pid: int | str, event: dict[str, Any]) -> None:
        args = event.get("args")
        if type(args) is not dict:
            return
        meta = args.get(META)
        name = args.get("name")
        if event.get("name") == "process_name":
            if type(name) is str:
                self.process_names[pid] = name
            if type(meta) is dict:
                self.process_meta[pid] = meta
        elif event.get("name") == "thread_name":
            key = (pid, _track_key(event.get("tid")))
            if type(name) is str:
                self.thread_names[key] = name
            if type(meta) is dict:
                self.thread_meta[key] = meta
            self.tracks.setdefault(key, _Track())

    # --- assembling processes -------------------------------------------------
    def _processes(self) -> list[Process]:
        pids: dict[int | str, list[int | str]] = {}
        for pid, tid in list(self.tracks):
            pids.setdefault(pid, []).append(tid)
        for pid in self.process_names:
            pids.setdefault(pid, [])
        used = {p for p in pids if type(p) is int}
        synthetic = max(used, default=0)
        processes = []
        for pid in sorted(pids, key=_sort_key):
            meta = self.process_meta.get(pid, {})
            real_pid = small_int(meta.get("pid"))
            if real_pid is None:
                if type(pid) is int:
                    real_pid = pid
                else:
                    synthetic += 1
                    real_pid = synthetic
            host = _str_or(meta.get("host"), DEFAULT_HOST)
            name = _str_or(meta.get("process"), self.process_names.get(pid, ""))
            proc = Process(host=host, pid=real_pid, process=name,
                           extra={"imported": {"format": "chrome", "path": self.report.path}})
            t0 = small_int(meta.get("t0_ns")) or 0
            t0 = t0 if 0 <= t0 < _TIME_LIMIT else 0
            next_id = 1
            lane_ids = self._lane_ids(pid, sorted(pids[pid], key=_sort_key))
            for tid in sorted(pids[pid], key=_sort_key):
                lane_id = lane_ids[tid]
                key = (pid, tid)
                tmeta = self.thread_meta.get(key, {})
                lane = proc.lanes.get(lane_id)
                if lane is None:
                    lane = proc.lanes[lane_id] = Lane()
                    lane.kind = _str_or(tmeta.get("kind"), "thread")
                    lane.name = _str_or(tmeta.get("name"), self.thread_names.get(key, ""))
                    native = tmeta.get("native_id") if tmeta else tid  # racelane's metadata says when there is one
                    lane.native_id = native if type(native) is int else None
                next_id = self._track(proc, lane_id, self.tracks.get(key) or _Track(), t0, next_id)
            processes.append(proc)
        return processes

    def _lane_ids(self, pid: int | str, tids: list[int | str]) -> dict[int | str, int]:
        """Lane ids: racelane's own (from the metadata), else 1, 2, ... in tid order."""
        ids: dict[int | str, int] = {}
        for tid in tids:
            lane = small_int(self.thread_meta.get((pid, tid), {}).get("lane"))
            if lane is not None and 0 <= lane < 1 << 62:
                ids[tid] = lane
        taken = set(ids.values())
        next_id = 1
        for tid in tids:
            if tid not in ids:
                while next_id in taken:
                    next_id += 1
                ids[tid] = next_id
                taken.add(next_id)
        return ids

    def _track(self, proc: Process, lane_id: int, track: _Track, t0: int, next_id: int) -> int:
        """Turn one thread's events into rows of ``proc``; return the next free span id."""
        intervals = track.intervals
        stack: list[tuple[int, int, Any, dict[str, Any]]] = []
        for ts, seq, event in sorted(track.pending, key=lambda item: (item[0], item[1])):
            if event.get("ph") == "B":
                stack.append((ts, seq, event, dict(event["args"]) if type(event.get("args")) is dict else {}))
            elif not stack:
                self.report.problem(f"event {seq + 1}", "'E' without a matching 'B' on its thread; skipped")
            else:
                start, bseq, begin, args = stack.pop()
                if type(event.get("args")) is dict:
                    args.update(event["args"])
                intervals.append([start, ts, bseq, _text(begin.get("name")), _text(begin.get("cat")), args or None])
        for start, bseq, begin, args in stack:
            intervals.append([start, None, bseq, _text(begin.get("name")), _text(begin.get("cat")), args or None])
        # Parents by nesting: sorted by start, longer first, then file order.
        intervals.sort(key=lambda s: (s[0], -(s[1] if s[1] is not None else 1 << 63), s[2]))
        marks = sorted(track.marks, key=lambda m: (m[0], m[1]))
        open_spans: list[_Open] = []  # the spans enclosing the current time, innermost last
        m = 0
        for start, end, _seq, name, cat, args in intervals:
            m = self._marks_before(proc, lane_id, marks, m, start, open_spans, t0)
            while open_spans and _ends_before(open_spans[-1], start):
                open_spans.pop()
            parent = 0
            for above in reversed(open_spans):
                if above[1] is None or (end is not None and end <= above[1]):
                    parent = above[2]
                    break
            span_id = next_id
            next_id += 1
            attrs, error, unfinished = _attrs_of(args)
            if end is None or unfinished:
                proc.opens.append([span_id, parent, lane_id, t0 + start, name, cat])
                proc.open_attrs.append(attrs)
                end = None
            else:
                proc.spans.append([span_id, parent, lane_id, t0 + start, t0 + end, name, cat, error])
                proc.span_attrs.append(attrs)
            open_spans.append((start, end, span_id))
        self._marks_before(proc, lane_id, marks, m, None, open_spans, t0)
        return next_id

    def _marks_before(self, proc: Process, lane_id: int, marks: list[list[Any]], m: int, limit: int | None,
                      open_spans: list[_Open], t0: int) -> int:
        """Add the marks before ``limit`` (all when None) with their enclosing span; return the next mark."""
        while m < len(marks) and (limit is None or marks[m][0] < limit):
            ts, _seq, name, cat, args = marks[m]
            while open_spans and not _encloses(open_spans[-1], ts):
                open_spans.pop()
            span = open_spans[-1][2] if open_spans else 0
            attrs, _error, _unfinished = _attrs_of(args)
            proc.marks.append([lane_id, t0 + ts, name, cat, span])
            proc.mark_attrs.append(attrs)
            m += 1
        return m


def _ends_before(span: _Open, start: int) -> bool:
    """Whether an open span ended before a span starting at ``start`` (which then is not its child)."""
    begin, end = span[0], span[1]
    if end is None:
        return False
    return end < start or (end == start and begin != start)


def _encloses(span: _Open, ts: int) -> bool:
    """Whether a mark at ``ts`` was made inside an open span (``[start, end)``; a zero-length span holds its instant)."""
    end = span[1]
    return end is None or ts < end or ts == span[0]


def _attrs_of(args: Any) -> tuple[dict[str, Any] | None, list[str] | None, bool]:
    """Split Chrome args into attributes, racelane's error and unfinished flag."""
    if type(args) is not dict or not args:
        return None, None, False
    if ERROR not in args and UNFINISHED not in args:
        return args, None, False
    attrs = dict(args)
    error = attrs.pop(ERROR, None)
    unfinished = attrs.pop(UNFINISHED, False) is True
    if type(error) is dict:
        error = [_text(error.get("type")), _text(error.get("message"))]
    elif not (type(error) is list and len(error) == 2 and all(type(v) is str for v in error)):
        error = None
    return attrs or None, error, unfinished


def _str_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) else default


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    return "" if value is None else str(value)


def _sort_key(value: int | str) -> tuple[int, int, str]:
    return (0, value, "") if type(value) is int else (1, 0, str(value))


# --- export -------------------------------------------------------------------
def export_chrome(trace: Trace, out_path: str | os.PathLike[str]) -> int:
    """Write ``trace`` as Chrome Trace Event JSON (array form) to ``out_path``; return the events written.

    The file is written under a temporary name beside ``out_path`` and
    renamed when complete, so a failed export leaves no partial file.
    """
    return write_atomically(out_path, ".json.tmp", lambda out: _write_chrome(trace, out))


def _write_chrome(trace: Trace, out: Any) -> int:
    spans, lanes, marks = trace.spans, trace.lanes, trace.marks
    t0 = trace.t0_ns
    pids = _chrome_pids(trace)
    # One track per (lane, sub-row): sub-row 0 keeps the lane's id as tid.
    nlanes = len(lanes)
    sub = np.minimum(spans.sub_row.astype(np.int64), MAX_OVERLAP_TRACKS - 1)
    track_key = spans.lane.astype(np.int64) * MAX_OVERLAP_TRACKS + sub
    keys = np.union1d(np.arange(nlanes, dtype=np.int64) * MAX_OVERLAP_TRACKS, track_key[sub > 0])
    tid_of_key = np.empty(len(keys), np.int64)
    pid_of_key = np.empty(len(keys), np.int64)
    meta: list[bytes] = []
    next_tid: dict[int, int] = {}
    for f in range(len(pids)):
        in_file = np.flatnonzero(lanes.file == f)
        next_tid[f] = int(lanes.lane_id[in_file].max()) + 1 if len(in_file) else 1
    for k, key in enumerate(keys.tolist()):
        lane, n = divmod(key, MAX_OVERLAP_TRACKS)
        f = int(lanes.file[lane])
        if n == 0:
            tid = int(lanes.lane_id[lane])
        else:
            tid = next_tid[f]
            next_tid[f] += 1
        tid_of_key[k], pid_of_key[k] = tid, pids[f]
        label = lanes.label[lane] or lanes.name[lane] or f"lane {int(lanes.lane_id[lane])}"
        info: dict[str, Any] = {"lane": int(lanes.lane_id[lane]), "kind": lanes.kind[lane], "name": lanes.name[lane]}
        if int(lanes.native_id[lane]) >= 0:
            info["native_id"] = int(lanes.native_id[lane])
        if n:
            info["overlap"] = n
        meta.append(orjson.dumps({"ph": "M", "name": "thread_name", "pid": pids[f], "tid": tid,
                                  "args": {"name": label if n == 0 else f"{label} (overlap {n})", META: info}}))
        meta.append(orjson.dumps({"ph": "M", "name": "thread_sort_index", "pid": pids[f], "tid": tid,
                                  "args": {"sort_index": int(key)}}))
    for f, (pid, file) in enumerate(zip(pids, trace.files)):
        label = f"{file.host} · {file.process or 'process'} ({file.pid})"
        info = {"host": file.host, "process": file.process, "pid": file.pid, "t0_ns": t0}
        meta.append(orjson.dumps({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": label, META: info}}))
        meta.append(orjson.dumps({"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": f}}))
    out.write(b"[\n")
    out.write(b",\n".join(meta))
    written = len(meta)
    span_track = np.searchsorted(keys, track_key)
    prefixes = _Prefixes(trace, pid_of_key.tolist(), tid_of_key.tolist())
    for first in range(0, len(spans), CHUNK_SPANS):
        rows = np.arange(first, min(first + CHUNK_SPANS, len(spans)))
        written += _write_spans(trace, out, rows, t0, prefixes.of(spans.name[rows], spans.cat[rows], span_track[rows]),
                                written > 0)
    if len(marks):
        mark_key = marks.lane.astype(np.int64) * MAX_OVERLAP_TRACKS
        has_span = marks.span >= 0
        mark_key[has_span] = track_key[marks.span[has_span]]
        mark_track = np.searchsorted(keys, mark_key).tolist()
        names, cats = trace.names, trace.cats
        for first in range(0, len(marks), CHUNK_SPANS):
            stop = min(first + CHUNK_SPANS, len(marks))
            events = []
            ts = ((marks.ts_ns[first:stop] - t0) / 1000).tolist()
            for row, when in zip(range(first, stop), ts):
                track = mark_track[row]
                event = {"ph": "i", "s": "t", "name": names[marks.name[row]], "cat": cats[marks.cat[row]],
                         "pid": int(pid_of_key[track]), "tid": int(tid_of_key[track]), "ts": when}
                attrs = trace.mark_attrs(row)
                if attrs:
                    event["args"] = attrs
                events.append(event)
            out.write(b",\n" if written else b"")
            out.write(orjson.dumps(events)[1:-1])
            written += len(events)
    out.write(b"\n]\n")
    return written


class _Prefixes:
    """The fixed part of X events, ``"X","name":..,"cat":..,"pid":..,"tid":..``, one per (name, cat, track).

    Serialized once and handed to orjson as a ``Fragment`` in the value of
    ``ph``, so each event is a 4-key dict: building a million 8-key dicts
    costs more than the rest of the export.
    """

    def __init__(self, trace: Trace, pids: list[int], tids: list[int]) -> None:
        self.names = [orjson.dumps(n) for n in trace.names]
        self.cats = [orjson.dumps(c) for c in trace.cats]
        self.pids, self.tids = pids, tids
        self.ncats, self.ntracks = max(1, len(trace.cats)), max(1, len(pids))
        self.packed = len(trace.names) * self.ncats * self.ntracks < 1 << 62
        self.cache: dict[Any, Any] = {}

    def of(self, name: np.ndarray, cat: np.ndarray, track: np.ndarray) -> list[Any]:
        if self.packed:
            key = (name.astype(np.int64) * self.ncats + cat) * self.ntracks + track
            unique, inverse = np.unique(key, return_inverse=True)
            triples = [divmod(k, self.ntracks) for k in unique.tolist()]
            triples = [(*divmod(nc, self.ncats), t) for nc, t in triples]
        else:
            stacked = np.stack([name.astype(np.int64), cat.astype(np.int64), track.astype(np.int64)], axis=1)
            unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
            triples = [tuple(k) for k in unique.tolist()]
        made = []
        for triple in triples:
            fragment = self.cache.get(triple)
            if fragment is None:
                n, c, t = triple
                text = b'"X","name":%s,"cat":%s,"pid":%d,"tid":%d' % (self.names[n], self.cats[c], self.pids[t], self.tids[t])
                fragment = self.cache[triple] = _fragment(text)
            made.append(fragment)
        return list(map(made.__getitem__, inverse.reshape(-1).tolist()))


def _fragment(text: bytes) -> Any:
    fragment = getattr(orjson, "Fragment", None)
    return fragment(text) if fragment is not None else orjson.loads(b"{\"ph\":" + text + b"}")


def _write_spans(trace: Trace, out: Any, rows: np.ndarray, t0: int, prefixes: list[Any], comma: bool) -> int:
    spans = trace.spans
    start = spans.start_ns[rows]
    ts = ((start - t0) / 1000).tolist()
    dur = ((spans.end_ns[rows] - start) / 1000).tolist()
    args = trace.attrs_many(rows)
    for k in np.flatnonzero(spans.open[rows] | spans.error[rows]).tolist():
        row = int(rows[k])
        if spans.open[row]:
            args[k][UNFINISHED] = True
        error = trace.error(row)
        if error is not None:
            args[k][ERROR] = {"type": error[0], "message": error[1]}
    if prefixes and type(prefixes[0]) is dict:  # an orjson without Fragment: whole dicts
        events = [{**p, "ts": s, "dur": d, "args": a} if a else {**p, "ts": s, "dur": d}
                  for p, s, d, a in zip(prefixes, ts, dur, args)]
    else:
        events = [{"ph": p, "ts": s, "dur": d, "args": a} if a else {"ph": p, "ts": s, "dur": d}
                  for p, s, d, a in zip(prefixes, ts, dur, args)]
    if comma:
        out.write(b",\n")
    out.write(orjson.dumps(events)[1:-1])
    return len(events)


def _chrome_pids(trace: Trace) -> list[int]:
    """Return one Chrome pid per racelane process: its own pid, or a free one when taken."""
    taken: set[int] = set()
    pids = []
    for file in trace.files:
        pid = file.pid if file.pid >= 0 and file.pid not in taken else -1
        if pid < 0:
            pid = max(taken | {file.pid, 0}) + 1
        taken.add(pid)
        pids.append(pid)
    return pids

