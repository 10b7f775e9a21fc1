"""Filters: hidden categories, hosts and lanes vanish from the timeline; groups collapse; lanes hide and come back."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from gui.filters import ViewFilter, derive, subset_trace

Checked = QtCore.Qt.CheckState.Checked
Unchecked = QtCore.Qt.CheckState.Unchecked


def _pixels(widget):
    image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return data.reshape(image.height(), image.bytesPerLine() // 4, 4)


def _count_colour(pixels, rgb):
    r, g, b = rgb
    return int(np.sum((pixels[..., 2] == r) & (pixels[..., 1] == g) & (pixels[..., 0] == b)))


def _shown_panel(window):
    """Show the Filters dock (its lists are built when first shown) and return its panel."""
    window.navigation.filter_dock.show()
    return window.navigation.filters


def _panel_item(panel, text):
    found = panel.tree.findItems(text, QtCore.Qt.MatchFlag.MatchStartsWith | QtCore.Qt.MatchFlag.MatchRecursive)
    assert found, text
    return found[0]


def test_unchecking_a_category_removes_its_spans(buggy_data, open_window, qtbot):
    """Unchecking db in the Filters panel: no db span is left in the view, and db's colour is gone from the lanes."""
    window = open_window(buggy_data)
    tl = window.timeline
    trace = buggy_data.trace
    db = trace.cats.index("db")
    db_rgb = tl.theme.category("db")
    assert _count_colour(_pixels(tl.plot), db_rgb) > 50
    panel = _shown_panel(window)
    item = _panel_item(panel, "db ")
    item.setCheckState(0, Unchecked)
    qtbot.waitUntil(lambda: tl.view_filter.hidden_cats == {db})
    view = tl.data.trace
    assert db not in set(view.spans.cat.tolist())
    assert len(view.spans) == int(np.sum(trace.spans.cat != db))
    assert _count_colour(_pixels(tl.plot), db_rgb) == 0
    assert tl.lane_names() == window.timeline.lanes.lane_names() and len(tl.lane_names()) == 3  # lanes stay
    assert "hidden db" in window.navigation.view_label.text()
    item.setCheckState(0, Checked)
    qtbot.waitUntil(lambda: not tl.view_filter.hidden_cats)
    assert tl.data is buggy_data  # back to the loaded data itself


def test_unchecking_a_host_removes_its_lanes(buggy_data, open_window, qtbot):
    """Unchecking host2 in the panel hides all its lanes; the lane tree re-lays out without it."""
    window = open_window(buggy_data)
    tl = window.timeline
    panel = _shown_panel(window)
    _panel_item(panel, "host2").setCheckState(0, Unchecked)
    qtbot.waitUntil(lambda: len(tl.view_filter.hidden_lanes) == 2)
    assert tl.lane_names() == ["host1 · periodic update_available_resource"]
    assert [e.label for e in tl.lanes.entries if e.kind == "host"] == ["host1"]
    assert tl.vb.content_height == tl.lanes.height


