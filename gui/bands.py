"""How hazards are drawn: translucent bands over the lanes they involve.

Each hazard is one band per involved lane, from the start to the end of the
overlap (of the window, for a potential hazard), coloured by class:
confirmed and unprotected filled strong red and orange, potential outlined in
amber, uncertain dashed, serialized faint. A band never gets narrower than
three pixels, so a short hazard stays visible zoomed out. The selected
hazard gets a heavier outline and its spans are outlined; so is the span
last clicked. Bands are grouped by class: one ``drawRects`` per class.

The span item calls ``paint_under`` after the lane backgrounds and before
the spans (the band's fill, so spans keep their true colours), then
``paint_over`` after them (a light veil, the outlines and highlights).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6 import QtCore, QtGui

from tracer.analysis.hazards import CLASS_NAMES

from . import colors
from .data import ViewerData
from .layout import ROW_H, LaneLayout
from .painting import draw_rects, hazard_pens, qcolor
from .plain import one_line
from .theme import LIGHT, Theme

MIN_BAND_PX = 3.0
_DRAW_ORDER = ("serialized", "uncertain", "potential", "unprotected", "confirmed")


class HazardBands:
    """Hazard bands, the selected hazard's spans, and the selected span; see the module docstring."""

    def __init__(self, data: ViewerData, layout: LaneLayout, update: Callable[[], None],
                 theme: Theme | None = None) -> None:
        self.update = update
        self.data = data
        self.layout = layout
        self.selected = -1
        self.selected_span = -1
        self.set_theme(theme or LIGHT, repaint=False)
        hazards = data.hazards
        # One band per (hazard, lane): columns of hazard index, lane, start, end.
        idx = np.concatenate((np.arange(len(hazards)), np.arange(len(hazards))))
        lanes = np.concatenate((hazards.lane_a, hazards.lane_b))
        keep = lanes >= 0
        self._band_hazard = idx[keep]
        self._band_lane = lanes[keep]
        self._band_start = hazards.start[self._band_hazard].astype(np.float64)
        self._band_end = hazards.end[self._band_hazard].astype(np.float64)
        self._band_cls = hazards.cls[self._band_hazard]

    def set_theme(self, theme: Theme, repaint: bool = True) -> None:
        """Draw in ``theme``'s colours."""
        self.theme = theme
        self.pens = hazard_pens(theme)
        self.veils = {name: QtGui.QBrush(qcolor((*fill[:3], fill[3] // 4))) for name, (fill, _, _)
                      in theme.hazard.items()}
        if repaint:
            self.update()

    def set_layout(self, layout: LaneLayout) -> None:
        """Follow a new lane layout."""
        self.layout = layout

    def select(self, hazard: int) -> None:
        """Emphasize hazard ``hazard`` (-1: none) and outline its spans."""
        self.selected = hazard
        self.update()

    def select_span(self, span: int) -> None:
        """Outline span row ``span`` (-1: none)."""
        self.selected_span = span
        self.update()

    def band_rects(self, x0: float, x1: float, m11: float, dx: float, m22: float, dy: float) -> dict[int, np.ndarray]:
        """Return, per class code, the (n, 4) device rectangles of the bands visible in ``[x0, x1]``."""
        lane_y = self.layout.lane_y[self._band_lane]
        vis = (self._band_end >= x0) & (self._band_start <= x1) & (lane_y >= 0)
        if not vis.any():
            return {}
        left = self._band_start[vis] * m11 + dx
        right = self._band_end[vis] * m11 + dx
        lo, hi = x0 * m11 + dx - 10, x1 * m11 + dx + 10
        width = np.maximum(right - left, MIN_BAND_PX)
        left = np.where(right - left < MIN_BAND_PX, (left + right - MIN_BAND_PX) / 2, left)
        l_clip = np.maximum(left, lo)
        r_clip = np.minimum(left + width, hi)
        top = lane_y[vis] * m22 + dy
        height = (self.layout.lane_h[self._band_lane[vis]] - 1.0) * m22
        rects = np.column_stack((l_clip, top, r_clip - l_clip, height))
        cls = self._band_cls[vis]
        return {int(c): rects[cls == c] for c in np.unique(cls)}

    def paint_under(self, p: QtGui.QPainter, x0: float, x1: float, world: QtGui.QTransform) -> None:
        """Fill the bands (device coordinates: the painter's world transform must be the identity)."""
        by_class = self.band_rects(x0, x1, world.m11(), world.dx(), world.m22(), world.dy())
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        for name in _DRAW_ORDER:
            rects = by_class.get(CLASS_NAMES.index(name))
            if rects is not None:
                p.setBrush(self.pens[name][0])
                draw_rects(p, rects)

    def paint_over(self, p: QtGui.QPainter, x0: float, x1: float, world: QtGui.QTransform) -> None:
        """Veil and outline the bands, outline the selected hazard's spans and the selected span."""
        m11, dx, m22, dy = world.m11(), world.dx(), world.m22(), world.dy()
        by_class = self.band_rects(x0, x1, m11, dx, m22, dy)
        for name in _DRAW_ORDER:
            rects = by_class.get(CLASS_NAMES.index(name))
            if rects is None:
                continue
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(self.veils[name])
            draw_rects(p, rects)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.setPen(self.pens[name][1])
            draw_rects(p, rects)
        if 0 <= self.selected < len(self.data.hazards):
            self._paint_selected(p, m11, dx, m22, dy)
        if self.selected_span >= 0:
            self._outline_spans(p, [self.selected_span], m11, dx, m22, dy, self.theme.selected, 2.0)

    def _paint_selected(self, p: QtGui.QPainter, m11: float, dx: float, m22: float, dy: float) -> None:
        i = self.selected
        hazards = self.data.hazards
        start, end = float(hazards.start[i]) * m11 + dx, float(hazards.end[i]) * m11 + dx
        if end - start < MIN_BAND_PX:
            start, end = (start + end - MIN_BAND_PX) / 2, (start + end + MIN_BAND_PX) / 2
        _, pen = self.pens[hazards.class_name(i)]
        pen = QtGui.QPen(pen.color() if pen.style() != QtCore.Qt.PenStyle.NoPen else qcolor(self.theme.text_dim))
        pen.setWidthF(3.0)
        p.setPen(pen)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for lane in hazards.lanes(i):
            top = self.layout.lane_y[lane]
            if top >= 0:
                p.drawRect(QtCore.QRectF(start, top * m22 + dy, end - start, (self.layout.lane_h[lane] - 1.0) * m22))
        rows = [int(s["row"]) for s in hazards.describe(i).get("spans", [])]
        self._outline_spans(p, rows, m11, dx, m22, dy, self.theme.highlight, 2.0)

    def _outline_spans(self, p: QtGui.QPainter, rows: list[int], m11: float, dx: float, m22: float, dy: float,
                       rgb: colors.RGB, width: float) -> None:
        trace = self.data.trace
        t0 = trace.t0_ns
        pen = QtGui.QPen(qcolor(rgb))
        pen.setWidthF(width)
        p.setPen(pen)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for row in rows:
            if not 0 <= row < len(trace.spans):
                continue
            y = self.layout.row_y[int(self.data.index.span_row[row])]
            if not np.isfinite(y):
                continue
            left = float(trace.spans.start_ns[row] - t0) * m11 + dx
            right = float(trace.spans.end_ns[row] - t0) * m11 + dx
            if right - left < 3.0:
                left, right = (left + right) / 2 - 1.5, (left + right) / 2 + 1.5
            p.drawRect(QtCore.QRectF(left, (y + 0.5) * m22 + dy, right - left, (ROW_H - 1.0) * m22))

    def tip_at(self, x: float, lane: int) -> str:
        """Return a plain-text description of the hazards covering time ``x`` on ``lane`` ('' if none)."""
        hit = np.flatnonzero((self._band_lane == lane) & (self._band_start <= x) & (self._band_end >= x))
        lines = []
        for h in sorted({int(self._band_hazard[k]) for k in hit})[:5]:
            hazards = self.data.hazards
            lines.append(f"hazard {h + 1}: {hazards.class_name(h)}: {one_line(hazards.titles[h])}")
        return "\n".join(lines)
