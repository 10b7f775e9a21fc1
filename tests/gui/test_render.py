"""What the viewer actually paints: hazard bands in the right place, untrusted text kept plain."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from gui import colors
from gui.layout import LANE_PAD
from gui.plain import one_line, tooltip


def _window_point(window, t: float, y: float) -> QtCore.QPoint:
    tl = window.timeline
    scene = tl.vb.mapViewToScene(QtCore.QPointF(t, y))
    return tl.plot.mapTo(window, tl.plot.mapFromScene(scene))


def _rgb(image: QtGui.QImage, point: QtCore.QPoint) -> tuple[int, int, int]:
    c = image.pixelColor(point)
    return c.red(), c.green(), c.blue()


def _close(a, b, tolerance=8) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_confirmed_band_is_drawn_over_its_time_range_only(buggy_data, open_window, qtbot):
    """In the lane padding of the audit lane, the confirmed colour shows inside the hazard and not beside it."""
    window = open_window(buggy_data, 1200, 800)
    window.select_hazard(0)
    qtbot.wait(20)
    hz = buggy_data.hazards
    lane = 2  # host2's audit lane: only the confirmed hazard covers it
    assert lane in hz.lanes(0) and lane not in hz.lanes(1)
    y = float(window.timeline.lanes.lane_y[lane]) + LANE_PAD / 2
    start, end = float(hz.start[0]), float(hz.end[0])
    fill, _, _ = colors.HAZARD_STYLE["confirmed"]
    veil = (*fill[:3], fill[3] // 4)
    expected = colors.blend(veil, colors.blend(fill, colors.BACKGROUND))
    image = window.grab().toImage()
    inside = [_rgb(image, _window_point(window, start + f * (end - start), y)) for f in (0.2, 0.5, 0.8)]
    assert all(_close(c, expected) for c in inside), (inside, expected)
    length = end - start
    outside = [_rgb(image, _window_point(window, t, y)) for t in (start - 0.4 * length, end + 0.4 * length)]
    assert all(not _close(c, expected, 30) for c in outside), (outside, expected)
    assert all(_close(c, colors.BACKGROUND) for c in outside), outside


def test_whole_trace_view_keeps_a_short_hazard_visible(buggy_data, open_window):
    """Zoomed out, the 3.45 ms hazard still paints at least a few pixels of its colour."""
    window = open_window(buggy_data, 1200, 800)
    hz = buggy_data.hazards
    y = float(window.timeline.lanes.lane_y[2]) + LANE_PAD / 2
    image = window.grab().toImage()
    centre = _window_point(window, (float(hz.start[0]) + float(hz.end[0])) / 2, y)
    row = [_rgb(image, QtCore.QPoint(x, centre.y())) for x in range(centre.x() - 10, centre.x() + 11)]
    reddish = [c for c in row if c[0] > 200 and c[1] < 200 and c[2] < 200]
    assert len(reddish) >= 3, row


def test_spans_are_painted_in_their_category_colour(buggy_data, open_window):
    """The middle of the long audit span is painted in the audit colour."""
    window = open_window(buggy_data, 1200, 800)
    trace = buggy_data.trace
    row = 22  # rt.update_available_resource on host2, depth 0
    assert trace.span_name(row) == "rt.update_available_resource"
    t = float((trace.spans.start_ns[row] + trace.spans.end_ns[row]) // 2 - trace.t0_ns) - 20e6
    y = float(window.timeline.lanes.row_y[buggy_data.index.span_row[row]]) + 9
    image = window.grab().toImage()
    assert _close(_rgb(image, _window_point(window, t, y)), colors.category_color("audit"))


def test_html_in_names_is_shown_as_text(hostile_trace, open_window, qtbot):
    """Span and lane names made of HTML appear literally, and labels and tooltips keep a small size."""
    from gui.app import load_data

    data = load_data([str(hostile_trace)])
    window = open_window(data, 1000, 700)
    tl = window.timeline
    assert tl.lane_names() == ["hostA · <img src=lane.png>"]
    trace = data.trace
    for row in range(len(trace.spans)):
        t = float((trace.spans.start_ns[row] + trace.spans.end_ns[row]) // 2 - trace.t0_ns)
        y = float(tl.lanes.row_y[data.index.span_row[row]]) + 9
        text = tl.hover_text(t, y)
        assert text.splitlines()[0] == one_line(trace.span_name(row))
        label = QtWidgets.QLabel(tooltip(text))  # what QToolTip does with it: rich text, escaped
        hint = label.sizeHint()
        assert hint.height() < 250 and hint.width() < 1500, (trace.span_name(row)[:40], hint)
        document = QtGui.QTextDocument()
        document.setHtml(tooltip(text))
        assert trace.span_name(row)[:20].replace("\n", " ") in document.toPlainText()
        window._span_clicked(row)
        details = window.details.text.toPlainText()
        assert trace.span_name(row)[:20].replace("\n", " ") in details
    lane_tip = tooltip(tl.lanes.entries[-1].tip)
    assert "&lt;img" in lane_tip and "<img" not in lane_tip
    label = QtWidgets.QLabel(lane_tip)
    assert label.sizeHint().height() < 120


def test_labels_are_plain_text_widgets(buggy_data, open_window):
    """Every QLabel of the window shows plain text (never Qt's rich-text guessing)."""
    window = open_window(buggy_data)
    for label in window.findChildren(QtWidgets.QLabel):
        assert label.textFormat() == QtCore.Qt.TextFormat.PlainText, label.text()


def test_unfinished_span_ends_with_a_marker(tmp_path, trace_writer, open_window):
    """A span still open when the trace ends is drawn to the end of the trace, with the red end marker there."""
    import orjson

    from gui.app import load_data
    from gui.layout import ROW_H

    path = trace_writer(tmp_path / "open.jsonl", [("done", "db", 0, 5_000_000, None)])
    with path.open("ab") as out:
        out.write(orjson.dumps({"type": "open", "rows": [[9, 0, 1, 1_000_000, "stuck", "rpc"]], "attrs": [None]}) + b"\n")
    data = load_data([str(path)])
    trace = data.trace
    stuck = next(i for i in range(len(trace.spans)) if trace.span_name(i) == "stuck")
    assert trace.spans.open[stuck]
    window = open_window(data, 1000, 600)
    end = float(trace.end_ns - trace.t0_ns)
    y = float(window.timeline.lanes.row_y[data.index.span_row[stuck]]) + ROW_H / 2
    image = window.grab().toImage()
    at_end = _window_point(window, end, y)
    row = [_rgb(image, QtCore.QPoint(x, at_end.y())) for x in range(at_end.x() - 2, at_end.x() + 6)]
    assert any(_close(c, colors.OPEN_END, 30) for c in row), row
    assert "unfinished" in window.timeline.hover_text(end - 1000, y)