def test_clicking_a_host_header_collapses_it(buggy_data, open_window, qtbot):
    """A click on host2's header in the lane tree hides its lanes; another brings them back."""
    window = open_window(buggy_data)
    tl = window.timeline
    axis = tl.lane_axis
    host2 = next(e for e in tl.lanes.entries if e.kind == "host" and e.label == "host2")
    y0, y1 = tl.vb.viewRange()[1]
    local_y = (host2.y + host2.height / 2 - y0) / (y1 - y0) * axis.size().height()
    pos = tl.plot.mapFromScene(axis.mapToScene(QtCore.QPointF(40, local_y)))
    qtbot.mouseClick(tl.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert tl.lane_names() == ["host1 · periodic update_available_resource"]
    assert next(e for e in tl.lanes.entries if e.label == "host2").collapsed
    qtbot.mouseClick(tl.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert len(tl.lane_names()) == 3


def _trigger(menu, starts_with):
    action = next(a for a in menu.actions() if a.text().startswith(starts_with))
    assert action.isEnabled(), starts_with
    action.trigger()


def test_lane_menu_hides_a_lane_and_show_all_brings_it_back(buggy_data, open_window):
    """Right-click menu on a lane name: Hide lane; Show all lanes (with the count hidden) restores it."""
    window = open_window(buggy_data)
    tl = window.timeline
    panel = _shown_panel(window)
    lane = next(e for e in tl.lanes.entries if e.kind == "lane" and "rebuild" in e.label)
    _trigger(tl.lane_menu(lane), "Hide lane")
    assert "host2 · rpc rebuild_instance 5f8d2a64" not in tl.lane_names() and len(tl.lane_names()) == 2
    assert _panel_item(panel, "rpc rebuild_instance").checkState(0) == Unchecked  # the panel follows
    menu = tl.lane_menu(tl.lanes.entries[0])
    assert any(a.text() == "Show all lanes (1 hidden)" for a in menu.actions())
    _trigger(menu, "Show all lanes")
    assert len(tl.lane_names()) == 3


def test_lane_menu_hides_a_host_and_the_other_lanes(buggy_data, open_window):
    """A host's menu hides the host; a lane's menu can keep that lane alone."""
    window = open_window(buggy_data)
    tl = window.timeline
    host1 = next(e for e in tl.lanes.entries if e.kind == "host" and e.label == "host1")
    _trigger(tl.lane_menu(host1), "Hide host")
    assert [n.split(" · ")[0] for n in tl.lane_names()] == ["host2", "host2"]
    tl.show_all_lanes()
    lane = next(e for e in tl.lanes.entries if e.kind == "lane" and "rebuild" in e.label)
    _trigger(tl.lane_menu(lane), "Hide the other lanes")
    assert tl.lane_names() == ["host2 · rpc rebuild_instance 5f8d2a64"]


def test_right_click_on_the_lane_tree_opens_the_menu(buggy_data, open_window, qtbot, monkeypatch):
    """A right click on a lane name asks for that lane's menu."""
    window = open_window(buggy_data)
    tl = window.timeline
    asked = []
    real_menu = tl.lane_menu

    class Shown:
        def __init__(self, entry):
            asked.append([a.text() for a in real_menu(entry).actions()])

        def exec(self, *args):
            pass  # a real menu would wait for the user here

    monkeypatch.setattr(tl, "lane_menu", Shown)
    lane = next(e for e in tl.lanes.entries if e.kind == "lane")
    y0, y1 = tl.vb.viewRange()[1]
    local_y = (lane.y + 10 - y0) / (y1 - y0) * tl.lane_axis.size().height()
    pos = tl.plot.mapFromScene(tl.lane_axis.mapToScene(QtCore.QPointF(60, local_y)))
    qtbot.mouseClick(tl.plot.viewport(), QtCore.Qt.MouseButton.RightButton, pos=pos)
    assert asked and asked[0][0].startswith("Hide lane “host1")


def test_hidden_category_keeps_rows_and_time_axis(buggy_data):
    """The filtered view keeps every span's depth and the trace's time origin; parents left out become -1."""
    trace = buggy_data.trace
    lock = trace.cats.index("lock")
    view = derive(buggy_data, ViewFilter(hidden_cats=frozenset({lock})))
    rows = view.base_row
    assert np.array_equal(view.trace.spans.depth, trace.spans.depth[rows])
    assert view.trace.t0_ns == trace.t0_ns and view.duration_ns == buggy_data.duration_ns
    parent = view.trace.spans.parent
    linked = parent >= 0
    assert np.array_equal(rows[parent[linked]], trace.spans.parent[rows[linked]])
    dropped = ~linked & (trace.spans.parent[rows] >= 0)
    assert np.all(trace.spans.cat[trace.spans.parent[rows[dropped]]] == lock) and dropped.any()
    assert view.origin(0) == (buggy_data, int(rows[0]))


def test_subset_trace_keeps_marks_errors_and_lanes(buggy_data):
    """Marks of kept categories stay (in time order), lanes are the same table."""
    trace = buggy_data.trace
    keep_marks = np.ones(len(trace.marks), bool)
    keep_marks[0] = False
    sub, _s_rows, m_rows = subset_trace(trace, np.ones(len(trace.spans), bool), keep_marks)
    assert sub.lanes is trace.lanes and len(sub.marks) == len(trace.marks) - 1
    assert np.array_equal(sub.marks.ts_ns, trace.marks.ts_ns[1:]) and m_rows.tolist() == list(range(1, len(trace.marks)))


def test_reloading_the_same_files_keeps_the_filters(buggy_data, buggy_path, open_window):
    """Showing the same files again (a reload, new offsets) keeps hidden categories and lanes, matched by name."""
    from gui.app import load_data

    window = open_window(buggy_data)
    tl = window.timeline
    lock = buggy_data.trace.cats.index("lock")
    host1 = [la for la in range(len(buggy_data.trace.lanes)) if buggy_data.trace.lanes.host[la] == 0]
    tl.set_filter(ViewFilter(hidden_cats=frozenset({lock}), hidden_lanes=frozenset(host1)))
    names = tl.lane_names()
    _shown_panel(window)
    window.show_data(load_data([str(buggy_path)]))
    new = window.timeline
    assert new is not tl and new.lane_names() == names
    assert [new.root.trace.cats[c] for c in new.view_filter.hidden_cats] == ["lock"]
    assert window.navigation.filters.hidden() == (new.view_filter.hidden_cats, new.view_filter.hidden_lanes)


def test_hazards_found_after_the_first_frame_reach_a_derived_view(buggy_path, open_window):
    """A view made before the analysis finished gets the hazards, in its lanes, when they arrive."""
    from gui.data import ViewerData
    from tracer.analysis import load
    from tracer.analysis.hazards import analyze
    from tracer.analysis.rules import load_rules

    data = ViewerData(load([str(buggy_path)]), sources=[str(buggy_path)])
    window = open_window(data)
    tl = window.timeline
    tl.set_hidden_categories({data.trace.cats.index("db")})
    assert len(tl.data.hazards) == 0
    ruleset = load_rules("nova")
    data.set_analysis(analyze(data.trace, ruleset), ruleset.name)
    window.show_hazards()
    assert len(tl.data.hazards) == 2 and tl.data is not data
    assert tl.data.hazards.lanes(0) == data.hazards.lanes(0)
    assert len(tl.bands._band_hazard) > 0
