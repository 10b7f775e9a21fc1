"""Properties of the loader: prefixes, inserted garbage, chunking."""

from __future__ import annotations

import dataclasses

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracer.analysis import Trace, TraceError, load

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A file path that examples overwrite."""
    return tmp_path_factory.mktemp("properties") / "trace.jsonl"


def expected(data: bytes) -> tuple[set[int], set[int], int]:
    """Return (finished ids, unfinished ids, marks) of the complete lines of ``data``."""
    finished, opened, marks = set(), set(), 0
    for line in data.split(b"\n")[1:-1]:
        record = orjson.loads(line)
        rows = record.get("rows", [])
        if record["type"] == "spans":
            finished.update(row[0] for row in rows)
        elif record["type"] == "open":
            opened.update(row[0] for row in rows)
        elif record["type"] == "marks":
            marks += len(rows)
    return finished, opened - finished, marks


def loaded(trace: Trace) -> tuple[set[int], set[int], int]:
    ids = trace.spans.span_id
    return set(ids[~trace.spans.open].tolist()), set(ids[trace.spans.open].tolist()), len(trace.marks)


def load_bytes(path, data: bytes, **options):
    path.write_bytes(data)
    return load(str(path), **options)


def assert_same_trace(a: Trace, b: Trace) -> None:
    for table in ("spans", "marks", "lanes"):
        for field in dataclasses.fields(getattr(a, table)):
            if field.name == "attrs_ref":  # a handle into the store: compared by what it decodes to, below
                continue
            left, right = getattr(getattr(a, table), field.name), getattr(getattr(b, table), field.name)
            if isinstance(left, np.ndarray):
                assert np.array_equal(left, right), (table, field.name)
            else:
                assert left == right, (table, field.name)
    assert a.names == b.names and a.cats == b.cats
    every = range(len(a.spans))
    assert a.attrs_many(every) == b.attrs_many(every)
    assert [a.mark_attrs(i) for i in range(len(a.marks))] == [b.mark_attrs(i) for i in range(len(b.marks))]
    assert [a.error(i) for i in every] == [b.error(i) for i in every]


# --- (a) any prefix -----------------------------------------------------------------------
def check_prefix(scratch, data: bytes) -> None:
    if b"\n" not in data:  # no complete header: refused, and only with TraceError
        with pytest.raises(TraceError):
            load_bytes(scratch, data)
        return
    trace, report = load_bytes(scratch, data)
    assert loaded(trace) == expected(data)
    assert report.skipped_lines == report.skipped_rows == 0
    assert report.files[0].torn_tail_bytes == len(data) - data.rfind(b"\n") - 1


def test_every_line_boundary_prefix_loads_its_records(scratch, sample_bytes):
    """Cut after any complete line, a file loads exactly the records of those lines."""
    for end in [i + 1 for i, byte in enumerate(sample_bytes) if byte == ord("\n")]:
        check_prefix(scratch, sample_bytes[:end])


@given(data=st.data())
@SETTINGS
def test_any_byte_prefix_loads_a_prefix_of_records(scratch, sample_bytes, data):
    """Any byte prefix loads the records of its complete lines; only a headerless one raises TraceError."""
    cut = data.draw(st.integers(0, len(sample_bytes)))
    check_prefix(scratch, sample_bytes[:cut])


# --- (b) garbage lines ----------------------------------------------------------------------
garbage_lines = st.one_of(
    st.binary(max_size=60).map(lambda b: b"#" + b.replace(b"\n", b"")),
    st.just(b""),
    st.one_of(st.integers(-(2**63), 2**63 - 1), st.lists(st.integers(0, 99), max_size=3), st.text(max_size=10)).map(orjson.dumps),
    st.sampled_from(["spans", "open", "marks"]).map(lambda t: orjson.dumps({"type": t, "rows": {"no": "array"}})),
    st.integers(-(2**63), 2**63 - 1).map(lambda t: orjson.dumps({"type": t})),
    st.just(b'{"type":"spans","rows":[[1,2'),
)


@given(inserted=st.lists(st.tuples(st.integers(1, 20), garbage_lines), min_size=1, max_size=8))
@SETTINGS
def test_garbage_lines_are_counted_and_records_kept(scratch, sample_bytes, inserted):
    """Garbage lines inserted after the header are each counted; every valid record still loads."""
    lines = sample_bytes.split(b"\n")[:-1]
    for position, line in inserted:
        lines.insert(min(position, len(lines)), line)
    trace, report = load_bytes(scratch, b"\n".join(lines) + b"\n")
    assert loaded(trace) == expected(sample_bytes)
    assert report.skipped_lines == len(inserted)
    assert report.skipped_rows == 0


# --- (c) chunking ----------------------------------------------------------------------------
@given(chunk_bytes=st.integers(1, 2048))
@SETTINGS
def test_chunk_size_does_not_change_the_columns(scratch, sample_bytes, chunk_bytes):
    """Streaming in chunks of any size gives the same columns as reading in one go."""
    whole = load_bytes(scratch, sample_bytes).trace
    chunked = load(str(scratch), chunk_bytes=chunk_bytes).trace
    assert_same_trace(whole, chunked)
