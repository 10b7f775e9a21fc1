"""Measuring: Shift+drag measures an interval, Ctrl+drag selects an area and shows its statistics; F fits them."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from gui.measure import Selection, area_rows, area_stats, lanes_between
from gui.plain import format_duration

Mod = QtCore.Qt.KeyboardModifier
Left = QtCore.Qt.MouseButton.LeftButton


def _drag(widget, start, end, modifiers, button=Left):
    """Drag with ``button`` from ``start`` to ``end`` (widget coordinates), holding ``modifiers``."""
    def send(kind, pos, buttons):
        local = QtCore.QPointF(pos)
        event = QtGui.QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons, modifiers)
        QtWidgets.QApplication.sendEvent(widget, event)

    send(QtCore.QEvent.Type.MouseButtonPress, start, button)
    for k in range(1, 11):
        send(QtCore.QEvent.Type.MouseMove, start + (end - start) * (k / 10), button)
    send(QtCore.QEvent.Type.MouseButtonRelease, end, QtCore.Qt.MouseButton.NoButton)


def _point(tl, t, y):
    return tl.plot.mapFromScene(tl.vb.mapViewToScene(QtCore.QPointF(t, y)))


def test_area_stats_agree_with_the_columns(buggy_data):
    """Per name: count, time inside the selection and whole durations equal a plain loop over the span columns."""
    trace = buggy_data.trace
    spans = trace.spans
    lanes = (1, 2)
    start, end = 0.3 * buggy_data.duration_ns, 0.8 * buggy_data.duration_ns
    stats = area_stats(trace, lanes, start, end)
    lo, hi = trace.t0_ns + int(np.floor(start)), trace.t0_ns + int(np.ceil(end))
    expected = defaultdict(lambda: [0, 0, 0, 0])
    for i in range(len(spans)):
        s, e = int(spans.start_ns[i]), int(spans.end_ns[i])
        if int(spans.lane[i]) in lanes and s <= hi and e >= lo:
            row = expected[trace.span_name(i)]
            row[0] += 1
            row[1] += max(0, min(e, hi) - max(s, lo))
            row[2] += e - s
            row[3] = max(row[3], e - s)
    got = {n.name: [n.count, n.inside_ns, n.whole_ns, n.max_ns] for n in stats.names}
    assert got == dict(expected) and len(got) > 5
    assert stats.count == sum(v[0] for v in expected.values())
    assert [n.inside_ns for n in stats.names] == sorted((n.inside_ns for n in stats.names), reverse=True)
    top = stats.names[0]
    assert top.mean_inside_ns == pytest.approx(top.inside_ns / top.count)
    assert top.mean_ns == pytest.approx(top.whole_ns / top.count)


def test_area_rows_touching_spans_count_and_other_lanes_do_not(buggy_data):
    """A span ending exactly at the selection's start counts; spans of lanes not selected never do."""
    trace = buggy_data.trace
    spans = trace.spans
    row = int(np.argmax(spans.end_ns - spans.start_ns))
    edge = float(spans.end_ns[row] - trace.t0_ns)
    lane = int(spans.lane[row])
    assert row in area_rows(trace, (lane,), edge, edge + 1000).tolist()
    others = tuple(la for la in range(len(trace.lanes)) if la != lane)
    assert row not in area_rows(trace, others, edge, edge + 1000).tolist()
    assert area_stats(trace, (), 0, 1e12).count == 0


def test_shift_drag_measures_an_interval(buggy_data, open_window, qtbot):
    """Shift+drag across the lanes measures the interval (the view does not pan) and writes its length."""
    window = open_window(buggy_data)
    tl = window.timeline
    x0, x1 = tl.x_range()
    t_a, t_b = x0 + 0.2 * (x1 - x0), x0 + 0.6 * (x1 - x0)
    _drag(tl.plot.viewport(), _point(tl, t_a, 100), _point(tl, t_b, 120), Mod.ShiftModifier)
    sel = tl.selection
    assert sel is not None and not sel.is_area
    ns_per_px = (x1 - x0) / tl.vb.width()
    assert sel.start == pytest.approx(t_a, abs=2 * ns_per_px) and sel.end == pytest.approx(t_b, abs=2 * ns_per_px)
    assert tl.x_range() == pytest.approx((x0, x1))
    assert "measured" in window.statusBar().currentMessage()
    assert tl.overlay.label_text().startswith(format_duration(sel.duration))


def test_ctrl_drag_selects_an_area_and_shows_its_statistics(buggy_data, open_window, qtbot):
    """Ctrl+drag over host2's two lanes: the Selection statistics panel lists exactly ``area_stats`` of them."""
    window = open_window(buggy_data)
    tl = window.timeline
    x0, x1 = tl.x_range()
    host2 = [e for e in tl.lanes.entries if e.kind == "lane" and e.label.startswith("host2")]
    y_a, y_b = host2[0].y + 5, host2[-1].y + 10
    _drag(tl.plot.viewport(), _point(tl, x0 + 0.1 * (x1 - x0), y_a), _point(tl, x0 + 0.9 * (x1 - x0), y_b),
          Mod.ControlModifier)
    sel = tl.selection
    assert sel is not None and sel.lanes == tuple(e.lane for e in host2)
    panel = window.navigation.stats
    assert window.navigation.tabs.currentWidget() is panel
    expected = area_stats(buggy_data.trace, sel.lanes, sel.start, sel.end)
    model = panel.model
    assert model.rowCount() == len(expected.names) > 0
    assert [model.value(r, 0) for r in range(model.rowCount())] == [n.name for n in expected.names]
    assert [model.value(r, 2) for r in range(model.rowCount())] == [n.count for n in expected.names]
    assert f"{expected.count:,} spans" in panel.summary.text()
    text = panel.as_text().splitlines()
    assert text[0].startswith("name\tcategory\tcount") and len(text) == len(expected.names) + 1
    assert f"{expected.count:,} spans in 2 lanes" in tl.overlay.label_text()


