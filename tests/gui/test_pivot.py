"""Pivot by attribute: one lane per value, spans from every host in their value's lane, and back to threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gui.filters import ViewFilter, derive
from gui.pivot import PivotValues, attribute_keys, pivot_trace

SKEW = Path(__file__).resolve().parents[2] / "sample_traces" / "multi-host-skew"
UUID = "5f8d2a64-7c1e-4b39-9a0e-3d6b1c2f4e71"
INSTANCE = ("instance_uuid", "instance_uuids")


@pytest.fixture(scope="module")
def skew_data():
    from gui.app import load_data

    return load_data(sorted(str(p) for p in SKEW.glob("*.jsonl")))


def _carries(attrs, keys, value):
    for key in keys:
        v = attrs.get(key)
        if v == value or (isinstance(v, list) and value in v):
            return True
    return False


def test_attribute_keys_offer_a_key_with_its_plural(skew_data):
    """instance_uuid and instance_uuids make one choice; keys whose values cannot name a lane are left out."""
    choices = {c.keys: c for c in attribute_keys(skew_data.trace)}
    assert INSTANCE in choices and ("instance_uuid",) not in choices
    trace = skew_data.trace
    rows = [trace.attrs(i) for i in range(len(trace.spans))] + [trace.mark_attrs(i) for i in range(len(trace.marks))]

    def usable(v):  # a scalar, or a list holding one (``[null]`` names no instance)
        return isinstance(v, (str, int, float)) or (isinstance(v, list) and any(isinstance(x, (str, int)) for x in v))

    carrying = sum(1 for attrs in rows if any(usable(attrs.get(k)) for k in INSTANCE))
    assert choices[INSTANCE].rows == carrying and not choices[INSTANCE].sampled
    assert ("migration_id",) in choices


def test_pivot_by_instance_gives_one_lane_with_spans_from_both_hosts(skew_data, open_window):
    """Pivoting the two-host trace by instance: one lane, the instance's, holding every span that names it."""
    window = open_window(skew_data)
    tl = window.timeline
    before = tl.x_range()
    tl.set_pivot(INSTANCE)
    assert tl.lane_names() == [UUID]
    assert [e.kind for e in tl.lanes.entries] == ["host", "lane"]
    assert tl.lanes.entries[0].label.startswith("by instance_uuid / instance_uuids")
    view = tl.data
    trace = skew_data.trace
    expected = [i for i in range(len(trace.spans)) if _carries(trace.attrs(i), INSTANCE, UUID)]
    assert sorted(view.base_row.tolist()) == expected
    hosts = {trace.hosts[int(trace.lanes.host[trace.spans.lane[r]])] for r in view.base_row.tolist()}
    assert hosts == {"host1", "host2"}
    assert tl.x_range() == pytest.approx(before)  # the same time axis
    assert "by instance_uuid / instance_uuids: 1 lane" in window.navigation.view_label.text()


def test_overlapping_spans_of_a_value_get_sub_rows(skew_data):
    """Spans of one value that overlap without nesting (two hosts at once) never share a row."""
    values = PivotValues.read(skew_data.trace, INSTANCE)
    trace, _rows, _ = pivot_trace(skew_data.trace, values)
    index_rows = derive(skew_data, ViewFilter(pivot=INSTANCE), values).index.span_row
    order = np.lexsort((trace.spans.start_ns, index_rows))
    same_row = index_rows[order][1:] == index_rows[order][:-1]
    assert not np.any(same_row & (trace.spans.start_ns[order][1:] < trace.spans.end_ns[order][:-1]))
    assert trace.t0_ns == skew_data.trace.t0_ns


def test_a_list_value_puts_the_span_in_each_lane(tmp_path, trace_writer):
    """A span whose ``instance_uuids`` lists two instances shows in both instances' lanes."""
    from gui.app import load_data

    path = trace_writer(tmp_path / "two.jsonl", [
        ("claim", "db", 1_000, 5_000, {"instance_uuid": "a"}),
        ("audit", "audit", 2_000, 9_000, {"instance_uuids": ["a", "b", {"not": "scalar"}]}),
        ("other", "db", 3_000, 4_000, {"instance_uuid": "b"}),
        ("unrelated", "db", 3_000, 4_000, {"host": "x"}),
    ])
    data = load_data([str(path)])
    view = derive(data, ViewFilter(pivot=INSTANCE), PivotValues.read(data.trace, INSTANCE))
    lanes = view.trace.lanes.label
    by_lane = {lanes[k]: sorted(data.trace.span_name(int(r)) for r in view.base_row[view.trace.spans.lane == k])
               for k in range(len(lanes))}
    assert by_lane == {"a": ["audit", "claim"], "b": ["audit", "other"]}
    assert lanes == ["a", "b"]  # in order of first appearance


