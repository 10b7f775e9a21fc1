"""Concatenated files (``cat a.jsonl b.jsonl > both.jsonl``): every header starts a process of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from tracefiles import WALL0, batch, header, span_row, spans

import tracer
from tracer.analysis import TraceError, load


def process(host: str, pid: int, *, wall: int = WALL0, names: tuple[str, str] = ("root", "child"), end: bool = True) -> bytes:
    """One process's lines: two lanes with the same ids in every process, and the same span ids too."""
    records = [
        header(host, pid=pid, wall=wall),
        {"type": "lane", "lane": 1, "kind": "thread", "name": "MainThread"},
        {"type": "lane", "lane": 2, "kind": "greenthread", "name": f"worker-{host}"},
        spans(span_row(2, 1, 1, 10, 20, names[1]), span_row(1, 0, 1, 0, 100, names[0]), span_row(3, 1, 2, 30, 40, f"job-{host}"),
              attrs=[{"host": host, "k": "child"}, {"host": host, "k": "root"}, None]),
        batch("marks", [[2, 5_000_000_050, f"mark-{host}", "", 3]], [{"at": host}]),
    ]
    if end:
        records.append({"type": "end", "wall_ns": wall + 200, "monotonic_ns": 5_000_000_200, "stats": {"dropped": pid % 7}})
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def test_two_headers_in_one_file_are_two_processes(tmp_path):
    """Each header's lines form a process: own host, own lanes (same ids, not mixed), own span ids, own report."""
    path = tmp_path / "both.jsonl"
    first, second = process("host1", 11), process("host2", 22, wall=WALL0 + 1_000)
    path.write_bytes(first + second)
    trace, report = load(str(path))
    assert len(trace.spans) == 6 and len(trace.marks) == 2 and len(trace.lanes) == 4
    assert report.hosts == trace.hosts == ["host1", "host2"]
    second_header = first.count(b"\n") + 1
    assert [(f.path, f.segment, f.first_line, f.host, f.pid) for f in trace.files] == [
        (str(path), 0, 1, "host1", 11), (str(path), 1, second_header, "host2", 22)]
    assert [(r.source, r.lines, r.spans, r.lanes, r.duplicate_spans) for r in report.files] == [
        (str(path), 5 + 1, 3, 2, 0), (f"{path}:{second_header}", 6, 3, 2, 0)]
    lanes = trace.lanes
    for i in range(len(trace.spans)):  # every span sits in a lane of its own process, on its host
        lane = trace.spans.lane[i]
        host = trace.hosts[lanes.host[lane]]
        assert lanes.file[lane] == trace.spans.file[i]
        assert trace.attrs(i).get("host", host) == host
        if trace.span_name(i).startswith("job-"):
            assert trace.span_name(i) == f"job-{host}" and lanes.name[lane] == f"worker-{host}"
    assert [trace.hosts[lanes.host[trace.marks.lane[m]]] for m in range(2)] == ["host1", "host2"]
    assert [trace.mark_attrs(m) for m in range(2)] == [{"at": "host1"}, {"at": "host2"}]
    for m in range(2):  # marks point at the span of their own process
        assert trace.spans.file[trace.marks.span[m]] == trace.marks.file[m]
    roots = [i for i in range(6) if trace.span_name(i) == "root"]
    assert [trace.spans.start_ns[i] for i in roots] == [WALL0 + 0, WALL0 + 1_000]  # each on its own clock anchor
    for i in range(6):
        parent = trace.spans.parent[i]
        assert parent == -1 or trace.spans.file[parent] == trace.spans.file[i]
    assert trace.lane_groups() == [
        ("host1", [("proc [11]", [0, 1])]),
        ("host2", [("proc [22]", [2, 3])]),
    ]
    assert report.dropped == {str(path): 11 % 7, f"{path}:{second_header}": 22 % 7}
    assert report.summary().startswith("1 file (2 processes), 2 hosts, 4 lanes, 6 spans")


