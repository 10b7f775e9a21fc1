"""The graphics item that draws every lane: backgrounds, hazard bands, spans, lock waits, unfinished ends, marks, labels.

One item for all lanes. Its geometry comes from ``lod.compute_frame`` for a
range one screen wider on each side than the view (and half a screen taller),
kept until the zoom, the layout or the view leaves that range: a pan inside
it only translates the cached arrays. Rectangles are drawn with one
``drawRects`` per colour, only those in view; labels are plain-text
``QStaticText`` (``gui.labels``), never markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from .bands import HazardBands
from .data import ViewerData
from .labels import LabelPainter
from .layout import LANE_GAP, LANE_PAD, ROW_H, LaneLayout
from .lod import Frame, compute_frame, compute_marks
from .painting import Brushes, draw_rects, qcolor, ui_font
from .theme import LIGHT, Theme


class SpanItem(pg.GraphicsObject):
    """Spans of every shown lane, with level of detail; see the module docstring."""

    def __init__(self, data: ViewerData, layout: LaneLayout, theme: Theme | None = None) -> None:
        super().__init__()
        self.data = data
        self.layout = layout
        self.theme = theme or LIGHT
        self.brushes = Brushes(data.trace.cats, self.theme)
        self.labels = LabelPainter(data.trace.names, ui_font())
        self.ticks: Callable[[float, float, float], list[float]] | None = None  # grid lines: (x0, x1, px) -> times
        self._frame: Frame | None = None
        self.frames_computed = 0
        self.last_paint_s = 0.0
        self.on_painted: Callable[[], None] | None = None  # called once, soon after the next paint
        self._surface_brushes(self.theme)
        self.bands = HazardBands(data, layout, self.update, self.theme)

    def _surface_brushes(self, theme: Theme) -> None:
        self._stripe = QtGui.QBrush(qcolor(theme.lane_stripe))
        self._group = QtGui.QBrush(qcolor(theme.group_row))
        self._grid = QtGui.QBrush(qcolor(theme.grid))
        self._mark = QtGui.QBrush(qcolor(theme.mark))
        self._open = QtGui.QBrush(qcolor(theme.open_end))

    def set_theme(self, theme: Theme) -> None:
        """Paint in ``theme``'s colours (the geometry cache stays valid)."""
        self.theme = theme
        self.brushes = Brushes(self.data.trace.cats, theme)
        self._surface_brushes(theme)
        self.bands.set_theme(theme)
        self.update()

    # --- geometry -----------------------------------------------------------------
    def set_layout(self, layout: LaneLayout) -> None:
        """Show lanes at the positions of ``layout`` (after a collapse or expand)."""
        self.prepareGeometryChange()
        self.layout = layout
        self.bands.set_layout(layout)
        self._frame = None
        self.update()

    def refresh_hazards(self) -> None:
        """Draw the hazards of the data's current analysis."""
        self.bands = HazardBands(self.data, self.layout, self.update, self.theme)
        self.update()

    def boundingRect(self) -> QtCore.QRectF:
        dur = float(self.data.duration_ns)
        return QtCore.QRectF(-dur, 0.0, 3 * dur, max(self.layout.height, 1.0))

    def frame_for(self, x0: float, x1: float, y0: float, y1: float, ns_per_px: float) -> Frame:
        """Return the cached frame for this view, computing it when the view left it."""
        frame = self._frame
        if frame is not None and frame.covers(ns_per_px, x0, x1, y0, y1):
            return frame
        span, height = x1 - x0, y1 - y0
        y_lo, y_hi = y0 - height / 2, y1 + height / 2
        rows = self.layout.rows_between(y_lo, y_hi)
        data = self.data
        frame = compute_frame(data.index, rows, self.layout.row_y, ROW_H, x0 - span, x1 + span, ns_per_px,
                              data.open_by_pos)
        frame.y_lo, frame.y_hi = y_lo, y_hi
        frame.marks = compute_marks(data.mark_ts, data.mark_lane, self.layout.lane_y, self.layout.lane_h,
                                    x0 - span, x1 + span, ns_per_px, frame.col0)
        self._frame = frame
        self.frames_computed += 1
        return frame

    # --- painting ---------------------------------------------------------------------
    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        started = time.perf_counter()
        vb = self.getViewBox()
        world = p.transform()
        if vb is None or world.m11() <= 0 or world.m22() == 0:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        ns_per_px = 1.0 / world.m11()
        frame = self.frame_for(x0, x1, y0, y1, ns_per_px)
        dx, dy, sy = world.dx(), world.dy(), world.m22()
        left_px, right_px = x0 * world.m11() + dx, x1 * world.m11() + dx
        # Everything is drawn in device pixels with an identity transform: the raster
        # engine fills untransformed rectangles about twice as fast as translated ones.
        to_device = (dx + frame.col0, dy, sy)
        p.save()
        try:
            p.setWorldTransform(QtGui.QTransform())
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            self._paint_backgrounds(p, left_px, right_px, y0, y1, dy, sy)
            self._paint_grid(p, x0, x1, world, y0 * sy + dy, y1 * sy + dy)
            self.bands.paint_under(p, x0, x1, world)
            c_lo, c_hi = left_px - to_device[0] - 2.0, right_px - to_device[0] + 2.0
            for cat, hatched, cached in frame.groups:
                # The frame covers more than the view: hand Qt only what shows (it clips slower than numpy).
                rects = _device(cached[(cached[:, 0] <= c_hi) & (cached[:, 0] + cached[:, 2] >= c_lo)
                                       & (cached[:, 1] <= y1) & (cached[:, 1] + cached[:, 3] >= y0)], *to_device)
                if hatched:
                    p.setBrush(self.brushes.tint[cat])
                    draw_rects(p, rects)
                    p.setBrush(self.brushes.hatch[cat])
                else:
                    p.setBrush(self.brushes.solid[cat])
                draw_rects(p, rects)
            self._paint_marks(p, frame.marks, to_device)
            self._paint_open_ends(p, frame, dx, dy, sy)
            spans = self.data.trace.spans
            self.labels.paint(p, frame, spans.name, spans.open, self.brushes.text, ROW_H, dx, dy, sy, left_px, right_px)
            self.bands.paint_over(p, x0, x1, world)
        finally:
            p.restore()
        self.last_paint_s = time.perf_counter() - started
        if self.on_painted is not None:
            QtCore.QTimer.singleShot(0, self.on_painted)  # after this paint is on screen
            self.on_painted = None

    def _paint_backgrounds(self, p: QtGui.QPainter, left: float, right: float, y0: float, y1: float, dy: float,
                           sy: float) -> None:
        stripes, groups = [], []
        for entry in self.layout.entries_between(y0, y1):
            rect = (left, entry.y * sy + dy, right - left, entry.height * sy)
            if entry.kind != "lane":
                groups.append(rect)
            elif entry.lane % 2 == 1:
                stripes.append(rect)
        p.setBrush(self._stripe)
        draw_rects(p, np.array(stripes, dtype=np.float64).reshape(-1, 4))
        p.setBrush(self._group)
        draw_rects(p, np.array(groups, dtype=np.float64).reshape(-1, 4))

    def _paint_grid(self, p: QtGui.QPainter, x0: float, x1: float, world: QtGui.QTransform, top: float,
                    bottom: float) -> None:
        """Draw a faint vertical line at each major tick of the time axis (device coordinates)."""
        if self.ticks is None:
            return
        xs = np.array(self.ticks(x0, x1, (x1 - x0) * world.m11()), dtype=np.float64) * world.m11() + world.dx()
        rects = np.column_stack((np.floor(xs), np.full(len(xs), top), np.ones(len(xs)), np.full(len(xs), bottom - top)))
        p.setBrush(self._grid)
        draw_rects(p, rects)

    def _paint_marks(self, p: QtGui.QPainter, marks: np.ndarray, to_device: tuple[float, float, float]) -> None:
        if not len(marks):
            return
        col, top, height = marks[:, 0], marks[:, 1], marks[:, 2]
        ticks = np.column_stack((col, top + 1.0, np.ones(len(col)), height - LANE_GAP - 1.0))
        heads = np.column_stack((col - 2.0, top, np.full(len(col), 5.0), np.full(len(col), LANE_PAD - 1.0)))
        p.setBrush(self._mark)
        draw_rects(p, _device(np.concatenate((ticks, heads)), *to_device))

    def _paint_open_ends(self, p: QtGui.QPainter, frame: Frame, dx: float, dy: float, sy: float) -> None:
        """Draw a red arrow head at the end of each unfinished span: it ran past the end of the trace."""
        if not len(frame.open_ends):
            return
        p.setBrush(self._open)
        h = (ROW_H - 2.0) * sy
        for col, y in frame.open_ends[:500].tolist():
            x = col + frame.col0 + dx
            top = y * sy + dy
            p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(x - 1, top), QtCore.QPointF(x + 7, top + h / 2),
                                           QtCore.QPointF(x - 1, top + h)]))


def _device(rects: np.ndarray, shift_x: float, dy: float, sy: float) -> np.ndarray:
    """Return (x, y, w, h) rectangles in columns and layout pixels as device pixels (a new array)."""
    out = rects.copy()
    out[:, 0] += shift_x
    if sy != 1.0:
        out[:, 1] *= sy
        out[:, 3] *= sy
    out[:, 1] += dy
    return out