def test_f_fits_the_selection_and_escape_clears_it(buggy_data, open_window, qtbot):
    """F fits the measured interval; Escape drops it; then F fits the whole trace again."""
    window = open_window(buggy_data)
    tl = window.timeline
    full = tl.x_range()
    tl.set_selection(Selection.between(1_000_000.0, 3_000_000.0))
    qtbot.keyClick(tl.plot, QtCore.Qt.Key.Key_F)
    x0, x1 = tl.x_range()
    assert x0 < 1_000_000 < 3_000_000 < x1 and (x1 - x0) < 1.2 * 2_000_000
    qtbot.keyClick(tl.plot, QtCore.Qt.Key.Key_Escape)
    assert tl.selection is None and tl.overlay.selection is None
    qtbot.keyClick(tl.plot, QtCore.Qt.Key.Key_F)
    assert tl.x_range() == pytest.approx(full)


def test_f_fits_the_selected_span(buggy_data, open_window, qtbot):
    """With a span selected and no measure, F fits that span (Home still fits everything)."""
    window = open_window(buggy_data)
    tl = window.timeline
    trace = buggy_data.trace
    row = int(np.argmin(trace.spans.end_ns - trace.spans.start_ns + (trace.spans.end_ns == trace.spans.start_ns) * 10**15))
    tl.bands.select_span(row)
    qtbot.keyClick(tl.plot, QtCore.Qt.Key.Key_F)
    x0, x1 = tl.x_range()
    s, e = float(trace.spans.start_ns[row] - trace.t0_ns), float(trace.spans.end_ns[row] - trace.t0_ns)
    assert x0 <= s and e <= x1 and (x1 - x0) <= max(1.3 * (e - s), 60)
    qtbot.keyClick(tl.plot, QtCore.Qt.Key.Key_Home)
    assert (tl.x_range()[1] - tl.x_range()[0]) > buggy_data.duration_ns


def test_measure_overlay_is_drawn(buggy_data, open_window, qtbot):
    """The measured interval is shaded in the selection colour between its edges, and only there."""
    window = open_window(buggy_data)
    tl = window.timeline
    x0, x1 = tl.x_range()
    tl.set_selection(Selection.between(x0 + 0.4 * (x1 - x0), x0 + 0.5 * (x1 - x0)))
    qtbot.wait(10)
    image = tl.plot.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1, 4)
    r, g, b = tl.theme.selected
    edge = (pixels[..., 2] == r) & (pixels[..., 1] == g) & (pixels[..., 0] == b)
    cols = np.flatnonzero(edge.sum(axis=0) > 100)  # the two edge lines run down the lanes
    ratio = tl.plot.devicePixelRatioF()
    left = tl.plot.mapFromScene(tl.vb.mapViewToScene(QtCore.QPointF(x0 + 0.4 * (x1 - x0), 0))).x() * ratio
    right = tl.plot.mapFromScene(tl.vb.mapViewToScene(QtCore.QPointF(x0 + 0.5 * (x1 - x0), 0))).x() * ratio
    assert len(cols) >= 2 and abs(cols.min() - left) <= 2 and abs(cols.max() - right) <= 2


def test_lanes_between_picks_the_lanes_a_drag_crossed(buggy_data, open_window):
    """Lanes reaching into the dragged band count; headers do not."""
    window = open_window(buggy_data)
    layout = window.timeline.lanes
    lane_entries = [e for e in layout.entries if e.kind == "lane"]
    assert lanes_between(layout, 0, 1) == ()
    assert lanes_between(layout, lane_entries[1].y + 1, lane_entries[2].y + 1) == (lane_entries[1].lane, lane_entries[2].lane)


@pytest.mark.parametrize("how", ["right", "alt"])
def test_rubber_band_zooms_to_the_range_dragged_across(buggy_data, open_window, qtbot, how):
    """A right drag, or a left drag with Alt, zooms time to the dragged range; Back returns to the view before."""
    window = open_window(buggy_data)
    tl = window.timeline
    x0, x1 = tl.x_range()
    t_a, t_b = x0 + 0.3 * (x1 - x0), x0 + 0.45 * (x1 - x0)
    if how == "right":
        _drag(tl.plot.viewport(), _point(tl, t_b, 100), _point(tl, t_a, 140), Mod.NoModifier,
              QtCore.Qt.MouseButton.RightButton)
    else:
        _drag(tl.plot.viewport(), _point(tl, t_a, 100), _point(tl, t_b, 140), Mod.AltModifier)
    lo, hi = tl.x_range()
    ns_per_px = (x1 - x0) / tl.vb.width()
    assert lo == pytest.approx(t_a, abs=3 * ns_per_px) and hi == pytest.approx(t_b, abs=3 * ns_per_px)
    assert tl.selection is None  # the band is gone once zoomed
    tl.back()
    assert tl.x_range() == pytest.approx((x0, x1))
