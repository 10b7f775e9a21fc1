"""Ordering spans and placing them in their lane: depth, sub-rows, ties."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tracefiles import span_row, spans

from tracer.analysis import load
from tracer.analysis.layout import MAX_SUB_ROWS, nest, stable_argsort, start_order, sweep


def layout(write_trace, rows):
    trace = load(write_trace([spans(*rows)])).trace
    return {trace.span_name(i): (int(trace.spans.sub_row[i]), int(trace.spans.depth[i])) for i in range(len(trace.spans))}


def test_depth_follows_parent_links(write_trace):
    """Nested spans of one lane get depth 0, 1, 2 from their parent links."""
    rows = [span_row(3, 2, 1, 20, 30, "c"), span_row(2, 1, 1, 10, 40, "b"), span_row(1, 0, 1, 0, 50, "a")]
    assert layout(write_trace, rows) == {"a": (0, 0), "b": (0, 1), "c": (0, 2)}


def test_siblings_share_a_depth(write_trace):
    """Spans one after the other under one parent are siblings at the same depth."""
    rows = [span_row(1, 0, 1, 0, 100, "a"), span_row(2, 1, 1, 10, 20, "b"), span_row(3, 1, 1, 20, 30, "c")]
    assert layout(write_trace, rows) == {"a": (0, 0), "b": (0, 1), "c": (0, 1)}


def test_overlapping_spans_that_do_not_nest_get_sub_rows(write_trace):
    """Two roots of one lane overlapping partially go on separate sub-rows; nothing hides."""
    rows = [span_row(1, 0, 1, 0, 100, "a"), span_row(2, 1, 1, 10, 20, "a.child"),
            span_row(3, 0, 1, 50, 150, "b"), span_row(4, 3, 1, 110, 120, "b.child")]
    assert layout(write_trace, rows) == {"a": (0, 0), "a.child": (0, 1), "b": (1, 0), "b.child": (1, 1)}


def test_lost_parent_links_are_recovered_from_times(write_trace):
    """A child whose parent link is missing still draws nested inside the span enclosing it."""
    rows = [span_row(1, 0, 1, 0, 100, "a"), span_row(2, 0, 1, 10, 20, "orphan")]
    assert layout(write_trace, rows) == {"a": (0, 0), "orphan": (0, 1)}


def test_a_parent_in_another_lane_does_not_deepen(write_trace):
    """A spawner's span (another lane) is the parent, but depth counts in the child's own lane."""
    rows = [span_row(1, 0, 1, 0, 100, "spawner"), span_row(2, 1, 2, 10, 20, "spawned")]
    trace = load(write_trace([spans(*rows)])).trace
    assert trace.spans.parent.tolist() == [-1, 0]
    assert trace.spans.depth.tolist() == [0, 0]


def test_ties_put_the_parent_first(write_trace):
    """With equal starts (a coarse or logical clock) the enclosing span comes first."""
    rows = [span_row(2, 1, 1, 0, 10, "child"), span_row(1, 0, 1, 0, 10, "parent"), span_row(3, 0, 1, 0, 5, "other")]
    trace = load(write_trace([spans(*rows)])).trace
    names = [trace.span_name(i) for i in range(3)]
    assert names[:2] == ["parent", "child"]
    assert trace.spans.parent[1] == 0 and trace.spans.depth[1] == 1


def test_zero_length_spans_nest_and_follow(write_trace):
    """Zero-length spans at a parent's start nest; two in a row do not clash."""
    rows = [span_row(1, 0, 1, 0, 10, "a"), span_row(2, 1, 1, 0, 0, "z1"), span_row(3, 1, 1, 0, 0, "z2")]
    placed = layout(write_trace, rows)
    assert placed["a"] == (0, 0) and placed["z1"][1] == placed["z2"][1] == 1


def test_sweep_bounds_sub_rows():
    """A staircase of partial overlaps needs one sub-row each, up to MAX_SUB_ROWS."""
    n = MAX_SUB_ROWS + 10
    depth, sub = sweep(list(range(n)), [i + 1000 for i in range(n)])
    assert sub[: MAX_SUB_ROWS] == list(range(MAX_SUB_ROWS))
    assert set(sub[MAX_SUB_ROWS:]) == {MAX_SUB_ROWS - 1}
    assert set(depth) == {0}


def test_parent_links_to_later_rows_are_ignored():
    """``nest`` never follows a link forward, so bad links cannot loop."""
    start = np.array([0, 1, 2], np.int64)
    end = np.array([10, 9, 8], np.int64)
    depth, _sub, swept = nest(start, end, np.zeros(3, np.int32), np.array([2, 0, 1], np.int64))
    assert depth.tolist() == [0, 1, 2] and swept == 0


@given(st.lists(st.integers(-(2**40), 2**40), max_size=300))
@settings(max_examples=60, deadline=None)
def test_stable_argsort_matches_numpy(keys):
    """The packed sort gives numpy's stable order."""
    array = np.array(keys, np.int64)
    assert np.array_equal(stable_argsort(array), np.argsort(array, kind="stable"))


def test_stable_argsort_wide_keys_fall_back():
    """Keys too wide to pack still sort stably."""
    keys = np.array([2**62, -(2**62), 5, 5, 0], np.int64)
    assert stable_argsort(keys).tolist() == [1, 4, 2, 3, 0]


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 50)), max_size=80))
@settings(max_examples=80, deadline=None)
def test_layout_never_hides_a_span(intervals):
    """Whatever the times, two spans of a lane on the same sub-row and depth never overlap."""
    starts = np.array(sorted(min(a, b) for a, b in intervals), np.int64) if intervals else np.zeros(0, np.int64)
    spans = sorted((min(a, b), max(a, b)) for a, b in intervals)
    start = np.array([s for s, _ in spans], np.int64)
    end = np.array([e for _, e in spans], np.int64)
    order = start_order(start, end, later_first=False)
    start, end = start[order], end[order]
    depth, sub, _ = nest(start, end, np.zeros(len(start), np.int32), np.full(len(start), -1, np.int64))
    assert len(starts) == len(start)
    bands: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for s, e, d, r in zip(start.tolist(), end.tolist(), depth.tolist(), sub.tolist()):
        bands.setdefault((r, d), []).append((s, e))
    for placed in bands.values():
        for (_, e1), (s2, _) in itertools.pairwise(placed):
            assert s2 >= e1
