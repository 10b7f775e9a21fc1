"""Bad input: what is skipped (with file:line and reason), what is refused, and strict mode."""

from __future__ import annotations

import orjson
import pytest
from tracefiles import header, span_row, spans

from tracer.analysis import TraceError, load
from tracer.record.errors import RacelaneError

GOOD = spans(span_row(1, 0, 1, 0, 10, "good"))


def only_problem(report):
    assert len(report.problems) == 1, report.problems
    return report.problems[0]


# --- refused files -------------------------------------------------------------------
def test_trace_error_is_a_racelane_error():
    """TraceError belongs to racelane's error family (the CLI maps it to exit code 2)."""
    assert issubclass(TraceError, RacelaneError)


def test_empty_file_is_refused_naming_it(write_trace):
    """An empty file raises TraceError with one sentence that names it."""
    path = write_trace([], first=None)
    with pytest.raises(TraceError, match=r"^.*trace\.jsonl is empty; a racelane trace starts with a header line$") as err:
        load(path)
    assert err.value.path == path


def test_file_of_text_is_not_a_trace(write_trace):
    """A file whose first line is not JSON is refused."""
    path = write_trace([], first=b"hello world")
    with pytest.raises(TraceError, match=r"trace\.jsonl is not a racelane trace: its first line is not JSON"):
        load(path)


def test_json_without_header_is_not_a_trace(write_trace):
    """JSON Lines that do not start with a racelane header are refused."""
    path = write_trace([GOOD], first={"type": "header", "format": "chrome"})
    with pytest.raises(TraceError, match="its first line is not a racelane header"):
        load(path)


def test_binary_garbage_is_not_a_trace(write_trace):
    """Binary garbage is refused with a TraceError, not a decoding crash."""
    path = write_trace([], first=bytes(range(256)) * 4)
    with pytest.raises(TraceError, match="is not a racelane trace"):
        load(path)


def test_unterminated_header_only_is_not_a_trace(write_trace):
    """A file cut inside its header has no complete first line."""
    path = write_trace([], first=orjson.dumps(header())[:40], end=b"")
    with pytest.raises(TraceError, match=r"has no complete first line \(40 bytes and no newline\)"):
        load(path)


def test_newer_version_is_refused_naming_file_and_versions(write_trace):
    """A header of a newer format version names the file, its version and ours."""
    path = write_trace([GOOD], first=header(version=7))
    with pytest.raises(TraceError, match=r"trace\.jsonl is in trace format version 7, newer than this racelane reads \(up to version 1\)"):
        load(path)


def test_header_without_version_is_refused(write_trace):
    """A header whose version is missing or not an integer is refused at line 1."""
    path = write_trace([GOOD], first=header(version="1"))
    with pytest.raises(TraceError, match=r"trace\.jsonl:1: the header's 'version' must be a positive integer, got \"1\""):
        load(path)


def test_missing_file_is_a_trace_error(tmp_path):
    """A path that does not exist raises TraceError naming it."""
    with pytest.raises(TraceError, match=r"cannot read .*nothing\.jsonl: No such file or directory"):
        load(str(tmp_path / "nothing.jsonl"))


def test_no_paths_is_a_trace_error():
    """Loading nothing is an error, not an empty trace."""
    with pytest.raises(TraceError, match="no trace files given"):
        load([])


def test_oversized_first_line_is_not_a_trace(write_trace):
    """A first line over max_record_bytes cannot be a header worth reading."""
    path = write_trace([GOOD], first=header(argv=["x" * 5000]))
    with pytest.raises(TraceError, match="its first line is longer than 1000 bytes"):
        load(path, max_record_bytes=1000)


