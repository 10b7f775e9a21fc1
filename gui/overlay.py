"""What the timeline draws over the spans: search matches, and the measured interval or selected area.

``MatchOutlines`` outlines every search match in view (``gui.search``
computes the rectangles, for a range one screen wider than the view each
side, kept while the zoom and layout stay) and ticks the top edge of the
lanes at each match's time, so matches in lanes scrolled out of view still
show. ``SelectionOverlay`` shades a measured interval across all lanes, or
an area over its lanes, edges it, and writes its length. Both paint in
device pixels with one ``drawRects`` per style; text is plain ``drawText``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from .layout import LANE_PAD, LaneLayout
from .measure import Selection
from .painting import draw_rects, qcolor, ui_font
from .plain import format_duration, format_offset
from .search import Matches
from .theme import LIGHT, Theme

TICK_PX = 5.0
OUTLINE_MIN_PX = 6.0  # narrower matches are filled, not outlined
OUTLINE_PX = 2.5


def search_color(theme: Theme) -> tuple[int, int, int]:
    """Return the colour of search outlines: a magenta no category or hazard class uses."""
    return (255, 70, 205) if theme.dark else (220, 0, 150)


def frames(rects: np.ndarray, width: float) -> np.ndarray:
    """Return the four sides of each (x, y, w, h) rectangle as filled rectangles ``width`` thick.

    The raster engine fills rectangles several times faster than it strokes
    them with a wide pen, and a frame is four fills.
    """
    x, y, w, h = rects[:, 0], rects[:, 1], rects[:, 2], rects[:, 3]
    t = np.full(len(rects), width)
    return np.concatenate((np.column_stack((x, y, w, t)), np.column_stack((x, y + h - t, w, t)),
                           np.column_stack((x, y, t, h)), np.column_stack((x + w - t, y, t, h))))


class _DeviceItem(pg.GraphicsObject):
    """An item over the whole timeline that paints in device pixels."""

    def __init__(self, duration_ns: float, layout: LaneLayout, theme: Theme | None) -> None:
        super().__init__()
        self.duration = max(float(duration_ns), 1.0)
        self.layout = layout
        self.theme = theme or LIGHT

    def boundingRect(self) -> QtCore.QRectF:
        return QtCore.QRectF(-self.duration, 0.0, 3 * self.duration, max(self.layout.height, 1.0))

    def set_layout(self, layout: LaneLayout) -> None:
        self.prepareGeometryChange()
        self.layout = layout
        self.update()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.update()


class MatchOutlines(_DeviceItem):
    """Outlines of search matches; see the module docstring."""

    def __init__(self, duration_ns: float, layout: LaneLayout, theme: Theme | None = None) -> None:
        super().__init__(duration_ns, layout, theme)
        self.matches: Matches | None = None
        self._cache: tuple[float, float, float, int, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.setZValue(5)

    def set_matches(self, matches: Matches | None) -> None:
        """Outline ``matches`` (None: none)."""
        self.matches = matches
        self._cache = None
        self.update()

    def set_layout(self, layout: LaneLayout) -> None:
        self._cache = None
        super().set_layout(layout)

    def geometry(self, x0: float, x1: float, ns_per_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (span outlines, mark points, tick columns) covering ``[x0, x1]``, in columns and layout px, cached."""
        assert self.matches is not None
        c = self._cache
        if c is not None and c[0] == ns_per_px and c[1] <= x0 and x1 <= c[2] and c[3] == id(self.layout):
            return c[4], c[5], c[6]
        width = x1 - x0
        lo, hi = x0 - width, x1 + width
        m = self.matches
        rects = m.outline_rects(self.layout, lo, hi, ns_per_px)
        marks = m.mark_points(self.layout, lo, hi, ns_per_px)
        in_range = (m.end >= lo) & (m.time <= hi)
        ticks = np.unique(np.floor((m.time[in_range] + m.end[in_range]) / 2 / ns_per_px))
        self._cache = (ns_per_px, lo, hi, id(self.layout), rects, marks, ticks)
        return rects, marks, ticks

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        vb = self.getViewBox()
        world = p.transform()
        if self.matches is None or not len(self.matches) or vb is None or world.m11() <= 0:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        rects, marks, ticks = self.geometry(x0, x1, 1.0 / world.m11())
        dx, dy, sy = world.dx(), world.dy(), world.m22()
        color = qcolor(search_color(self.theme))
        p.save()
        try:
            p.setWorldTransform(QtGui.QTransform())
            left, right = x0 * world.m11() + dx, x1 * world.m11() + dx
            if len(rects):
                dev = rects.copy()
                dev[:, 0] += dx
                dev[:, 1] = dev[:, 1] * sy + dy
                dev[:, 3] *= sy
                shown = (dev[:, 0] <= right + 2) & (dev[:, 0] + dev[:, 2] >= left - 2) & (dev[:, 1] <= y1 * sy + dy) \
                    & (dev[:, 1] + dev[:, 3] >= y0 * sy + dy)
                dev = dev[shown]
                narrow = dev[:, 2] < OUTLINE_MIN_PX  # too thin to show an outline: filled instead
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(color)
                wide = dev[~narrow]
                wide[:, 0] -= OUTLINE_PX  # round the bar, not over its first letters
                wide[:, 2] += 2 * OUTLINE_PX
                draw_rects(p, np.concatenate((dev[narrow], frames(wide, OUTLINE_PX))))
            if len(marks):  # a frame around the mark's head, clear of the spans below it
                heads = np.column_stack((marks[:, 0] + dx - 4.0, marks[:, 1] * sy + dy - 2.0, np.full(len(marks), 9.0),
                                         np.full(len(marks), (LANE_PAD + 2.0) * sy)))
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(color)
                draw_rects(p, frames(heads, 2.0))
            if len(ticks):
                xs = ticks + dx
                xs = xs[(xs >= left - 2) & (xs <= right + 2)]
                top = y0 * sy + dy
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(color)
                draw_rects(p, np.column_stack((xs - 1, np.full(len(xs), top), np.full(len(xs), 3.0),
                                               np.full(len(xs), TICK_PX))))
        finally:
            p.restore()


