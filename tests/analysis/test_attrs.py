"""Attributes: kept as the raw JSON the recorder wrote, decoded on demand, checked when decoded."""

from __future__ import annotations

import json
import threading

import numpy as np
import orjson
import pytest
from tracefiles import MONO0, batch, span_row, spans

import tracer
from tracer.analysis import TraceError, load
from tracer.analysis.model import LOCK_HELD_KIND, LOCK_WAIT_KIND
from tracer.record.format import iter_rows
from tracer.record.sink import MemorySink
from tracer.testing import capture


def by_name(trace):
    return {trace.span_name(i): i for i in range(len(trace.spans))}


# --- kept raw, decoded lazily ----------------------------------------------------------
def test_attributes_are_kept_as_written_and_decoded_only_when_asked(write_trace):
    """Loading copies each batch's attrs array verbatim; a broken one shows only when a span's attributes are read."""
    good = spans(span_row(1, 0, 1, 0, 10, "a"), span_row(2, 0, 1, 20, 30, "b"), attrs=[{"k": "é", "n": [1, 2]}, None])
    broken = b'{"type":"spans","rows":[[3,0,1,40,50,"c","",null],[4,0,1,60,70,"d","",null]],"attrs":[{"x":1},{"y":]}'
    path = write_trace([good, broken])
    trace, report = load(path)
    assert len(trace.spans) == 4 and report.problems == [] and report.missing_attrs == 0
    raw = orjson.dumps(good["attrs"]) + b'[{"x":1},{"y":]'
    assert trace.store.nbytes == len(raw)
    assert b"".join(bytes(blob) for blob in trace.store.blobs) == raw  # the bytes of the file, not re-serialized
    rows = by_name(trace)
    assert trace.attrs(rows["a"]) == {"k": "é", "n": [1, 2]} and trace.attrs(rows["b"]) == {}
    assert report.problems == []  # that batch was fine
    assert trace.attrs(rows["c"]) == {} and trace.attrs(rows["d"]) == {}
    assert report.problems == [
        f"{path}:3: the 'attrs' array is not valid JSON (unexpected character, expected a JSON value: line 1 column 15 (char 14)); "
        "the attributes of its 2 rows are missing"
    ]
    assert report.missing_attrs == report.files[0].missing_attrs == 2
    trace.attrs(rows["d"])
    trace.attrs_many(range(4))
    assert len(report.problems) == 1  # reported once
    assert "the attributes of 2 rows could not be read" in report.summary()


def test_attrs_length_mismatch_is_reported_with_file_and_line(write_trace):
    """An attrs array of another length than the rows: that batch's attributes are missing, said once, with file:line."""
    path = write_trace([spans(span_row(1, 0, 1, 0, 10, "a"), span_row(2, 0, 1, 20, 30, "b"), attrs=[{"k": 1}]),
                        spans(span_row(3, 0, 1, 40, 50, "c"), attrs=[{"k": 3}])])
    trace, report = load(path)
    rows = by_name(trace)
    assert trace.attrs_many([rows["a"], rows["b"], rows["c"]]) == [{}, {}, {"k": 3}]
    assert report.problems == [f"{path}:2: 'attrs' holds 1 items for 2 rows; the attributes of its 2 rows are missing"]
    assert report.missing_attrs == 2 and report.skipped_rows == report.skipped_lines == 0


def test_an_item_that_is_not_an_object_reads_as_empty(write_trace):
    """A single bad item of a batch is reported and reads as {}; its neighbours keep theirs."""
    path = write_trace([spans(span_row(1, 0, 1, 0, 10, "a"), span_row(2, 0, 1, 20, 30, "b"), attrs=["x=1", {"k": 2}])])
    trace, report = load(path)
    rows = by_name(trace)
    assert trace.attrs(rows["b"]) == {"k": 2}
    assert trace.attrs(rows["a"]) == {}
    assert report.problems == [f'{path}:2: attrs item 0 must be an object or null, got "x=1"; read as {{}}']
    assert report.missing_attrs == 1


def test_strict_mode_checks_attributes_while_loading(write_trace):
    """With strict=True, attributes are decoded while loading and the first bad batch is refused."""
    path = write_trace([spans(span_row(1, 0, 1, 0, 10), attrs=[{"k": 1}]), spans(span_row(2, 0, 1, 0, 10), attrs=[])])
    with pytest.raises(TraceError, match=r"trace\.jsonl:3: 'attrs' holds 0 items for 1 rows; .* \(strict mode\)$") as err:
        load(path, strict=True)
    assert (err.value.path, err.value.line) == (path, 3)
    assert len(load(write_trace([spans(span_row(1, 0, 1, 0, 10), attrs=[{"k": 1}])]), strict=True).trace.spans) == 1


