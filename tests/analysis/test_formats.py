"""Chrome Trace Event JSON and OTLP/JSON: sniffing, import, export, and round trips through racelane."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from canonical import canonical, diff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracefiles import MONO0, WALL0, batch, header, span_row

from tracer.analysis import TraceError, load
from tracer.analysis.formats import (
    export_chrome,
    export_otlp,
    export_racelane,
    import_chrome,
    import_file,
    import_otlp,
    sniff,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
SAMPLE_INPUTS = [
    [SAMPLES / "nova-1896463-buggy.jsonl"],
    [SAMPLES / "nova-1896463-fixed.jsonl"],
    [SAMPLES / "nova-1896463-buggy-lucky.jsonl"],
    [SAMPLES / "nova-1896463-fixed-other-order.jsonl"],
    sorted((SAMPLES / "multi-host-skew").glob("*.jsonl")),
]


def write_lines(path: Path, records: list[Any]) -> str:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return str(path)


def write_json(path: Path, value: Any) -> str:
    path.write_bytes(value if isinstance(value, bytes) else orjson.dumps(value))
    return str(path)


def imported(path: str, tmp: Path, name: str = "imported.jsonl") -> Any:
    """Import a foreign file (sniffed), load the native bytes; return (trace, import report)."""
    data, report = import_file(path)
    native = tmp / name
    native.write_bytes(data)
    return load([str(native)]).trace, report


def via_chrome(trace: Any, tmp: Path) -> Any:
    out = tmp / "out.json"
    export_chrome(trace, out)
    assert sniff(out) == "chrome"
    again, report = imported(str(out), tmp, "from-chrome.jsonl")
    assert report.skipped == 0 and not report.ignored, report
    return again


def via_otlp(trace: Any, tmp: Path) -> Any:
    out = tmp / "out.otlp.jsonl"
    export_otlp(trace, out)
    assert sniff(out) == "otlp"
    again, report = imported(str(out), tmp, "from-otlp.jsonl")
    assert report.skipped == 0, report
    return again


def assert_same(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before == after, diff(before, after)


# --- round trips of the committed samples ------------------------------------------
@pytest.mark.parametrize("paths", SAMPLE_INPUTS, ids=lambda p: p[0].parent.name if len(p) > 1 else p[0].stem)
def test_samples_round_trip_through_chrome(paths: list[Path], tmp_path: Path) -> None:
    trace = load(paths).trace
    again = via_chrome(trace, tmp_path)
    # Chrome instants do not say which span they were made in; times are exact (µs with ns fractions).
    assert_same(canonical(trace, mark_spans=False), canonical(again, mark_spans=False))


@pytest.mark.parametrize("paths", SAMPLE_INPUTS, ids=lambda p: p[0].parent.name if len(p) > 1 else p[0].stem)
def test_samples_round_trip_through_otlp(paths: list[Path], tmp_path: Path) -> None:
    trace = load(paths).trace
    again = via_otlp(trace, tmp_path)
    assert_same(canonical(trace, used_lanes_only=True), canonical(again, used_lanes_only=True))


@pytest.mark.parametrize("paths", SAMPLE_INPUTS, ids=lambda p: p[0].parent.name if len(p) > 1 else p[0].stem)
def test_samples_round_trip_through_one_racelane_file(paths: list[Path], tmp_path: Path) -> None:
    trace = load(paths).trace
    export_racelane(trace, tmp_path / "merged.jsonl")
    again = load([tmp_path / "merged.jsonl"])
    assert again.report.skipped_lines == 0
    assert_same(canonical(trace), canonical(again.trace))
    assert [f.end_ns for f in again.trace.files] == [f.end_ns for f in trace.files]


def test_two_hosts_stay_two_processes_in_chrome(tmp_path: Path) -> None:
    trace = load([SAMPLES / "nova-1896463-buggy.jsonl"]).trace
    export_chrome(trace, tmp_path / "out.json")
    events = orjson.loads((tmp_path / "out.json").read_bytes())
    names = {e["pid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert names == {3117: "host1 · nova-compute (3117)", 4242: "host2 · nova-compute (4242)"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert threads[(4242, 1)] == "rpc rebuild_instance 5f8d2a64"
    spans = [e for e in events if e["ph"] == "X"]
    assert len(spans) == len(trace.spans)
    assert min(e["ts"] for e in spans) == 0


# --- overlapping spans in one greenthread lane ---------------------------------------
def overlapping_trace(tmp: Path) -> str:
    """Lane 1 (a greenthread): ``a`` [0, 10 µs] and ``b`` [5, 15 µs] overlap without nesting; ``c`` nests in b."""
    return write_lines(tmp / "overlap.jsonl", [
        header("h1", pid=7, process="svc"),
        {"type": "lane", "lane": 1, "kind": "greenthread", "name": "pool", "native_id": None, "spawned_by": None},
        {"type": "lane", "lane": 2, "kind": "thread", "name": "idle", "native_id": 4711, "spawned_by": None},
        batch("spans", [span_row(11, 0, 1, 0, 10_000, "a", "db"), span_row(12, 0, 1, 5_000, 15_000, "b", "db"),
                        span_row(13, 12, 1, 6_000, 8_001, "c", "lock", ["ValueError", "boom"])],
              [{"k": 1}, None, {"nested": {"x": [1, 2.5, None, True]}}]),
        batch("open", [[14, 12, 1, MONO0 + 9_000, "stuck", "audit"]], [{"why": "never ends"}]),
        batch("marks", [[1, MONO0 + 7_000, "m", "evt", 13], [1, MONO0 + 20_000, "late", "", 0]], [{"v": "x"}, None]),
    ])


def test_overlapping_lane_goes_to_an_extra_chrome_track(tmp_path: Path) -> None:
    trace = load([overlapping_trace(tmp_path)]).trace
    assert trace.spans.sub_row.max() > 0
    export_chrome(trace, tmp_path / "out.json")
    events = orjson.loads((tmp_path / "out.json").read_bytes())
    threads = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert threads[1] == "pool" and threads[2] == "idle"
    overlap = [tid for tid, name in threads.items() if name == "pool (overlap 1)"]
    assert len(overlap) == 1
    by_name = {e["name"]: e for e in events if e["ph"] == "X"}
    assert by_name["a"]["tid"] == 1 and by_name["b"]["tid"] == overlap[0] and by_name["c"]["tid"] == overlap[0]
    assert by_name["c"]["args"]["racelane.error"] == {"type": "ValueError", "message": "boom"}
    assert by_name["stuck"]["args"]["racelane.unfinished"] is True
    assert by_name["b"]["ts"] == 5.0 and by_name["c"]["dur"] == 2.001
    # Every Chrome thread's X events nest, as Perfetto requires.
    for tid in threads:
        stack: list[float] = []
        for e in sorted((e for e in events if e["ph"] == "X" and e["tid"] == tid), key=lambda e: (e["ts"], -e["dur"])):
            while stack and stack[-1] <= e["ts"]:
                stack.pop()
            assert not stack or e["ts"] + e["dur"] <= stack[-1], (tid, e)
            stack.append(e["ts"] + e["dur"])


def test_overlapping_lane_round_trips(tmp_path: Path) -> None:
    trace = load([overlapping_trace(tmp_path)]).trace
    assert_same(canonical(trace, mark_spans=False), canonical(via_chrome(trace, tmp_path), mark_spans=False))
    otlp = via_otlp(trace, tmp_path)
    assert_same(canonical(trace, used_lanes_only=True), canonical(otlp, used_lanes_only=True))
    assert otlp.error(int(otlp.spans.error.nonzero()[0][0])) == ("ValueError", "boom")


# --- Chrome import ---------------------------------------------------------------------
def test_chrome_array_form_with_nesting_metadata_and_instants(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "browser"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 5, "args": {"name": "main"}},
        {"ph": "X", "name": "outer", "cat": "c1", "pid": 1, "tid": 5, "ts": 100, "dur": 50, "args": {"a": 1}},
        {"ph": "B", "name": "inner", "cat": "c2", "pid": 1, "tid": 5, "ts": 110.5, "args": {"b": 2}},
        {"ph": "E", "pid": 1, "tid": 5, "ts": "120.25", "args": {"result": "ok"}},
        {"ph": "i", "name": "tick", "pid": 1, "tid": 5, "ts": 115, "s": "t", "args": {"n": 3}},
        {"ph": "X", "name": "other", "pid": 1, "tid": 6, "ts": "200", "dur": "1.5"},
        {"ph": "C", "name": "counter", "pid": 1, "ts": 1, "args": {"v": 1}},
        {"ph": "s", "name": "flow", "pid": 1, "tid": 5, "ts": 1, "id": 1},
    ])
    assert sniff(path) == "chrome"
    trace, report = imported(path, tmp_path)
    assert report.skipped == 0 and report.ignored == {"C": 1, "s": 1}
    assert len(trace.files) == 1 and trace.files[0].process == "browser" and trace.files[0].pid == 1
    spans = {trace.span_name(i): i for i in range(len(trace.spans))}
    outer, inner = spans["outer"], spans["inner"]
    assert int(trace.spans.start_ns[outer]) == 100_000 and int(trace.spans.end_ns[outer]) == 150_000
    assert int(trace.spans.start_ns[inner]) == 110_500 and int(trace.spans.end_ns[inner]) == 120_250
    assert trace.spans.parent[inner] == outer and trace.spans.depth[inner] == 1
    assert trace.attrs(inner) == {"b": 2, "result": "ok"} and trace.attrs(outer) == {"a": 1}
    assert trace.cats[trace.spans.cat[inner]] == "c2"
    assert int(trace.spans.end_ns[spans["other"]]) - int(trace.spans.start_ns[spans["other"]]) == 1_500
    lanes = {trace.lanes.name[i]: i for i in range(len(trace.lanes))}
    assert set(lanes) == {"main", ""} and trace.lanes.native_id[lanes["main"]] == 5
    assert len(trace.marks) == 1 and trace.names[trace.marks.name[0]] == "tick"
    assert trace.marks.span[0] == inner and trace.mark_attrs(0) == {"n": 3}


def test_chrome_object_form(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", {"displayTimeUnit": "ns", "otherData": {"x": 1}, "traceEvents": [
        {"ph": "X", "name": "a", "pid": 3, "tid": 3, "ts": 1, "dur": 2}]})
    assert sniff(path) == "chrome"
    trace, _ = imported(path, tmp_path)
    assert len(trace.spans) == 1 and int(trace.spans.dur_ns[0]) == 2_000  # displayTimeUnit is ignored


def test_chrome_pretty_printed_object_form_is_sniffed(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", orjson.dumps({"metadata": {"a": 1}, "traceEvents": [
        {"ph": "X", "name": "a", "pid": 3, "tid": 3, "ts": 1, "dur": 2}]}, option=orjson.OPT_INDENT_2))
    assert sniff(path) == "chrome"


@pytest.mark.parametrize("tail", [b"", b",", b",\n", b"\n", b',\n{"ph":"X","name":"cut","pid":1,"ts":3'])
def test_chrome_unterminated_array_and_trailing_comma(tmp_path: Path, tail: bytes) -> None:
    data = b'[{"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":1},\n{"ph":"X","name":"b","pid":1,"tid":1,"ts":5,"dur":1}' + tail
    trace, report = imported(write_json(tmp_path / "t.json", data), tmp_path)
    assert sorted(trace.span_name(i) for i in range(len(trace.spans))) == ["a", "b"]
    assert report.skipped == 0
    assert any("not closed" in note for note in report.notes)


def test_chrome_trailing_comma_in_closed_array(tmp_path: Path) -> None:
    data = b'[{"ph":"X","name":"a","pid":1,"tid":1,"ts":1,"dur":1},]'
    trace, report = imported(write_json(tmp_path / "t.json", data), tmp_path)
    assert len(trace.spans) == 1 and report.skipped == 0 and not report.notes


def test_chrome_unmatched_begin_is_unfinished_and_stray_end_is_counted(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", [
        {"ph": "B", "name": "outer", "pid": 1, "tid": 1, "ts": 10},
        {"ph": "B", "name": "inner", "pid": 1, "tid": 1, "ts": 20},
        {"ph": "E", "pid": 1, "tid": 1, "ts": 30},
        {"ph": "E", "pid": 1, "tid": 2, "ts": 40},
        {"ph": "X", "name": "later", "pid": 1, "tid": 2, "ts": 100, "dur": 10},
    ])
    trace, report = imported(path, tmp_path)
    spans = {trace.span_name(i): i for i in range(len(trace.spans))}
    assert bool(trace.spans.open[spans["outer"]]) and not trace.spans.open[spans["inner"]]
    assert int(trace.spans.end_ns[spans["outer"]]) == trace.end_ns == 110_000
    assert report.skipped == 1 and report.problems == [f"{path}:event 4: 'E' without a matching 'B' on its thread; skipped"]


def test_chrome_end_matches_begin_in_time_order_not_file_order(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", [
        {"ph": "E", "pid": 1, "tid": 1, "ts": 30},
        {"ph": "B", "name": "a", "pid": 1, "tid": 1, "ts": 10},
    ])
    trace, report = imported(path, tmp_path)
    assert report.skipped == 0 and int(trace.spans.dur_ns[0]) == 20_000


def test_chrome_malformed_events_are_skipped_and_counted(tmp_path: Path) -> None:
    data = b"\n".join([
        b"[",
        b'{"ph":"X","name":"good","pid":1,"tid":1,"ts":1,"dur":1},',
        b'{"ph":"X","name":"broken",,},',
        b'{"ph":"X","name":"no ts","pid":1,"tid":1,"dur":1},',
        b'{"ph":"X","name":"bad dur","pid":1,"tid":1,"ts":1,"dur":-4},',
        b'{"name":"no phase"},',
        b"42,",
        b'{"ph":"X","name":"also good","pid":1,"tid":1,"ts":"x1","dur":1},',
        b'{"ph":"X","name":"fine","pid":1,"tid":1,"ts":9,"dur":1}',
        b"]",
    ])
    path = write_json(tmp_path / "t.json", data)
    trace, report = imported(path, tmp_path)
    assert sorted(trace.span_name(i) for i in range(len(trace.spans))) == ["fine", "good"]
    assert report.skipped == 6
    assert report.problems[0].startswith(f"{path}:event 2: not valid JSON")
    assert f"{path}:event 3: 'ts' must be a number of microseconds, got None" in report.problems
    assert f"{path}:event 6: an event must be a JSON object, got int" in report.problems


def test_chrome_pid_and_tid_as_strings(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", [
        {"ph": "X", "name": "a", "pid": "12", "tid": "main", "ts": 1, "dur": 1},
        {"ph": "X", "name": "b", "pid": "renderer", "tid": 3, "ts": 1, "dur": 1},
    ])
    trace, _ = imported(path, tmp_path)
    assert sorted(f.pid for f in trace.files) == [12, 13]


def test_chrome_timestamps_keep_nanoseconds(tmp_path: Path) -> None:
    path = write_json(tmp_path / "t.json", b'[{"ph":"X","name":"a","pid":1,"tid":1,"ts":"1790243999750000.123","dur":0.001}]')
    trace, _ = imported(path, tmp_path)
    assert int(trace.spans.start_ns[0]) == 1_790_243_999_750_000_123 and int(trace.spans.dur_ns[0]) == 1


def test_not_a_trace_is_a_trace_error_naming_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert sniff(text) is None
    with pytest.raises(TraceError, match=r"notes\.txt is not a racelane, Chrome"):
        import_file(text)
    other = write_json(tmp_path / "other.json", {"data": []})
    assert sniff(other) is None
    with pytest.raises(TraceError, match=r"other\.json is not a Chrome trace"):
        import_chrome(other)
    with pytest.raises(TraceError, match=r"other\.json is not OTLP/JSON trace data"):
        import_otlp(other)
    with pytest.raises(TraceError, match="cannot read"):
        sniff(tmp_path / "missing.json")


def test_sniff_racelane(tmp_path: Path) -> None:
    assert sniff(SAMPLES / "nova-1896463-buggy.jsonl") == "racelane"
    assert sniff(write_lines(tmp_path / "x.jsonl", [{"type": "header", "format": "other"}])) is None


# --- OTLP import -----------------------------------------------------------------------
TRACE_ID = "5B8EFFF798038103D269B633813FC60C"
ROOT_ID = "EEE19B7EC3C1B174"
CHILD_ID = "EEE19B7EC3C1B173"


def otlp_doc(*, base64_ids: bool = False, numbers: bool = False) -> dict[str, Any]:
    def ident(value: str) -> str:
        return base64.b64encode(bytes.fromhex(value)).decode() if base64_ids else value

    def ns(value: int) -> Any:
        return value if numbers else str(value)

    return {"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "api"}},
            {"key": "host.name", "value": {"stringValue": "web-1"}},
            {"key": "process.pid", "value": {"intValue": "321"}},
            {"key": "deployment.environment", "value": {"stringValue": "test"}},
        ]},
        "scopeSpans": [{"scope": {"name": "my.library", "version": "1.0"}, "spans": [
            {"traceId": ident(TRACE_ID), "spanId": ident(ROOT_ID), "name": "GET /items", "kind": 2,
             "startTimeUnixNano": ns(1_700_000_000_000_000_000), "endTimeUnixNano": ns(1_700_000_000_500_000_001),
             "attributes": [
                 {"key": "http.method", "value": {"stringValue": "GET"}},
                 {"key": "retries", "value": {"intValue": "3"}},
                 {"key": "ratio", "value": {"doubleValue": 0.5}},
                 {"key": "cached", "value": {"boolValue": False}},
                 {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": 7}]}}},
                 {"key": "meta", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
                 {"key": "empty", "value": {}},
             ],
             "events": [{"timeUnixNano": ns(1_700_000_000_100_000_000), "name": "cache miss",
                         "attributes": [{"key": "key", "value": {"stringValue": "items"}}]}],
             "status": {"code": 2, "message": "upstream timeout"}},
            {"traceId": ident(TRACE_ID), "spanId": ident(CHILD_ID), "parentSpanId": ident(ROOT_ID), "name": "SELECT",
             "kind": 3, "startTimeUnixNano": ns(1_700_000_000_100_000_000), "endTimeUnixNano": ns(1_700_000_000_200_000_000),
             "attributes": [{"key": "thread.id", "value": {"intValue": "42"}},
                            {"key": "thread.name", "value": {"stringValue": "db-pool-1"}}], "status": {}},
        ]}],
    }]}


@pytest.mark.parametrize("base64_ids", [False, True], ids=["hex", "base64"])
@pytest.mark.parametrize("numbers", [False, True], ids=["string-ns", "number-ns"])
def test_otlp_single_document(tmp_path: Path, base64_ids: bool, numbers: bool) -> None:
    path = write_json(tmp_path / "t.json", orjson.dumps(otlp_doc(base64_ids=base64_ids, numbers=numbers), option=orjson.OPT_INDENT_2))
    assert sniff(path) == "otlp"
    trace, report = imported(path, tmp_path)
    assert report.skipped == 0 and report.spans == 2 and report.marks == 1
    (file,) = trace.files
    assert (file.host, file.process, file.pid) == ("web-1", "api", 321)
    assert file.header["resource"] == {"deployment.environment": "test"}
    spans = {trace.span_name(i): i for i in range(len(trace.spans))}
    root, child = spans["GET /items"], spans["SELECT"]
    assert int(trace.spans.start_ns[root]) == 1_700_000_000_000_000_000
    assert int(trace.spans.end_ns[root]) == 1_700_000_000_500_000_001
    assert int(trace.spans.span_id[root]) == int(ROOT_ID, 16)
    assert trace.spans.parent[child] == root
    assert trace.attrs(root) == {"http.method": "GET", "retries": 3, "ratio": 0.5, "cached": False, "tags": ["a", 7],
                                 "meta": {"k": "v"}, "empty": None, "otel.span_kind": "SERVER"}
    assert trace.attrs(child) == {"otel.span_kind": "CLIENT"}
    assert trace.error(root) == ("Error", "upstream timeout") and trace.error(child) is None
    assert trace.cats[trace.spans.cat[root]] == "my.library"
    lane_of = {trace.lanes.name[i]: i for i in range(len(trace.lanes))}
    assert set(lane_of) == {"GET /items [5b8efff7]", "db-pool-1"}
    assert trace.lanes.lane_id[lane_of["db-pool-1"]] == 42 and trace.lanes.kind[lane_of["db-pool-1"]] == "thread"
    assert trace.lanes.kind[lane_of["GET /items [5b8efff7]"]] == "task"
    assert trace.lanes.spawned_by[lane_of["db-pool-1"]] == root
    assert trace.names[trace.marks.name[0]] == "cache miss" and trace.marks.span[0] == root
    assert trace.mark_attrs(0) == {"key": "items"}


def test_otlp_json_lines_with_a_bad_line(tmp_path: Path) -> None:
    doc = otlp_doc()
    first, second = dict(doc), orjson.loads(orjson.dumps(doc))
    first["resourceSpans"][0]["scopeSpans"][0]["spans"] = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][:1]
    second["resourceSpans"][0]["scopeSpans"][0]["spans"] = second["resourceSpans"][0]["scopeSpans"][0]["spans"][1:]
    bad_span = {"traceId": "zz", "spanId": "00", "name": "bad", "startTimeUnixNano": "1"}
    second["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad_span)
    data = orjson.dumps(first) + b"\n{not json\n" + orjson.dumps(second) + b"\n"
    path = write_json(tmp_path / "t.otlp.jsonl", data)
    assert sniff(path) == "otlp"
    trace, report = imported(path, tmp_path)
    assert len(trace.files) == 1 and len(trace.spans) == 2  # one resource, read from two lines
    assert report.skipped == 2
    assert report.problems[0].startswith(f"{path}:line 2: not valid JSON")
    assert report.problems[1].startswith(f"{path}:span 3: bad traceId/spanId")


def test_otlp_unfinished_and_bad_times(tmp_path: Path) -> None:
    span = {"traceId": TRACE_ID, "spanId": ROOT_ID, "name": "running", "startTimeUnixNano": "1000"}
    backwards = dict(span, spanId=CHILD_ID, name="backwards", endTimeUnixNano="10")
    path = write_json(tmp_path / "t.json", {"resourceSpans": [{"scopeSpans": [{"spans": [span, backwards]}]}]})
    trace, report = imported(path, tmp_path)
    assert len(trace.spans) == 1 and bool(trace.spans.open[0])
    assert trace.files[0].host == "unknown"
    assert report.skipped == 1 and "before 'startTimeUnixNano'" in report.problems[0]


# --- a property: random traces survive both round trips -----------------------------------
NAMES = st.sampled_from(["a", "db.query", "lock.wait res", "lock.held res", "ünï code", ""])
CATS = st.sampled_from(["", "db", "lock", "audit"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 63), (1 << 63) - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                      max_leaves=6)
ATTRS = st.one_of(st.none(), st.dictionaries(st.sampled_from(["k", "n", "host", "x.y", "ü"]), VALUES, min_size=1, max_size=3))


@st.composite
def native_traces(draw: Any) -> list[Any]:
    """Native records of 1 or 2 processes (different hosts), each with lanes, spans, unfinished spans and marks."""
    records: list[Any] = []
    for p in range(draw(st.integers(1, 2))):
        mono = draw(st.integers(0, 10**12))
        records.append(header(f"host{p}", pid=100 + p, mono=mono, wall=WALL0 + draw(st.integers(-10**9, 10**9)),
                              process=draw(st.sampled_from(["nova-compute", "api", ""]))))
        next_id = 1 + p * 1000
        for lane in range(1, draw(st.integers(1, 3)) + 1):
            records.append({"type": "lane", "lane": lane, "kind": draw(st.sampled_from(["thread", "greenthread", "task"])),
                            "name": draw(st.sampled_from(["main", "worker", ""])), "native_id": None, "spawned_by": None})
            rows, attrs, ids = [], [], []
            for _ in range(draw(st.integers(1, 6))):
                start = draw(st.integers(0, 50_000))
                end = start + draw(st.integers(0, 20_000))
                error = draw(st.one_of(st.none(), st.tuples(st.text(max_size=5), st.text(max_size=5)).map(list)))
                rows.append([next_id, 0, lane, mono + start, mono + end, draw(NAMES), draw(CATS), error])
                attrs.append(draw(ATTRS))
                ids.append((next_id, start, end))
                next_id += 1
            records.append(batch("spans", rows, attrs))
            if draw(st.booleans()):
                records.append(batch("open", [[next_id, 0, lane, mono + draw(st.integers(0, 50_000)), draw(NAMES), draw(CATS)]],
                                     [draw(ATTRS)]))
                next_id += 1
            marks, mark_attrs = [], []
            for _ in range(draw(st.integers(0, 3))):
                span_id, start, end = draw(st.sampled_from([(0, 0, 60_000), *ids]))
                marks.append([lane, mono + draw(st.integers(start, end)), draw(NAMES), draw(CATS), span_id])
                mark_attrs.append(draw(ATTRS))
            if marks:
                records.append(batch("marks", marks, mark_attrs))
    return records


@settings(max_examples=int(os.environ.get("RT_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(records=native_traces())
def test_random_traces_round_trip(tmp_path: Path, records: list[Any]) -> None:
    path = write_lines(tmp_path / "random.jsonl", records)
    trace = load([path]).trace
    chrome = via_chrome(trace, tmp_path)
    assert_same(canonical(trace, mark_spans=False), canonical(chrome, mark_spans=False))
    otlp = via_otlp(trace, tmp_path)
    assert_same(canonical(trace, used_lanes_only=True), canonical(otlp, used_lanes_only=True))
    export_racelane(trace, tmp_path / "again.jsonl")
    assert_same(canonical(trace), canonical(load([tmp_path / "again.jsonl"]).trace))


def test_exports_write_nothing_on_failure(tmp_path: Path) -> None:
    trace = load([SAMPLES / "nova-1896463-buggy.jsonl"]).trace
    with pytest.raises(OSError):
        export_chrome(trace, tmp_path / "missing-dir" / "out.json")
    assert not os.listdir(tmp_path)


def test_unix_times_before_the_anchor_and_pid_clash(tmp_path: Path) -> None:
    """Two processes with one pid get two Chrome pids; their own pids come back on import."""
    path = write_lines(tmp_path / "two.jsonl", [
        header("a", pid=5), batch("spans", [span_row(1, 0, 1, 0, 10, "x")]),
        header("b", pid=5, mono=MONO0 - 1000), batch("spans", [span_row(2, 0, 1, 0, 10, "y")]),
    ])
    trace = load([path]).trace
    export_chrome(trace, tmp_path / "out.json")
    events = orjson.loads((tmp_path / "out.json").read_bytes())
    assert len({e["pid"] for e in events}) == 2
    again = via_chrome(trace, tmp_path)
    assert sorted((f.host, f.pid) for f in again.files) == [("a", 5), ("b", 5)]
    assert_same(canonical(trace), canonical(again))


def test_chrome_values_orjson_cannot_write_are_kept_as_text(tmp_path: Path) -> None:
    # NaN is not JSON: the lenient reader (Python's json) reads this file, and keeps the integer exact.
    data = b'[{"ph":"X","name":"a","pid":1180591620717411303424,"tid":1,"ts":1,"dur":1,"args":{"big":1180591620717411303424}},' \
           b'{"ph":"X","name":"b","pid":1,"tid":1,"ts":NaN,"dur":1}]'
    trace, report = imported(write_json(tmp_path / "t.json", data), tmp_path)
    assert trace.attrs(0) == {"big": "1180591620717411303424"}
    assert report.skipped == 1 and "'ts' must be a number" in report.problems[0]


# --- whatever the input, imports either work or raise TraceError ------------------------------
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                    max_leaves=12)
CHROME_EVENT = st.fixed_dictionaries(
    {"ph": st.sampled_from(["X", "B", "E", "i", "I", "M", "C", "b"]) | JSON},
    optional={"name": JSON, "cat": JSON, "pid": st.integers(-3, 3) | JSON, "tid": st.integers(-3, 3) | JSON,
              "ts": st.integers(-10, 10**6) | st.floats() | st.text(max_size=6) | JSON, "dur": st.integers(-5, 10**3) | JSON,
              "args": JSON, "s": JSON})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(CHROME_EVENT | JSON, max_size=12), cut=st.integers(0, 400))
def test_chrome_import_never_crashes(tmp_path: Path, events: list[Any], cut: int) -> None:
    import json

    data = json.dumps(events).encode()
    data = data[: max(1, len(data) - cut)] if cut % 3 == 0 else data
    path = write_json(tmp_path / "fuzz.json", data)
    try:
        native, _ = import_chrome(path)
    except TraceError:
        return
    if native:
        (tmp_path / "fuzz.jsonl").write_bytes(native)
        result = load([tmp_path / "fuzz.jsonl"], strict=True)
        assert result.report.skipped_lines == 0


OTLP_SPAN = st.fixed_dictionaries(
    {"traceId": st.sampled_from([TRACE_ID, TRACE_ID.lower(), "", "xyz"]) | JSON,
     "spanId": st.sampled_from([ROOT_ID, CHILD_ID, "AAAAAAAAAAA=", "0000000000000000"]) | JSON},
    optional={"parentSpanId": st.sampled_from([ROOT_ID, ""]) | JSON, "name": JSON, "kind": JSON,
              "startTimeUnixNano": st.integers(-5, 10**18).map(str) | JSON, "endTimeUnixNano": st.integers(-5, 10**18) | JSON,
              "attributes": st.lists(st.fixed_dictionaries({"key": JSON, "value": JSON}), max_size=3) | JSON,
              "events": st.lists(st.fixed_dictionaries({"timeUnixNano": JSON, "name": JSON}), max_size=2) | JSON,
              "status": JSON})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spans=st.lists(OTLP_SPAN, max_size=6), resource=JSON)
def test_otlp_import_never_crashes(tmp_path: Path, spans: list[Any], resource: Any) -> None:
    import json

    doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": resource, "spans": spans}]}]}
    path = write_json(tmp_path / "fuzz.json", json.dumps(doc).encode())
    native, _ = import_otlp(path)  # Python's json writes NaN and Infinity, which the importer reads too
    if native:
        (tmp_path / "fuzz.jsonl").write_bytes(native)
        result = load([tmp_path / "fuzz.jsonl"], strict=True)
        assert result.report.skipped_lines == 0


def test_racelane_export_keeps_host_offsets(tmp_path: Path) -> None:
    trace = load(SAMPLE_INPUTS[-1]).trace.with_host_offsets({"host1": -3_500_000})
    export_racelane(trace, tmp_path / "aligned.jsonl")
    again = load([tmp_path / "aligned.jsonl"]).trace
    assert again.host_offsets_ns == {}
    assert_same(canonical(trace), canonical(again))
    assert again.end_ns == trace.end_ns
