"""Loading traces written by the real recorder: columns, nesting, lanes, locks, attributes, files."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import orjson
import pytest
from tracefiles import MONO0, WALL0, batch, header, span_row, spans

import tracer
from tracer.analysis import LoadResult, Trace, load
from tracer.analysis.model import LOCK_HELD_KIND, LOCK_WAIT_KIND


def rows_by_name(trace: Trace) -> dict[str, int]:
    return {trace.span_name(i): i for i in range(len(trace.spans))}


def test_load_returns_trace_and_report(sample_path):
    """``load`` returns a (trace, report) pair with the spans, marks and lanes recorded."""
    result = load(sample_path)
    assert isinstance(result, LoadResult)
    trace, report = result
    assert len(trace.spans) == 7
    assert len(trace.marks) == 2
    assert len(trace.lanes) == 2
    assert (report.spans, report.marks, report.lanes, report.hosts) == (7, 2, 2, ["sample-host"])
    assert report.skipped_lines == report.skipped_rows == 0
    assert report.problems == []
    assert report.files[0].clean_end


def test_columns_have_the_documented_types(sample_path):
    """Span columns are numpy arrays of the documented dtypes, sorted by start."""
    spans = load(sample_path).trace.spans
    expected = {
        "start_ns": np.int64, "end_ns": np.int64, "open": np.bool_, "name": np.int32, "cat": np.int32,
        "lane": np.int32, "depth": np.int32, "sub_row": np.int32, "parent": np.int64, "span_id": np.uint64,
        "file": np.int32,
    }
    for column, dtype in expected.items():
        assert getattr(spans, column).dtype == dtype, column
    assert np.all(np.diff(spans.start_ns) >= 0)
    assert np.all(spans.end_ns >= spans.start_ns)


def test_times_are_wall_clock_from_the_header_anchor(sample_path, sample_bytes):
    """A time t maps to t - clock.monotonic_ns + clock.wall_ns; t0_ns is the earliest start."""
    header = orjson.loads(sample_bytes.split(b"\n")[0])
    offset = header["clock"]["wall_ns"] - header["clock"]["monotonic_ns"]
    trace = load(sample_path).trace
    request = rows_by_name(trace)["request"]
    assert trace.spans.start_ns[request] == 1_001_000 + offset
    assert trace.spans.end_ns[request] == 1_016_000 + offset
    assert trace.t0_ns == 1_001_000 + offset
    assert trace.end_ns == 1_017_000 + offset  # the end record


def test_nesting_depth_and_parents(sample_path):
    """Parents resolve to rows; depth counts enclosing spans of the same lane only."""
    trace = load(sample_path).trace
    rows = rows_by_name(trace)
    spans = trace.spans
    request, query, job = rows["request"], rows["db.query"], rows["worker.job"]
    assert spans.parent[request] == -1 and spans.depth[request] == 0
    assert spans.parent[query] == request and spans.depth[query] == 1
    assert spans.parent[rows["lock.held resources"]] == request
    # The worker's span has the spawner as parent, but is outermost in its own lane.
    assert spans.parent[job] == request and spans.depth[job] == 0
    assert spans.lane[job] != spans.lane[request]
    assert np.all(spans.sub_row == 0)


def test_marks_point_at_their_span_and_keep_attributes(sample_path):
    """A mark knows the innermost open span of its lane and decodes its attributes."""
    trace = load(sample_path).trace
    rows = rows_by_name(trace)
    status = next(i for i in range(len(trace.marks)) if trace.names[trace.marks.name[i]] == "status")
    assert trace.marks.span[status] == rows["db.query"]
    assert trace.cats[trace.marks.cat[status]] == "evacuation"
    assert trace.mark_attrs(status) == {"before": "pre-migrating", "after": "done"}
    assert np.all(np.diff(trace.marks.ts_ns) >= 0)


def test_attributes_decode_lazily_per_span(sample_path):
    """``attrs(i)`` returns a fresh dict, ``{}`` when the span had none; ``attrs_many`` agrees."""
    trace = load(sample_path).trace
    rows = rows_by_name(trace)
    assert trace.attrs(rows["db.query"]) == {"host": "h2", "result_uuids": ["a", "b"]}
    assert trace.attrs(rows["fails"]) == {}
    trace.attrs(rows["db.query"])["host"] = "changed"
    assert trace.attrs(rows["db.query"])["host"] == "h2"
    every = list(range(len(trace.spans)))
    assert trace.attrs_many(every) == [trace.attrs(i) for i in every]


def test_errors_are_kept_per_span(sample_path):
    """The exception that left a span is available as (type, message)."""
    trace = load(sample_path).trace
    rows = rows_by_name(trace)
    assert trace.error(rows["fails"]) == ("ValueError", "no such instance")
    assert trace.spans.error[rows["fails"]]
    assert trace.error(rows["request"]) is None
    assert trace.spans.error.sum() == 1


def test_lanes_carry_process_facts_and_spawner(sample_path):
    """Lanes know host, pid, process, kind, name, thread id and the span that spawned them."""
    trace = load(sample_path).trace
    lanes = trace.lanes
    worker = lanes.name.index("worker")
    main = lanes.name.index("MainThread")
    assert trace.hosts[lanes.host[worker]] == "sample-host"
    assert lanes.process[worker] == "sample"
    assert lanes.kind[worker] == "thread"
    assert lanes.native_id[worker] > 0
    assert lanes.spawned_by[worker] == rows_by_name(trace)["request"]
    assert lanes.spawned_by[main] == -1
    assert trace.lane_groups() == [("sample-host", [(f"sample [{lanes.pid[0]}]", [0, 1])])]


def test_lock_view_lists_waits_and_holds(sample_path):
    """Spans of category lock form a view with lock name, kind and ``acquired``."""
    trace = load(sample_path).trace
    locks = trace.locks
    assert len(locks) == 2
    assert locks.lock_names == ["resources"]
    kinds = dict(zip(locks.kind.tolist(), locks.acquired.tolist()))
    assert kinds == {LOCK_WAIT_KIND: 1, LOCK_HELD_KIND: -1}
    assert all(trace.cats[trace.spans.cat[i]] == "lock" for i in locks.span)


def test_open_rows_superseded_by_finished_rows(sample_path):
    """A span written as open and later finished is one finished span."""
    trace, report = load(sample_path)
    assert report.unfinished == 0
    assert not trace.spans.open.any()
    assert len(set(trace.spans.span_id.tolist())) == len(trace.spans)


def test_spans_of_a_killed_process_are_unfinished_until_trace_end(tmp_path):
    """Spans only ever written as open end at the trace's end and are flagged open."""
    path = str(tmp_path / "killed.jsonl")
    recording = tracer.start(path, host="h1", handle_sigterm=False, flush_interval_s=3600)
    try:
        with tracer.span("outer", cat="audit"), tracer.span("inner"):
            tracer.mark("tick")
            recording.flush()
            with open(path, "rb") as written:
                snapshot = written.read()  # what a SIGKILL now would leave behind
    finally:
        recording.stop()
    killed = tmp_path / "snapshot.jsonl"
    killed.write_bytes(snapshot)
    trace, report = load(str(killed))
    assert report.unfinished == 2
    assert trace.spans.open.all()
    assert np.all(trace.spans.end_ns == trace.end_ns)
    rows = rows_by_name(trace)
    assert trace.spans.parent[rows["inner"]] == rows["outer"]
    assert trace.spans.depth[rows["inner"]] == 1
    assert trace.end_ns == max(trace.spans.start_ns.max(), trace.marks.ts_ns.max())
    assert not report.files[0].clean_end


