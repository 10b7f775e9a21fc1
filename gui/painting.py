"""Small painting helpers shared by the timeline's items: brushes, pens, numpy rectangles to ``drawRects``."""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6 import QtCore, QtGui

from . import colors
from .theme import LIGHT, Theme


def qcolor(rgb: tuple[int, ...]) -> QtGui.QColor:
    """Return a ``QColor`` of an RGB or RGBA tuple."""
    return QtGui.QColor(*rgb)


def draw_rects(painter: QtGui.QPainter, rects: np.ndarray) -> None:
    """Draw an (n, 4) float64 array of (x, y, w, h) with one ``drawRects`` call, without a QRectF per row.

    The array's memory is handed to Qt as a ``QRectF[n]`` (a QRectF is four
    doubles), as pyqtgraph's BarGraphItem does; it must stay alive during
    the call.
    """
    n = len(rects)
    if n == 0:
        return
    data = np.ascontiguousarray(rects, dtype=np.float64)
    first = shiboken6.wrapInstance(data.ctypes.data, QtCore.QRectF)
    painter.drawRects(first, n)


class Brushes:
    """Brushes and text colours of categories, built once per category (in a theme's colours)."""

    def __init__(self, cats: list[str], theme: Theme | None = None) -> None:
        theme = theme or LIGHT
        self.cats = cats
        self.rgb = [theme.category(c) for c in cats]
        self.solid = [QtGui.QBrush(qcolor(rgb)) for rgb in self.rgb]
        self.tint = [QtGui.QBrush(qcolor(theme.tint(rgb))) for rgb in self.rgb]
        self.hatch = [QtGui.QBrush(qcolor(rgb), QtCore.Qt.BrushStyle.BDiagPattern) for rgb in self.rgb]
        self.text = [qcolor(colors.text_on(rgb)) for rgb in self.rgb]


def _lighter(rgb: colors.RGB) -> colors.RGB:
    return tuple(round(c + (255 - c) * 0.7) for c in rgb)  # type: ignore[return-value]


def hazard_pens(theme: Theme | None = None) -> dict[str, tuple[QtGui.QBrush, QtGui.QPen]]:
    """Return the (fill brush, outline pen) of each hazard class (in ``theme``'s colours; default light)."""
    out = {}
    for name, (fill, line, style) in (theme or LIGHT).hazard.items():
        pen = QtGui.QPen(qcolor(line))
        pen.setWidthF(2.0 if name in ("confirmed", "unprotected", "potential") else 1.5)
        pen.setCosmetic(True)
        if style == "dash":
            pen.setStyle(QtCore.Qt.PenStyle.DashLine)
        elif style == "none":
            pen = QtGui.QPen(QtCore.Qt.PenStyle.NoPen)
        out[name] = (QtGui.QBrush(qcolor(fill)), pen)
    return out


def ui_font(point_size: float = 8.5) -> QtGui.QFont:
    """Return the font of labels drawn on the timeline."""
    font = QtGui.QFont()
    font.setPointSizeF(point_size)
    return font