def test_joined_recordings_load_like_the_files_apart(tmp_path):
    """Two real recordings, concatenated, give the spans, hosts and attributes of loading the two files."""
    paths = [str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]
    for path, host in zip(paths, ("alpha", "beta")):
        with tracer.start(path, host=host, handle_sigterm=False):
            with tracer.span("request", cat="audit", host=host):
                for i in range(3):
                    with tracer.span("db.query", cat="db", i=i):
                        tracer.mark("tick", i=i)
    joined = tmp_path / "joined.jsonl"
    joined.write_bytes(b"".join(Path(p).read_bytes() for p in paths))
    apart, together = load(paths).trace, load(str(joined)).trace
    for table in ("spans", "marks"):
        for column in ("start_ns", "end_ns", "name", "cat", "lane", "depth", "parent", "span_id", "file", "ts_ns", "span"):
            if hasattr(getattr(apart, table), column):
                assert np.array_equal(getattr(getattr(apart, table), column), getattr(getattr(together, table), column)), column
    assert apart.hosts == together.hosts == ["alpha", "beta"]
    assert apart.attrs_many(range(len(apart.spans))) == together.attrs_many(range(len(together.spans)))
    assert [(f.host, f.segment) for f in together.files] == [("alpha", 0), ("beta", 1)]


def test_a_torn_last_line_before_a_joined_header(tmp_path):
    """``cat`` of a killed process's file (torn last line) and another: the header is still found."""
    first = process("host1", 11, end=False)
    torn = b'{"type":"spans","rows":[[9,0,1,5'
    path = tmp_path / "both.jsonl"
    path.write_bytes(first + torn + process("host2", 22))
    trace, report = load(str(path))
    assert trace.hosts == ["host1", "host2"] and len(trace.spans) == 6
    line = first.count(b"\n") + 1
    assert report.problems == [f"{path}:{line}: a torn record of {len(torn)} bytes before a header (were files joined?); skipped"]
    assert report.files[1].first_line == line


def test_a_torn_line_cut_inside_its_attributes_before_a_joined_header(tmp_path):
    """Torn after ``"attrs":`` the line looks like the recorder's layout; the header appended to it is still found."""
    first = process("host1", 11, end=False)
    torn = b'{"type":"spans","rows":[[9,0,1,5000000001,5000000002,"torn","",null]],"attrs":[{"a'
    path = tmp_path / "both.jsonl"
    path.write_bytes(first + torn + process("host2", 22))
    trace, report = load(str(path))
    assert trace.hosts == ["host1", "host2"] and len(trace.spans) == 6
    assert "torn" not in {trace.span_name(i) for i in range(6)}
    assert [r.host for r in report.files] == ["host1", "host2"]
    assert len(report.problems) == 1 and "a torn record of" in report.problems[0]


def test_a_joined_header_of_a_newer_version_is_refused(tmp_path):
    """A process in a newer format in the middle of a file is refused, naming the file and line."""
    path = tmp_path / "both.jsonl"
    newer = orjson.dumps(header("host2", version=9)) + b"\n"
    path.write_bytes(process("host1", 11) + newer)
    line = process("host1", 11).count(b"\n") + 1
    with pytest.raises(TraceError, match=rf"both\.jsonl:{line}: a process is in trace format version 9, newer") as err:
        load(str(path))
    assert err.value.line == line
    path.write_bytes(process("host1", 11) + b'{"type":"header","format":"chrome"}\n')
    with pytest.raises(TraceError, match=rf"both\.jsonl:{line}: a header that is not a racelane header"):
        load(str(path))


def test_an_empty_process_between_two(tmp_path):
    """A header with nothing after it (a process that recorded nothing) is a process without lanes or spans."""
    path = tmp_path / "three.jsonl"
    path.write_bytes(process("host1", 11) + orjson.dumps(header("idle", pid=5)) + b"\n" + process("host3", 33))
    trace, report = load(str(path))
    assert [f.host for f in trace.files] == ["host1", "idle", "host3"]
    assert [r.spans for r in report.files] == [3, 0, 3]
    assert trace.hosts == ["host1", "host3", "idle"] and report.hosts == trace.hosts