def test_files_of_two_hosts_merge_on_one_axis(tmp_path):
    """Recordings of two hosts merge in wall-clock order; each keeps its host and lanes."""
    first, second = str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")
    with tracer.start(first, host="host1", handle_sigterm=False):
        with tracer.span("on host1"):
            time.sleep(0.002)
    time.sleep(0.002)
    with tracer.start(second, host="host2", handle_sigterm=False):
        with tracer.span("on host2"):
            time.sleep(0.002)
    trace, report = load([second, first])
    assert [trace.span_name(i) for i in range(2)] == ["on host1", "on host2"]
    assert trace.spans.end_ns[0] < trace.spans.start_ns[1]
    assert report.hosts == trace.hosts == ["host1", "host2"]
    assert [trace.files[f].path for f in trace.spans.file] == [first, second]
    assert [trace.hosts[h] for h in trace.lanes.host] == ["host1", "host2"]
    assert [group[0] for group in trace.lane_groups()] == ["host1", "host2"]


def test_host_offset_moves_one_hosts_spans_and_marks(write_trace, tmp_path):
    """``with_host_offsets`` shifts the named host by exactly its offset, re-sorted, in a new trace."""
    a = write_trace([spans(span_row(1, 0, 1, 100, 200, "a1"), span_row(2, 1, 1, 120, 180, "a2")),
                     batch("marks", [[1, MONO0 + 150, "ma", "", 2]])],
                    name="a.jsonl", first=header("host1"))
    # host2's anchor says its clock reads 1 µs behind host1's
    b = write_trace([spans(span_row(7, 0, 1, 100, 300, "b1"))],
                    name="b.jsonl", first=header("host2", wall=WALL0 + 1_000))
    trace = load([a, b]).trace
    assert [trace.span_name(i) for i in range(3)] == ["a1", "a2", "b1"]
    assert trace.spans.start_ns[2] == WALL0 + 1_100
    moved = trace.with_host_offsets({"host2": -1_500})
    assert [moved.span_name(i) for i in range(3)] == ["b1", "a1", "a2"]
    assert moved.spans.start_ns[0] == WALL0 + 1_100 - 1_500
    assert moved.host_offsets_ns == {"host2": -1_500}
    assert moved.spans.parent.tolist() == [-1, -1, 1]
    assert moved.spans.depth.tolist() == [0, 0, 1]
    assert moved.marks.span[0] == 2 and moved.marks.ts_ns[0] == WALL0 + 150
    assert trace.spans.start_ns[2] == WALL0 + 1_100  # the original is unchanged
    back = moved.with_host_offsets({"host2": 0})
    assert np.array_equal(back.spans.start_ns, trace.spans.start_ns)
    with pytest.raises(ValueError, match="unknown host 'host3'"):
        trace.with_host_offsets({"host3": 1})


