"""The main window on the sample traces: lanes, hazards, navigation, details."""

from __future__ import annotations

import pytest
from PySide6 import QtCore, QtWidgets

from tracer.analysis.hazards import analyze
from tracer.analysis.rules import load_rules

Key = QtCore.Qt.Key


def test_buggy_sample_lanes_are_named_host_then_thread(buggy_data, open_window):
    """The three lanes of the buggy sample are listed under their hosts with readable names."""
    window = open_window(buggy_data)
    assert window.timeline.lane_names() == [
        "host1 · periodic update_available_resource",
        "host2 · rpc rebuild_instance 5f8d2a64",
        "host2 · periodic update_available_resource",
    ]
    kinds = [e.kind for e in window.timeline.lanes.entries]
    assert kinds == ["host", "process", "lane", "host", "process", "lane", "lane"]


@pytest.mark.parametrize("which", ["buggy_data", "fixed_data"])
def test_hazard_list_matches_the_analysis(which, request, open_window):
    """The hazard panel lists exactly what analyze() finds, with the same classes."""
    data = request.getfixturevalue(which)
    window = open_window(data)
    expected = [h["class"] for h in analyze(data.trace, load_rules("nova")).hazards()]
    model = window.hazards.model
    assert model.rowCount() == len(expected)
    assert [model.index(i, 1).data() for i in range(model.rowCount())] == expected
    if which == "buggy_data":
        assert expected == ["confirmed", "potential"]
    else:
        assert expected == ["serialized"]


def test_selecting_a_hazard_zooms_to_it(buggy_data, open_window):
    """Selecting hazard 1 narrows the view to both of its windows (the audit's reads and the unlocked writes)."""
    window = open_window(buggy_data)
    before = window.timeline.x_range()
    window.hazards.select(0)
    x0, x1 = window.timeline.x_range()
    start, end = float(buggy_data.hazards.start[0]), float(buggy_data.hazards.end[0])
    assert x0 < start and end < x1
    hz = buggy_data.hazards
    assert x0 <= float(hz.view_start[0]) < start and end <= float(hz.view_end[0]) <= x1
    assert (x1 - x0) < (before[1] - before[0]) / 2
    assert window.timeline.bands.selected == 0


def test_keys_zoom_pan_and_fit(buggy_data, open_window, qtbot):
    """W halves and S doubles the range about its centre; A/D pan a quarter; F fits; Alt+Left goes back."""
    window = open_window(buggy_data)
    tl = window.timeline
    full = tl.x_range()
    width = full[1] - full[0]
    qtbot.keyClick(tl.plot, Key.Key_W)
    x0, x1 = tl.x_range()
    assert x1 - x0 == pytest.approx(width / 2, rel=1e-6)
    assert (x0 + x1) / 2 == pytest.approx((full[0] + full[1]) / 2, rel=1e-6)
    qtbot.keyClick(tl.plot, Key.Key_W)
    zoomed = tl.x_range()
    qtbot.keyClick(window.hazards.table, Key.Key_D)  # works wherever the focus is in the window
    x0, x1 = tl.x_range()
    assert x0 == pytest.approx(zoomed[0] + (zoomed[1] - zoomed[0]) / 4, rel=1e-6)
    qtbot.keyClick(tl.plot, Key.Key_A)
    assert tl.x_range() == pytest.approx(zoomed, rel=1e-6)
    qtbot.keyClick(tl.plot, Key.Key_S)
    x0, x1 = tl.x_range()
    assert x1 - x0 == pytest.approx((zoomed[1] - zoomed[0]) * 2, rel=1e-6)
    qtbot.keyClick(tl.plot, Key.Key_F)
    assert tl.x_range() == pytest.approx(full, rel=1e-6)
    qtbot.keyClick(tl.plot, Key.Key_Left, QtCore.Qt.KeyboardModifier.AltModifier)
    assert tl.x_range()[1] - tl.x_range()[0] == pytest.approx((zoomed[1] - zoomed[0]) * 2, rel=1e-6)


