"""The numpy reader of ``spans`` rows: what it accepts, it reads exactly as orjson does."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracefiles import span_row, spans

import tracer.analysis._file as file_module
import tracer.analysis.loader as loader_module
from tracer.analysis import load
from tracer.analysis._columns import TIME_LIMIT, Interner
from tracer.analysis._scan import SpanScanner

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COLUMNS = ("id", "parent", "lane", "start_ns", "end_ns")

texts = st.text(max_size=40) | st.sampled_from(["", "db", "lock.wait compute_resources", "a,b", "[1]", "x\"y", "é ü", "\u2028"])
ids = st.integers(1, 10**19 - 1) | st.sampled_from([1, 9, 10, 10**18, 2**62 - 1])
refs = st.integers(0, 10**19 - 1) | st.just(0)
times = st.integers(0, TIME_LIMIT - 1) | st.sampled_from([0, 1, 10**8 - 1, 10**8, 10**16, TIME_LIMIT - 1])
errors = st.none() | st.tuples(texts, texts).map(list) | st.tuples(texts).map(list)


@st.composite
def rows(draw):
    start = draw(times)
    end = draw(st.integers(start, TIME_LIMIT - 1))
    return [draw(ids), draw(refs), draw(times), start, end, draw(texts), draw(texts), draw(errors)]


def scan(lines: list[bytes]):
    names, cats = Interner(), Interner()
    return SpanScanner(names, cats).scan([memoryview(line) for line in lines]), names, cats


def decoded(result, names, cats, line: int) -> list[list]:
    """Return the rows the scanner read for ``line`` as orjson would give them."""
    out = []
    for r in [r for r, ln in enumerate(result.line.tolist()) if ln == line]:
        row = [int(result.columns[c][r]) for c in COLUMNS]
        row += [names.values[result.columns["name"][r]], cats.values[result.columns["cat"][r]]]
        error = result.errors.get(r)
        out.append(row + [list(error) if error else None])
    return out


def expected_error(error):
    """The scanner keeps (type, message); a one-item error reads as (type, "")."""
    return None if error is None else [error[0], error[1] if len(error) > 1 else ""]


@given(st.lists(st.lists(rows(), min_size=1, max_size=6), min_size=1, max_size=4))
@SETTINGS
def test_recorder_layout_is_accepted_and_read_exactly(lines):
    """Rows as orjson writes them are accepted (unless a string needs escapes) and read value for value."""
    raw = [orjson.dumps(batch) for batch in lines]
    result, names, cats = scan(raw)
    for k, (batch, text) in enumerate(zip(lines, raw)):
        if b"\\" in text:  # escapes: the parser never queues such lines
            continue
        assert result.accepted[k], text
        assert decoded(result, names, cats, k) == [[*row[:7], expected_error(row[7])] for row in batch]


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        at = rng.randrange(len(out) + 1)
        if choice < 0.4 and out:
            out[min(at, len(out) - 1)] = rng.choice(b'0123456789,[]"-.e nul\x00\x1f\xff{}:\\')
        elif choice < 0.7:
            out[at:at] = bytes([rng.choice(b'0,[]"-.1 ')])
        elif out:
            del out[min(at, len(out) - 1)]
    return bytes(out)


@pytest.mark.parametrize("seed", range(4))
def test_what_is_accepted_is_what_orjson_reads(seed):
    """Mutated rows: a line the scanner accepts parses with orjson to exactly the rows it read, all valid."""
    rng = random.Random(seed)
    sample = [
        [1, 0, 1, 5, 9, "a", "db", None],
        [123456789012345678, 1, 2, 10**12, 10**12 + 5, "lock.wait x", "lock", ["E", "boom"]],
        [7, 123456789012345678, 0, 0, 0, "", "", None],
    ]
    base = orjson.dumps(sample)
    accepted = 0
    for _ in range(60):  # many lines per scan: one line's damage must not leak into the next
        lines = [mutate(rng, base) for _ in range(100)]
        lines = [line for line in lines if b"\\" not in line]
        result, names, cats = scan(lines)
        for k, line in enumerate(lines):
            if not result.accepted[k]:
                continue
            accepted += 1
            parsed = orjson.loads(line)
            assert decoded(result, names, cats, k) == [[*row[:7], expected_error(row[7])] for row in parsed], line
            for row in parsed:
                assert len(row) == 8 and 1 <= row[0] < 2**64 and row[2] < TIME_LIMIT and row[3] <= row[4] < TIME_LIMIT
    assert accepted > 200


@pytest.mark.parametrize(
    "line",
    [
        b'[[01,0,1,5,9,"n","",null]]',  # leading zero: not JSON
        b'[[1,0,1,5,9,"n","",null],]',
        b'[[1,0,1,5,9,"n","",null] ]',
        b'[[1,0,1,5,9,"n","",nul]]',
        b'[[1,0,1,5,9,"n","",null,3]]',  # a ninth column: the general path reads it
        b'[[1,0,1,5,9,"n","",[]]]',
        b'[[1,0,1,5,9,"n","",["E",1]]]',
        b'[[1,0,1,9,5,"n","",null]]',  # ends before it starts
        b'[[0,0,1,5,9,"n","",null]]',  # id 0
        b'[[1,0,1,5,4611686018427387904,"n","",null]]',  # 2**62
        b'[[1,0,1,5,12345678901234567890,"n","",null]]',  # 20 digits
        b'[[1,0,1,5,9,"n\x01","",null]]',
        b'[[1,0,1,5,9,"\xff","",null]]',  # not UTF-8
        b'[[1,0,1,-5,9,"n","",null]]',
        b'[[1,0,1,5.0,9,"n","",null]]',
        b'[[1,0,1,5,9,"n","",null],[2,0,1,5,9,"n","",null]',
        b"[]",
    ],
)
def test_anything_else_is_left_to_the_general_path(line):
    """Lines that are not exactly the recorder's layout, or hold values out of range, are not accepted."""
    good = b'[[2,0,1,5,9,"ok","",null]]'
    result, names, _ = scan([good, line, good])
    assert result.accepted.tolist() == [True, False, True]
    assert [names.values[c] for c in result.columns["name"].tolist()] == ["ok", "ok"]