# --- lines not as the recorder writes them ------------------------------------------------
def test_other_key_orders_and_spacing_fall_back_to_parsing_the_whole_line(write_trace):
    """``{"attrs":..,"rows":..,"type":..}``, spaces, keys after ``attrs``: parsed whole, attributes kept, same result."""
    reordered = b'{"attrs":[{"k":"first"},null],"rows":[[1,0,1,0,10,"a","",null],[2,0,1,20,30,"b","",null]],"type":"spans"}'
    spaced = json.dumps(spans(span_row(3, 0, 1, 40, 50, "c"), attrs=[{"k": "spaced"}])).encode()
    trailing = b'{"type":"spans","rows":[[4,0,1,60,70,"d","",null]],"attrs":[{"k":"trailing"}],"later":{"x":[1]}}'
    marks = b'{"attrs":[{"m":1}],"type":"marks","rows":[[1,' + str(MONO0 + 5).encode() + b',"m","",1]]}'
    trace, report = load(write_trace([reordered, spaced, trailing, marks]))
    rows = by_name(trace)
    assert [trace.attrs(rows[n]) for n in "abcd"] == [{"k": "first"}, {}, {"k": "spaced"}, {"k": "trailing"}]
    assert trace.mark_attrs(0) == {"m": 1}
    assert report.problems == [] and report.missing_attrs == 0


def test_whole_line_fallback_reports_bad_attrs_while_loading(write_trace):
    """A line parsed whole has its attrs checked at once: wrong length or type, with file:line; rows are kept."""
    wrong_length = b'{"attrs":[{"k":1}],"rows":[[1,0,1,0,10,"a","",null],[2,0,1,20,30,"b","",null]],"type":"spans"}'
    not_array = b'{"attrs":{"k":1},"rows":[[3,0,1,0,10,"c","",null]],"type":"spans"}'
    path = write_trace([wrong_length, not_array])
    trace, report = load(path)
    assert len(trace.spans) == 3 and trace.attrs_many(range(3)) == [{}, {}, {}]
    assert report.problems == [
        f"{path}:2: 'attrs' holds 1 items for 2 rows; the attributes of its 2 rows are missing",
        f"{path}:3: 'attrs' must be an array, got an object; the attributes of its 1 rows are missing",
    ]
    assert report.missing_attrs == 3


def test_attributes_nested_deeper_than_orjson_writes(write_trace):
    """Kept raw, deep attributes read back (as fresh copies); a whole-line parse cannot keep them and says so."""
    deep: object = 1
    for _ in range(400):
        deep = [deep]
    fast = json.dumps(spans(span_row(5, 0, 1, 0, 10, "deep"), attrs=[{"x": deep}]), separators=(",", ":")).encode()
    slow = json.dumps({"attrs": [{"x": deep}], "rows": [span_row(6, 0, 1, 0, 10, "slow")], "type": "spans"}).encode()
    path = write_trace([fast, slow])
    trace, report = load(path)
    rows = by_name(trace)
    value = trace.attrs(rows["deep"])
    assert json.dumps(value) == json.dumps({"x": deep})
    value["x"].clear()
    assert trace.attrs(rows["deep"])["x"]  # a copy was handed out
    assert trace.attrs(rows["slow"]) == {}
    assert report.problems == [f"{path}:3: 'attrs' is nested too deeply to keep; the attributes of its 1 rows are missing"]


def test_returned_attributes_are_the_callers_own(write_trace):
    """Changing a returned dict, or a list inside it, never changes what the next call returns."""
    path = write_trace([spans(span_row(1, 0, 1, 0, 10), span_row(2, 0, 1, 0, 10), attrs=[{"ids": ["a"], "m": {"k": 1}}] * 2)])
    trace = load(path).trace
    first = trace.attrs(0)
    first["ids"].append("changed")
    first["m"]["k"] = 2
    assert trace.attrs(0) == {"ids": ["a"], "m": {"k": 1}}
    many = trace.attrs_many([0, 0, 1])
    many[0]["ids"].append("x")
    assert many[1] == many[2] == {"ids": ["a"], "m": {"k": 1}}


