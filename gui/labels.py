"""Span names drawn inside their bars: only where they fit (elided when a bar is a bit short), never as markup.

Labels are ``QStaticText`` objects with ``Qt.PlainText`` format (the default,
AutoText, would render a name like ``<img src=x>`` as HTML), laid out once per
name and per elided width (rounded down to 8 px, so panning reuses them).
A label sticks to the visible part of its bar, so a long span that starts
off-screen still shows its name.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6 import QtCore, QtGui

from .lod import Frame
from .plain import one_line

MAX_LABELS = 3000
MIN_ROOM_PX = 24.0
_ELIDED_KEPT = 5000


class LabelPainter:
    """Draw the label candidates of a frame; see the module docstring."""

    def __init__(self, names: list[str], font: QtGui.QFont) -> None:
        self.names = [one_line(n) for n in names]
        self.font = font
        self.metrics = QtGui.QFontMetricsF(font)
        self._width = np.full(len(names), -1.0)
        self._full: dict[tuple[int, bool], tuple[QtGui.QStaticText, float]] = {}
        self._elided: OrderedDict[tuple[int, bool, int], QtGui.QStaticText] = OrderedDict()

    def _static(self, text: str) -> QtGui.QStaticText:
        static = QtGui.QStaticText(text)
        static.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        static.prepare(QtGui.QTransform(), self.font)
        return static

    def _label(self, name: int, opened: bool, room: float) -> QtGui.QStaticText | None:
        """Return the label of name ``name`` that fits in ``room`` px (elided if need be), or None."""
        full = self._full.get((name, opened))
        if full is None:
            text = self.names[name] + (" (unfinished)" if opened else "")
            full = (self._static(text), self.metrics.horizontalAdvance(text))
            self._full[(name, opened)] = full
        if full[1] <= room:
            return full[0]
        if room < MIN_ROOM_PX:
            return None
        bucket = int(room) // 8 * 8
        key = (name, opened, bucket)
        static = self._elided.get(key)
        if static is None:
            text = self.names[name] + (" (unfinished)" if opened else "")
            static = self._static(self.metrics.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, bucket))
            self._elided[key] = static
            if len(self._elided) > _ELIDED_KEPT:
                self._elided.popitem(last=False)
        return static

    def paint(self, p: QtGui.QPainter, frame: Frame, span_name: np.ndarray, span_open: np.ndarray,
              text_colors: list[QtGui.QColor], row_h: float, dx: float, dy: float, sy: float, left_px: float,
              right_px: float) -> None:
        """Draw the labels of ``frame`` that fit (the painter in device coordinates)."""
        if not len(frame.label_left) or sy < 0.6:
            return
        shift = frame.col0 + dx
        vis_l = np.maximum(frame.label_left + shift, left_px)
        vis_r = np.minimum(frame.label_right + shift, right_px)
        room = vis_r - vis_l - 6.0
        names = span_name[frame.label_span]
        short = self._widths(names)
        ok = np.flatnonzero((room >= short) | (room >= MIN_ROOM_PX))[:MAX_LABELS]
        if not len(ok):
            return
        p.setFont(self.font)
        top_pad = ((row_h - 2.0) * sy - self.metrics.height()) / 2
        current = None
        spans = frame.label_span[ok]
        for k, name, opened, cat in zip(ok.tolist(), names[ok].tolist(), span_open[spans].tolist(),
                                        frame.label_cat[ok].tolist(), strict=True):
            static = self._label(name, opened, float(room[k]))
            if static is None:
                continue
            color = text_colors[cat]
            if color is not current:
                p.setPen(color)
                current = color
            p.drawStaticText(QtCore.QPointF(float(vis_l[k]) + 3.0, float(frame.label_y[k]) * sy + dy + top_pad), static)

    def _widths(self, names: np.ndarray) -> np.ndarray:
        """Return the width of each name in px (measured once per name)."""
        widths = self._width[names]
        missing = np.unique(names[widths < 0])
        for name in missing.tolist():
            self._width[name] = self.metrics.horizontalAdvance(self.names[name])
        return self._width[names] if len(missing) else widths
