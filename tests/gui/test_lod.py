"""Level of detail and layout without Qt: merged pixels keep their dominant category, rows and picks are right."""

from __future__ import annotations

import numpy as np
import pytest

from gui.data import ViewerData
from gui.layout import ROW_H, LaneLayout
from gui.lod import RAW_LIMIT, compute_frame
from gui.plain import format_duration, format_tick
from tracer.analysis import load


@pytest.fixture
def make_data(tmp_path, trace_writer):
    """Return a function loading a one-lane trace of (name, category, start, end, attrs) spans."""
    return lambda spans: ViewerData(load([str(trace_writer(tmp_path / "t.jsonl", spans))]))


def _frame(data, t_lo, t_hi, width_px):
    layout = LaneLayout(data.trace, data.index)
    rows = layout.rows_between(0, layout.height)
    return compute_frame(data.index, rows, layout.row_y, ROW_H, t_lo, t_hi, (t_hi - t_lo) / width_px, data.open_by_pos)


def test_narrow_spans_merge_per_pixel_with_the_dominant_category(make_data):
    """Thousands of sub-pixel spans become a few rectangles coloured by the category covering most of each pixel."""
    spans = []
    for k in range(4000):  # 1 µs apart: "db" 800 ns, then "lock" 100 ns
        spans.append(("q", "db", 10_000 + k * 1000, 10_800 + k * 1000, None))
        spans.append(("l", "lock", 10_850 + k * 1000, 10_950 + k * 1000, None))
    data = make_data(spans)
    frame = _frame(data, 0, 4_020_000, 400)  # 10 µs per pixel
    cats = {data.trace.cats[c] for c, _, rects in frame.groups}
    assert cats == {"db"}
    rects = np.concatenate([r for _, _, r in frame.groups])
    assert len(rects) < 10  # adjacent pixels of one colour are one rectangle
    assert rects[:, 2].sum() == pytest.approx(400, abs=3)


def test_zoomed_in_spans_are_drawn_one_by_one_with_labels(make_data):
    """Wide spans get their own rectangle and a label candidate; lock waits are hatched."""
    data = make_data([("a", "db", 0, 500_000, None), ("lock.wait x", "lock", 500_000, 1_000_000, {"lock": "x"})])
    frame = _frame(data, 0, 1_000_000, 1000)
    by = {(data.trace.cats[c], hatched): len(r) for c, hatched, r in frame.groups}
    assert by == {("db", False): 1, ("lock", True): 1}
    assert len(frame.label_span) == 2


def test_a_level_stands_in_for_many_raw_spans(make_data):
    """Beyond RAW_LIMIT spans in range, a coarser level is used and the dominant colour survives."""
    n = RAW_LIMIT + 5000
    spans = [("q", "db" if k % 10 else "audit", k * 100, k * 100 + 90, None) for k in range(n)]
    data = make_data(spans)
    frame = _frame(data, 0, n * 100, 500)
    assert frame.level >= 1
    assert frame.items < n / 10
    assert {data.trace.cats[c] for c, _, _ in frame.groups} == {"db"}


def test_pick_finds_the_span_under_the_cursor(make_data):
    """span_at returns the span containing the time, or the nearest within tolerance, else -1."""
    data = make_data([("a", "db", 0, 100, None), ("b", "db", 200, 300, None)])
    index = data.index
    row = int(index.span_row[0])
    assert data.trace.span_name(index.span_at(row, 50, 0)) == "a"
    assert data.trace.span_name(index.span_at(row, 195, 10)) == "b"
    assert index.span_at(row, 150, 10) == -1


@pytest.mark.parametrize(("ns", "spacing", "text"), [
    (0, 1e6, "0"), (302e6, 1e6, "302 ms"), (302.5e6, 0.5e6, "302.5 ms"), (300.002e9, 1e6, "300.002 s"),
    (1500, 500, "1.5 µs"), (40, 10, "40 ns"), (2e9, 1e9, "2 s"),
])
def test_tick_labels_pick_a_unit_from_the_spacing(ns, spacing, text):
    assert format_tick(ns, spacing) == text


def test_durations_are_readable():
    assert [format_duration(x) for x in (350, 2500, 1_100_000, 3_200_000_000, 125e9)] == [
        "350 ns", "2.50 µs", "1.10 ms", "3.20 s", "2 min 5.0 s"]


def test_overlapping_spans_of_one_lane_get_their_own_rows(make_data):
    """Two spans of one lane that overlap without nesting are drawn on two rows, not on top of each other."""
    from gui.layout import LANE_PAD

    data = make_data([("a", "db", 0, 100, None), ("b", "db", 50, 150, None), ("c", "db", 60, 70, None)])
    layout = LaneLayout(data.trace, data.index)
    rows = {data.trace.span_name(i): int(data.index.span_row[i]) for i in range(3)}
    assert len(set(rows.values())) == 3  # a, b on two bands; c nested in one of them
    assert data.index.lane_rows[0] == 3
    assert layout.lane_h[0] == pytest.approx(LANE_PAD + 3 * ROW_H + 3.0)