def test_reading_attributes_from_several_threads(write_trace):
    """A reader thread and a GUI thread may read attributes at once: same answers, nothing shared."""
    records = [spans(*(span_row(b * 100 + j + 1, 0, 1, j, j + 1, f"s{b}.{j}") for j in range(100)),
                     attrs=[{"b": b, "j": j, "l": [j] * (j % 4)} for j in range(100)]) for b in range(40)]
    trace = load(write_trace(records)).trace
    expected = trace.attrs_many(range(len(trace.spans)))
    failures = []

    def read(seed: int) -> None:
        rows = np.random.default_rng(seed).integers(0, len(trace.spans), 3000)
        for i in rows.tolist():
            if trace.attrs(i) != expected[i]:
                failures.append(i)
        if trace.attrs_many(rows) != [expected[i] for i in rows.tolist()]:
            failures.append(-1)

    threads = [threading.Thread(target=read, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# --- the recorder's own output ------------------------------------------------------------
def test_a_recording_loads_with_exactly_the_attributes_written(tmp_path):
    """Spans (several batches), open spans and marks recorded by the real recorder read back attribute for attribute."""
    values = [None, "plain", "é\u2028\"quoted\" \\ back", 0, -(2**63), 2**63 - 1, 1.5, True, False, [], {}, [1, [2, {"k": None}]],
              "x" * 5000, {"nested": {"password": "p", "list": list(range(300))}}]
    with capture(flush_interval_s=3600) as records:
        with tracer.span("outer", cat="audit", first="yes") as outer:
            for i in range(2600):  # more than two batches of 1024
                with tracer.span(f"job{i % 7}", cat="db", i=i, value=values[i % len(values)], token="secret"):
                    if i % 500 == 0:
                        tracer.mark("tick", cat="evacuation", i=i, before=values[i % len(values)])
            outer.set("result_uuids", ["a", "b"])
    path = tmp_path / "recorded.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in records.sink.lines()))
    trace, report = load(str(path))
    assert report.problems == [] and report.missing_attrs == 0
    assert len(trace.spans) == 2601
    written = {row["id"]: row["attrs"] or {} for row in records.spans}
    rows = {span_id: i for i, span_id in enumerate(trace.spans.span_id.tolist())}
    assert {span_id: trace.attrs(rows[span_id]) for span_id in written} == written
    assert trace.attrs_many([rows[s] for s in written]) == list(written.values())
    assert written[next(iter(written))]["token"] == "***"  # redacted by the recorder, and read as written
    marks = sorted((row["ts_ns"], row["attrs"]) for row in records.marks)
    assert [trace.mark_attrs(i) for i in range(len(trace.marks))] == [a for _, a in marks]


def test_unfinished_spans_keep_the_attributes_of_their_open_row(tmp_path):
    """A span only ever written as ``open`` has the attributes it had at the flush."""
    path = tmp_path / "killed.jsonl"
    sink = MemorySink()
    recording = tracer.start(sink=sink, flush_interval_s=3600, handle_sigterm=False)
    try:
        with tracer.span("stuck", cat="audit", instance_uuid="u-1") as stuck:
            recording.flush()  # what a SIGKILL now would leave behind: the open row
            stuck.set("later", 1)
    finally:
        recording.stop()
    lines = sink.lines()
    open_line = next(line for line in lines if orjson.loads(line)["type"] == "open")
    path.write_bytes(lines[0] + b"\n" + open_line + b"\n")
    trace = load(str(path)).trace
    assert trace.spans.open.tolist() == [True]
    assert trace.attrs(0) == next(iter_rows(orjson.loads(open_line)))["attrs"] == {"instance_uuid": "u-1"}


# --- what the loader itself needs from attributes ------------------------------------------
def test_lock_view_decodes_only_what_it_needs(write_trace):
    """Lock names come from span names (or the ``lock`` attribute when the name has none); ``acquired`` from waits."""
    rows = [span_row(1, 0, 1, 0, 10, "lock.wait db", "lock"), span_row(2, 0, 1, 10, 20, "lock.held db", "lock"),
            span_row(3, 0, 2, 0, 30, "lock.wait", "lock"), span_row(4, 0, 3, 0, 5, "lock.wait db", "lock"),
            span_row(5, 0, 3, 6, 9, "not a lock", "db")]
    attrs = [{"lock": "db", "acquired": True}, {"lock": "db"}, {"lock": "pci", "acquired": False}, {"lock": "db"}, None]
    trace = load(write_trace([spans(*rows, attrs=attrs)])).trace
    locks = trace.locks
    got = {(trace.span_name(s), int(trace.spans.lane[s])): (int(k), locks.lock_names[n], int(a))
           for s, k, n, a in zip(locks.span.tolist(), locks.kind, locks.lock, locks.acquired)}
    lane = {trace.lanes.lane_id[i]: i for i in range(len(trace.lanes))}
    assert got == {
        ("lock.wait db", lane[1]): (LOCK_WAIT_KIND, "db", 1),
        ("lock.held db", lane[1]): (LOCK_HELD_KIND, "db", -1),
        ("lock.wait", lane[2]): (LOCK_WAIT_KIND, "pci", 0),
        ("lock.wait db", lane[3]): (LOCK_WAIT_KIND, "db", -1),  # an acquire that raised: no ``acquired``
    }


def test_open_and_marks_lines_use_the_split_too(write_trace):
    """``open`` and ``marks`` lines keep their attributes raw as well."""
    trace, _report = load(write_trace([
        batch("open", [[9, 0, 1, MONO0, "o", "audit"]], [{"o": 1}]),
        batch("marks", [[1, MONO0 + 1, "m", "", 9]], [{"m": [1]}]),
    ]))
    assert trace.attrs(0) == {"o": 1} and trace.mark_attrs(0) == {"m": [1]}
    assert trace.store.nbytes == len(b'[{"o":1}]') + len(b'[{"m":[1]}]')


def test_a_trace_pickles_with_its_attributes(sample_path):
    """The attribute store (memory maps, a lock) pickles as bytes and reads the same afterwards."""
    import pickle

    trace = load(sample_path).trace
    copy = pickle.loads(pickle.dumps(trace))
    every = range(len(trace.spans))
    assert copy.attrs_many(every) == trace.attrs_many(every)
    assert [copy.mark_attrs(i) for i in range(len(copy.marks))] == [trace.mark_attrs(i) for i in range(len(trace.marks))]
    assert copy.locks.acquired.tolist() == trace.locks.acquired.tolist()