class SelectionOverlay(_DeviceItem):
    """The measured interval or selected area, with its length written at the top."""

    def __init__(self, duration_ns: float, layout: LaneLayout, theme: Theme | None = None) -> None:
        super().__init__(duration_ns, layout, theme)
        self.selection: Selection | None = None
        self.font = ui_font(9.0)
        self.note = ""  # more to write after the length (an area's span count)
        self.setZValue(6)

    def set_selection(self, selection: Selection | None, note: str = "") -> None:
        """Show ``selection`` (None: nothing)."""
        self.selection = selection
        self.note = note
        self.update()

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        sel = self.selection
        vb = self.getViewBox()
        world = p.transform()
        if sel is None or vb is None or world.m11() <= 0:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        m11, dx, sy, dy = world.m11(), world.dx(), world.m22(), world.dy()
        left = max(sel.start * m11 + dx, x0 * m11 + dx - 10)
        right = min(sel.end * m11 + dx, x1 * m11 + dx + 10)
        top, bottom = y0 * sy + dy, y1 * sy + dy
        if sel.is_area:
            ys = [(self.layout.lane_y[la], self.layout.lane_h[la]) for la in sel.lanes if self.layout.lane_y[la] >= 0]
            if ys:
                top = max(top, min(y for y, _ in ys) * sy + dy)
                bottom = min(bottom, max(y + h for y, h in ys) * sy + dy)
        accent = self.theme.selected
        p.save()
        try:
            p.setWorldTransform(QtGui.QTransform())
            if right >= left and bottom > top:
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(qcolor((*accent, 40)))
                p.drawRect(QtCore.QRectF(left, top, max(right - left, 1.0), bottom - top))
                pen = QtGui.QPen(qcolor(accent))
                pen.setWidthF(1.0)
                if sel.is_area:
                    pen.setStyle(QtCore.Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                if sel.is_area:
                    p.drawRect(QtCore.QRectF(left, top, max(right - left, 1.0), bottom - top))
                else:
                    for x in (sel.start * m11 + dx, sel.end * m11 + dx):
                        p.drawLine(QtCore.QPointF(x, top), QtCore.QPointF(x, bottom))
            self._paint_label(p, sel, left, right, top, y0 * sy + dy, x0 * m11 + dx, x1 * m11 + dx)
        finally:
            p.restore()

    def label_text(self) -> str:
        """Return what the overlay writes: the length, where it starts, and the note."""
        sel = self.selection
        if sel is None:
            return ""
        text = f"{format_duration(sel.duration)}   ({format_offset(sel.start)} .. {format_offset(sel.end)})"
        return f"{text}   {self.note}" if self.note else text

    def _paint_label(self, p: QtGui.QPainter, sel: Selection, left: float, right: float, top: float,
                     view_top: float, view_left: float, view_right: float) -> None:
        text = self.label_text()
        metrics = QtGui.QFontMetricsF(self.font)
        w, h = metrics.horizontalAdvance(text) + 12, metrics.height() + 6
        centre = (left + right) / 2
        x = min(max(centre - w / 2, view_left + 2), view_right - w - 2)
        y = max(top, view_top) + 4
        box = QtCore.QRectF(x, y, w, h)
        accent = self.theme.selected
        p.setPen(qcolor(accent))
        p.setBrush(qcolor((*self.theme.background, 235)))
        p.drawRoundedRect(box, 3, 3)
        p.setFont(self.font)
        p.setPen(qcolor(self.theme.text))
        p.drawText(box, int(QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextSingleLine), text)