def test_the_same_file_twice_is_read_once(sample_path, tmp_path):
    """Naming a file twice (even by another path) does not duplicate its spans."""
    other = os.path.relpath(sample_path)
    trace, report = load([sample_path, other])
    assert len(trace.spans) == 7 and len(report.files) == 1


def test_progress_reports_bytes(sample_path):
    """``progress`` hears bytes read and the total; its exception cancels the load."""
    seen = []
    load(sample_path, progress=lambda done, total: seen.append((done, total)), chunk_bytes=256)
    size = os.path.getsize(sample_path)
    assert seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load(sample_path, progress=cancel)


def test_greenthreads_sharing_a_lane_get_sub_rows(tmp_path):
    """Real recorder, two threads' spans forced into one lane: neither hides the other."""
    path = str(tmp_path / "shared.jsonl")
    barrier = threading.Barrier(2)

    def work(name):
        with tracer.span(name):
            barrier.wait()
            time.sleep(0.002)

    with tracer.start(path, host="h1", handle_sigterm=False):
        threads = [threading.Thread(target=work, args=(f"job{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with open(path, "rb") as written:
        lines = [orjson.loads(line) for line in written]
    for record in lines:  # as if both had run in lane 7
        if record["type"] == "spans":
            for row in record["rows"]:
                row[2] = 7
    with open(path, "wb") as out:
        out.writelines(orjson.dumps(record) + b"\n" for record in lines)
    trace, report = load(path)
    assert trace.spans.lane[0] == trace.spans.lane[1]
    assert trace.lanes.label[trace.spans.lane[0]] == "thread #7"  # a lane no lane line described
    placed = set(zip(trace.spans.sub_row.tolist(), trace.spans.depth.tolist()))
    assert len(placed) == 2  # drawn apart: nested below, or on a sub-row of its own
    assert any("sub-rows" in note for note in report.notes)


def test_lanes_group_by_host_then_process_with_readable_labels(write_trace):
    """Lanes sort host > process > lane id; repeated names within a process get their lane id."""
    lanes = [{"type": "lane", "lane": i, "kind": "greenthread", "name": "greenthread"} for i in (3, 2)]
    main = {"type": "lane", "lane": 1, "kind": "thread", "name": "MainThread"}
    rows = spans(span_row(1, 0, 1, 0, 10), span_row(2, 0, 3, 0, 10))
    a = write_trace([main, *lanes, rows], name="a.jsonl", first=header("zeta", pid=7))
    b = write_trace([main, rows], name="b.jsonl", first=header("alpha", pid=9))
    c = write_trace([main, rows], name="c.jsonl", first=header("zeta", pid=5))
    trace = load([a, b, c]).trace
    assert trace.lane_groups() == [
        ("alpha", [("proc [9]", [0, 1])]),
        ("zeta", [("proc [5]", [2, 3]), ("proc [7]", [4, 5, 6])]),
    ]
    assert trace.lanes.label[4:] == ["MainThread", "greenthread #2", "greenthread #3"]
    assert trace.lanes.label[1] == "thread #3"  # used by a span, never described
    assert trace.lanes.kind[5] == "greenthread"
