"""Splitting a stream into lines: chunks, oversized lines, the torn tail."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from tracer.analysis._lines import LineReader


def read_all(data: bytes, chunk_bytes: int, limit: int = 1 << 20) -> tuple[list[bytes | None], LineReader]:
    reader = LineReader(io.BytesIO(data), chunk_bytes=chunk_bytes, max_record_bytes=limit)
    lines = [None if bounds is None else chunk[bounds[0] : bounds[1]] for chunk, batch in reader for bounds in batch]
    return lines, reader


def test_lines_and_torn_tail():
    """Complete lines are handed on; the unterminated tail only measured."""
    lines, reader = read_all(b"a\nbb\n\nccc", chunk_bytes=2)
    assert lines == [b"a", b"bb", b""]
    assert reader.torn_tail_bytes == 3
    assert reader.bytes_read == 9


def test_oversized_line_is_replaced_and_measured():
    """A line over the limit becomes None, its length noted by position."""
    lines, reader = read_all(b"ok\n" + b"x" * 50 + b"\nafter\n", chunk_bytes=7, limit=10)
    assert lines == [b"ok", None, b"after"]
    assert reader.oversized == {1: 50}


def test_oversized_tail_counts_as_torn():
    """An oversized line that never ends is the torn tail, not an oversized record."""
    lines, reader = read_all(b"ok\n" + b"x" * 50, chunk_bytes=4, limit=10)
    assert lines == [b"ok"]
    assert reader.oversized == {}
    assert reader.torn_tail_bytes == 50


@given(
    st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    st.booleans(),
    st.integers(1, 64),
    st.integers(1, 40),
)
@settings(max_examples=200, deadline=None)
def test_any_chunk_size_gives_the_same_lines(lines, torn, chunk_bytes, limit):
    """Whatever the chunk size, the same lines (and the same oversized ones) come out."""
    data = b"\n".join(lines) + (b"" if torn or not lines else b"\n")
    got, reader = read_all(data, chunk_bytes, limit)
    whole = data.split(b"\n")
    tail = whole.pop()
    assert got == [line if len(line) <= limit else None for line in whole]
    assert reader.torn_tail_bytes == len(tail)