def test_clicking_a_span_shows_its_attributes(buggy_data, open_window, qtbot):
    """A click on db.Migration.save fills the details panel with its name, category and attributes."""
    window = open_window(buggy_data)
    tl = window.timeline
    trace = buggy_data.trace
    row = next(i for i in range(len(trace.spans)) if trace.span_name(i) == "db.Migration.save"
               and trace.attrs(i).get("status") == "done")
    window.select_hazard(0)
    qtbot.wait(10)
    t = (int(trace.spans.start_ns[row] + trace.spans.end_ns[row]) // 2) - trace.t0_ns
    y = tl.lanes.row_y[buggy_data.index.span_row[row]] + 8
    scene = tl.vb.mapViewToScene(QtCore.QPointF(t, y))
    pos = tl.plot.mapFromScene(scene)
    qtbot.mouseClick(tl.plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    text = window.details.text.toPlainText()
    assert text.startswith("db.Migration.save")
    assert "category: db" in text
    assert "status: done" in text
    assert "migration_id: 7" in text
    assert tl.bands.selected_span == row


def test_collapsing_a_host_hides_its_lanes(buggy_data, open_window, qtbot):
    """A click on the host2 header in the lane tree collapses it; another click expands it."""
    window = open_window(buggy_data)
    tl = window.timeline
    host2 = next(e for e in tl.lanes.entries if e.kind == "host" and e.label == "host2")
    tl.toggle(host2.key)
    assert tl.lane_names() == ["host1 · periodic update_available_resource"]
    tl.toggle(host2.key)
    assert len(tl.lane_names()) == 3


def test_unreadable_file_is_explained_in_the_window(tmp_path, qtbot):
    """Opening a file that is not a trace shows the reason in the window, not a traceback."""
    from gui.window import MainWindow

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\x89PNG not a trace\n")
    window = MainWindow()
    qtbot.addWidget(window)
    window.load_paths([str(bad)])
    assert window.timeline is None
    assert "not a racelane trace" in window.message.text()


def _send_wheel(widget, pos, delta_y, modifiers=QtCore.Qt.KeyboardModifier.NoModifier):
    from PySide6 import QtGui

    global_pos = widget.mapToGlobal(pos)
    event = QtGui.QWheelEvent(QtCore.QPointF(pos), QtCore.QPointF(global_pos), QtCore.QPoint(0, 0),
                              QtCore.QPoint(0, delta_y), QtCore.Qt.MouseButton.NoButton, modifiers,
                              QtCore.Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(widget, event)


def test_wheel_zooms_time_around_the_cursor_and_never_rows(buggy_data, open_window):
    """A wheel step over the lanes narrows the time range, keeping the time under the cursor in place; y stays."""
    window = open_window(buggy_data)
    tl = window.timeline
    x0, x1 = tl.x_range()
    y_before = tl.vb.viewRange()[1]
    t = x0 + 0.25 * (x1 - x0)
    pos = tl.plot.mapFromScene(tl.vb.mapViewToScene(QtCore.QPointF(t, 100)))
    _send_wheel(tl.plot.viewport(), pos, 240)
    n0, n1 = tl.x_range()
    assert (n1 - n0) < 0.9 * (x1 - x0)
    assert (t - n0) / (n1 - n0) == pytest.approx(0.25, abs=0.01)
    assert tl.vb.viewRange()[1] == pytest.approx(y_before)


def test_drag_pans_time(buggy_data, open_window, qtbot):
    """Dragging the lanes to the left shows later times (by the distance dragged)."""
    window = open_window(buggy_data)
    tl = window.timeline
    tl.zoom(0.25)
    x0, x1 = tl.x_range()
    viewport = tl.plot.viewport()
    start = tl.plot.mapFromScene(tl.vb.sceneBoundingRect().center())
    qtbot.mousePress(viewport, QtCore.Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        qtbot.mouseMove(viewport, start - QtCore.QPoint(20 * step, 0))
    qtbot.mouseRelease(viewport, QtCore.Qt.MouseButton.LeftButton, pos=start - QtCore.QPoint(200, 0))
    n0, n1 = tl.x_range()
    ns_per_px = (x1 - x0) / tl.vb.width()
    assert n1 - n0 == pytest.approx(x1 - x0, rel=1e-6)
    assert n0 - x0 == pytest.approx(200 * ns_per_px, rel=0.15)


def test_back_and_forward_walk_the_view_history(buggy_data, open_window):
    """Selecting a hazard, then going back and forward, returns to the whole trace and to the hazard."""
    window = open_window(buggy_data)
    tl = window.timeline
    full = tl.x_range()
    window.select_hazard(0)
    zoomed = tl.x_range()
    tl.back()
    assert tl.x_range() == pytest.approx(full, rel=1e-6)
    tl.forward()
    assert tl.x_range() == pytest.approx(zoomed, rel=1e-6)


def test_scrolling_to_lanes_shows_their_host_header_when_it_fits(tmp_path, open_window, trace_writer):
    """Jumping to lanes below the fold puts their host's header at the top, not 30 px above the first lane."""
    from gui.app import load_data

    paths = []
    for k, host in enumerate(["hostA", "hostB", "hostC", "hostD", "hostE"]):
        spans = [(f"work{j}", "db", 1_000_000 * (j + 1), 1_000_000 * (j + 1) + 500_000 * (j + 1), {}) for j in range(4)]
        path = trace_writer(tmp_path / f"{host}.jsonl", spans)
        path.write_bytes(path.read_bytes().replace(b'"hostA"', f'"{host}"'.encode()).replace(b'"pid":7', f'"pid":{7 + k}'.encode()))
        paths.append(str(path))
    data = load_data(paths)
    window = open_window(data, height=420)
    tl = window.timeline
    lane = next(la for la in range(len(data.trace.lanes)) if data.trace.hosts[int(data.trace.lanes.host[la])] == "hostD")
    header = next(e.y for e in tl.lanes.entries if e.kind == "host" and e.label == "hostD")
    assert tl.lanes.lane_y[lane] - header > 30  # a process header lies between: "first lane - 30" cuts the host's
    assert tl.vb.top + tl.vb.height() < tl.lanes.lane_y[lane]  # below the fold
    tl.show_interval(1e6, 2e6, [lane])
    assert tl.vb.top == header
    assert tl.lanes.lane_y[lane] + tl.lanes.lane_h[lane] <= tl.vb.top + tl.vb.height()