def test_clicking_a_pivoted_span_shows_where_it_ran(skew_data, open_window):
    """The details of a span in a value lane name its real host and thread, and its attributes."""
    window = open_window(skew_data)
    tl = window.timeline
    tl.set_pivot(INSTANCE)
    row = int(np.flatnonzero(np.array([tl.data.trace.span_name(i) == "db.Migration.save"
                                       for i in range(len(tl.data.trace.spans))]))[0])
    tl.spanClicked.emit(row)
    text = window.details.text.toPlainText()
    assert text.startswith("db.Migration.save")
    assert "lane: host2 · rpc rebuild_instance 5f8d2a64" in text and f"instance_uuid: {UUID}" in text
    assert "host2 · rpc rebuild_instance" in tl.hover_text(
        float(tl.data.trace.spans.start_ns[row] - tl.data.trace.t0_ns + 1000),
        float(tl.lanes.row_y[tl.data.index.span_row[row]] + 8))


def test_hazard_bands_follow_into_the_value_lane(skew_data, open_window):
    """The confirmed hazard is drawn on the instance's lane, and selecting it still zooms to it."""
    window = open_window(skew_data)
    tl = window.timeline
    tl.set_pivot(INSTANCE)
    assert 0 in tl.data.hazards.lanes(0)
    window.select_hazard(0)
    x0, x1 = tl.x_range()
    assert x0 < float(skew_data.hazards.start[0]) and float(skew_data.hazards.end[0]) < x1
    outlined = [s["row"] for s in tl.data.hazards.describe(0)["spans"]]
    assert all(0 <= r < len(tl.data.trace.spans) for r in outlined)


def test_back_to_thread_lanes_restores_lanes_and_collapsed_groups(skew_data, open_window):
    """Thread lanes come back as they were (a collapsed host stays collapsed); the filter panel follows."""
    window = open_window(skew_data)
    tl = window.timeline
    host1 = next(e for e in tl.lanes.entries if e.kind == "host" and e.label == "host1")
    tl.toggle(host1.key)
    names = tl.lane_names()
    window.navigation.filter_dock.show()
    panel = window.navigation.filters
    panel.pivot.setCurrentIndex(panel._choices.index(INSTANCE))
    panel.pivot.activated.emit(panel.pivot.currentIndex())
    assert tl.view_filter.pivot == INSTANCE and tl.lane_names() == [UUID]
    tl.set_pivot(())
    assert tl.lane_names() == names and tl.data is skew_data
    assert panel.pivot.currentIndex() == 0


def test_pivot_menu_lists_the_keys_and_pivots(skew_data, open_window):
    """View > Pivot by attribute offers the keys present; choosing one pivots; a value lane can be hidden."""
    window = open_window(skew_data)
    nav = window.navigation
    nav._fill_pivot_menu()
    texts = [a.text() for a in nav.pivot_menu.actions()]
    assert "instance_uuid / instance_uuids" in texts and "migration_id" in texts
    next(a for a in nav.pivot_menu.actions() if a.text() == "migration_id").trigger()
    tl = window.timeline
    assert tl.lane_names() == ["7"]
    lane = next(e for e in tl.lanes.entries if e.kind == "lane")
    next(a for a in tl.lane_menu(lane).actions() if a.text().startswith("Hide lane")).trigger()
    assert tl.lane_names() == [] and tl.hidden_lane_count() == 1
    tl.show_all_lanes()
    assert tl.lane_names() == ["7"]


def test_search_matches_follow_into_the_pivot(skew_data, open_window):
    """A search made before pivoting outlines the same spans in their value lanes."""
    window = open_window(skew_data)
    tl = window.timeline
    tl.search("db.Instance.save")
    before = len(tl.matches)
    tl.set_pivot(INSTANCE)
    m = tl.matches
    assert len(m) == before and m.hidden == 0
    assert {tl.data.trace.span_name(int(r)) for r in m.span_rows} == {"db.Instance.save"}