def test_scanning_in_worker_threads_gives_the_same_trace(tmp_path, monkeypatch, sample_bytes):
    """Blocks scanned ahead in threads, many in flight, lines the scanner refuses in between: same trace as inline."""
    lines = sample_bytes.split(b"\n")[:-1]
    extra = []
    for k in range(300):  # many small spans lines, some the scanner refuses (escapes, bad rows, other key order)
        rows = [span_row(10_000 + 3 * k + j, 0, 1 + j, 10 * k, 10 * k + 5, f"job{k % 5}", "db") for j in range(3)]
        if k % 17 == 0:
            rows[1][5] = 'quote"d'
        if k % 23 == 0:
            rows[2][4] = -1
        line = orjson.dumps(spans(*rows, attrs=[{"k": k, "j": j} for j in range(3)]))
        if k % 29 == 0:
            line = orjson.dumps({"attrs": [{"k": k, "j": j} for j in range(3)], "rows": rows, "type": "spans"})
        if k % 31 == 0:  # rows only parse as part of the whole line: the scanner and the rows parse both give up
            rows[0][7] = {"x": 1, "attrs": 2}
            line = orjson.dumps(spans(*rows, attrs=[{"k": k, "j": j} for j in range(3)]))
        extra.append(line)
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join([lines[0], *extra, *lines[1:]]) + b"\n")
    inline = load(str(path))
    monkeypatch.setattr(loader_module, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(loader_module, "MAX_WORKERS", 2)
    monkeypatch.setattr(file_module, "_SCAN_BYTES", 200)
    pooled = load(str(path), chunk_bytes=4096)
    for table in ("spans", "marks"):
        for column, values in vars(getattr(inline.trace, table)).items():
            if column != "attrs_ref":
                assert np.array_equal(values, getattr(getattr(pooled.trace, table), column)), column
    every = range(len(inline.trace.spans))
    assert inline.trace.attrs_many(every) == pooled.trace.attrs_many(every)
    assert inline.trace.names == pooled.trace.names
    assert [inline.trace.error(i) for i in every] == [pooled.trace.error(i) for i in every]
    assert inline.report.problems == pooled.report.problems
    assert inline.report.skipped_rows == pooled.report.skipped_rows == sum(k % 23 == 0 for k in range(300)) + sum(k % 31 == 0 for k in range(300))