# --- skipped lines and rows ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"type":"spans","rows":[', "not valid JSON (unexpected end of data"),
        (b"", "empty line"),
        (b"[1, 2]", "a record must be a JSON object, got an array of 2 items"),
        (b"42", "a record must be a JSON object, got 42"),
        (b'{"rows": []}', "a record needs a string 'type', got null"),
        (b'{"type": 3}', "a record needs a string 'type', got 3"),
        (b'{"type": "spans", "rows": {"a": 1}}', "'rows' must be an array, got an object"),
        (b'{"type": "marks"}', "'rows' must be an array, got null"),
        (b'{"type": "lane", "lane": "main"}', "'lane' must be an integer between 0 and 2**62-1, got \"main\""),
        (b'{"type":"open","rows":5,"attrs":[]}', "'rows' must be an array, got 5"),
        (b'{"type":"spans","rows":[[1,0,1,5,9,"n","",null]],"attrs":[null]', "not valid JSON ("),
        (b'{"type":"spans","rows":[[1,0,1,5,9,"n","",null],"attrs":[null]}', "not valid JSON ("),
        (b'[[[[[[[[[[' * 200 + b"]]]]]]]]]]" * 200, "not valid JSON (depth limit exceeded"),
        (b"\xff\xfe\x00garbage", "not valid JSON ("),
    ],
)
def test_bad_lines_are_skipped_with_file_line_and_reason(write_trace, line, reason):
    """A bad line is skipped and reported as path:line: reason; the good lines around it load."""
    path = write_trace([GOOD, line, spans(span_row(2, 0, 1, 20, 30, "after"))])
    trace, report = load(path)
    assert len(trace.spans) == 2
    assert report.skipped_lines == 1 and report.files[0].skipped_lines == 1
    assert only_problem(report).startswith(f"{path}:3: {reason}")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ([1, 0, 1, "soon", 10, "n", "", None], "row 1: 'start_ns' must be an integer between 0 and 2**62-1, got \"soon\""),
        ([1, 0, 1, 5, 10.5, "n", "", None], "row 1: 'end_ns' must be an integer between 0 and 2**62-1, got 10.5"),
        ([1, 0, 1, -5, 10, "n", "", None], "row 1: 'start_ns' must be an integer between 0 and 2**62-1, got -5"),
        ([1, 0, 1, 2**62, 2**62, "n", "", None], "row 1: 'start_ns' must be an integer between 0 and 2**62-1, got 4611686018427387904"),
        ([1, 0, 1, 20, 10, "n", "", None], "row 1: 'end_ns' must be >= 'start_ns', got 10 < 20"),
        ([0, 0, 1, 5, 10, "n", "", None], "row 1: 'id' must be an integer between 1 and 2**64-1, got 0"),
        ([1, -3, 1, 5, 10, "n", "", None], "row 1: 'parent' must be an integer between 0 and 2**64-1, got -3"),
        ([1, 0, None, 5, 10, "n", "", None], "row 1: 'lane' must be an integer between 0 and 2**62-1, got null"),
        ([1, 0, 1, 5, 10, 17, "", None], "row 1: 'name' must be a string, got 17"),
        ([1, 0, 1, 5, 10, "n", ["db"], None], "row 1: 'cat' must be a string, got an array of 1 items"),
        ([1, 0, 1, 5, 10, "n", "", "boom"], "row 1: 'error' must be null or [type, message], got \"boom\""),
        ([1, 0, 1, 5, 10, "n"], "row 1: a row needs 8 columns (id, parent, lane, start_ns, end_ns, name, cat, error), got 6"),
        ("row", "row 1: a row must be an array, got \"row\""),
        (7, "row 1: a row must be an array, got 7"),
    ],
)
def test_bad_rows_are_skipped_and_the_rest_of_the_line_kept(write_trace, row, reason):
    """A bad row is dropped with its line, row number and reason; the other rows of the line stay, with their own attributes."""
    rows = [span_row(5, 0, 1, 0, 10, "kept"), row, span_row(6, 0, 1, 20, 30, "also")]
    path = write_trace([spans(*rows, attrs=[{"n": 0}, {"n": 1}, {"n": 2}])])
    trace, report = load(path)
    names = [trace.span_name(i) for i in range(len(trace.spans))]
    assert sorted(names) == ["also", "kept"]
    assert trace.attrs(names.index("kept")) == {"n": 0} and trace.attrs(names.index("also")) == {"n": 2}
    assert report.skipped_rows == 1 and report.skipped_lines == 0
    assert only_problem(report) == f"{path}:2: {reason}"


def test_a_bad_row_of_a_later_line_keeps_the_attributes_of_every_row(write_trace):
    """Rows dropped while converting a block (several lines) do not shift any row's attributes."""
    first = spans(span_row(1, 0, 1, 0, 10, "a"), span_row(2, 0, 1, 20, 30, "b"), attrs=[{"n": "a"}, {"n": "b"}])
    second = spans(span_row(3, 0, 1, 40, 50, "c"), [4, 0, 1, 9, 3, "bad", "", None], span_row(5, 0, 1, 60, 70, "e"),
                   attrs=[{"n": "c"}, {"n": "bad"}, {"n": "e"}])
    trace, report = load(write_trace([first, second]))
    assert {trace.span_name(i): trace.attrs(i) for i in range(len(trace.spans))} == {
        "a": {"n": "a"}, "b": {"n": "b"}, "c": {"n": "c"}, "e": {"n": "e"}}
    assert report.skipped_rows == 1


def test_oversized_line_is_skipped_without_holding_it(write_trace):
    """A line over max_record_bytes is skipped with its length; reading goes on after it."""
    big = spans(span_row(9, 0, 1, 0, 10, "big"), attrs=[{"blob": "x" * 50_000}])
    path = write_trace([GOOD, big, spans(span_row(2, 0, 1, 20, 30, "after"))])
    trace, report = load(path, max_record_bytes=4096, chunk_bytes=1000)
    assert sorted(trace.span_name(i) for i in range(len(trace.spans))) == ["after", "good"]
    size = len(orjson.dumps(big))
    assert only_problem(report) == f"{path}:3: record of {size} bytes is longer than max_record_bytes (4096); skipped"


def test_torn_last_line_is_normal(write_trace):
    """An unterminated last line is skipped silently and its length noted in the file report."""
    path = write_trace([GOOD, b'{"type":"spans","rows":[[2,0,1,5'], end=b"")
    trace, report = load(path)
    assert len(trace.spans) == 1
    assert report.skipped_lines == 0 and report.problems == []
    assert report.files[0].torn_tail_bytes == 32


def test_unknown_types_and_fields_are_ignored(write_trace):
    """Records of unknown type and unknown fields (before or after ``attrs``) or extra row columns do not disturb loading."""
    row = [*span_row(1, 0, 1, 0, 10, "n"), "extra column"]
    before = {"type": "spans", "rows": [row], "compressed": False, "attrs": [{"a": 1}]}
    after = {"type": "spans", "rows": [span_row(2, 0, 1, 20, 30, "m")], "attrs": [{"b": [2]}], "compressed": [False]}
    path = write_trace([{"type": "future", "x": 1}, before, after])
    trace, report = load(path)
    assert len(trace.spans) == 2 and trace.attrs(0) == {"a": 1} and trace.attrs(1) == {"b": [2]}
    assert report.skipped_lines == 0 and report.files[0].ignored_lines == 1
    assert report.problems == [] and report.missing_attrs == 0


def test_lane_fields_of_wrong_type_fall_back_to_defaults(write_trace):
    """A lane line with odd field types keeps its id; the odd fields take defaults."""
    path = write_trace([{"type": "lane", "lane": 1, "kind": 3, "name": ["x"], "native_id": "?", "spawned_by": -1}, GOOD])
    lanes = load(path).trace.lanes
    assert (lanes.kind, lanes.name, lanes.native_id.tolist(), lanes.spawned_by.tolist()) == (["thread"], [""], [-1], [-1])


def test_header_without_clock_keeps_times_and_says_so(write_trace):
    """A header without a usable clock anchor leaves times as recorded, with a note."""
    path = write_trace([GOOD], first=header(clock={"monotonic_ns": "x"}))
    trace, report = load(path)
    assert trace.spans.start_ns[0] == span_row(1, 0, 1, 0, 10)[3]
    assert report.notes == [f"{path}:1: the header has no usable 'clock'; its times are used as recorded"]


def test_repeated_span_ids_keep_the_first(write_trace):
    """A span id seen twice in a file (a duplicated line) is kept once and counted."""
    path = write_trace([GOOD, GOOD, spans(span_row(1, 0, 1, 500, 900, "again"))])
    trace, report = load(path)
    assert len(trace.spans) == 1 and trace.span_name(0) == "good"
    assert report.files[0].duplicate_spans == 2


def test_only_first_problems_are_kept_but_all_counted(write_trace):
    """The report keeps the first 20 problems verbatim and counts every one."""
    path = write_trace([GOOD] + [b"#not json"] * 50)
    report = load(path).report
    assert report.skipped_lines == 50
    assert len(report.problems) == 20
    assert report.problems[0] == f"{path}:3: not valid JSON (unexpected character, expected a JSON value: line 1 column 1 (char 0))"
    assert "and 30 more" in report.summary()


def test_end_stats_give_dropped_counts_per_file(write_trace):
    """The ``end`` record's counts reach the report, ``dropped`` per file."""
    end = {"type": "end", "wall_ns": 1, "monotonic_ns": 5_000_000_100, "stats": {"spans": 1, "dropped": 12, "bad": "x"}}
    path = write_trace([GOOD, end])
    report = load(path).report
    assert report.dropped == {path: 12}
    assert report.files[0].stats == {"spans": 1, "dropped": 12}
    assert report.files[0].clean_end
    assert "the recorder dropped 12 records" in report.summary()


# --- strict mode -------------------------------------------------------------------------
def test_strict_refuses_a_bad_line_naming_file_and_line(write_trace):
    """With strict=True the first skipped line raises TraceError with path:line and reason."""
    path = write_trace([GOOD, b"{oops"])
    with pytest.raises(TraceError, match=r"trace\.jsonl:3: not valid JSON .* \(strict mode\)$") as err:
        load(path, strict=True)
    assert (err.value.path, err.value.line) == (path, 3)


def test_strict_refuses_a_bad_row(write_trace):
    """With strict=True a bad row raises too."""
    path = write_trace([spans(span_row(1, 0, 1, 0, 10), [1, 0, 1, 9, 3, "n", "", None])])
    with pytest.raises(TraceError, match=r"trace\.jsonl:2: row 1: 'end_ns' must be >= 'start_ns', got 3 < 9 \(strict mode\)"):
        load(path, strict=True)


def test_strict_accepts_a_torn_tail_and_unknown_types(write_trace):
    """Strict mode still allows what the format allows: a torn tail, unknown records."""
    path = write_trace([GOOD, {"type": "future"}, b'{"type":"sp'], end=b"")
    assert len(load(path, strict=True).trace.spans) == 1


def test_strict_refuses_the_first_bad_line_in_reading_order(write_trace):
    """A bad row on line 2 is refused before a malformed line 3."""
    path = write_trace([spans([1, 0, 1, "x", 10, "n", "", None]), b"{oops"])
    with pytest.raises(TraceError, match=r"trace\.jsonl:2: row 0: 'start_ns'"):
        load(path, strict=True)
