"""The time axis (relative to the trace's start, in ns, µs, ms or s) and the lane tree beside the lanes.

The lane tree is the plot's left axis, so it lines up with the lanes by
construction: it paints host, process and lane names (plain ``drawText``) at
the layout's positions for the view's current vertical scroll. A click on a
host or process collapses or expands it, a right click opens its menu
(hide lanes, show them all); the wheel and drags over it scroll the lanes
vertically.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from .layout import Entry, LaneLayout
from .painting import qcolor, ui_font
from .plain import format_tick, tooltip
from .theme import LIGHT, Theme

LANE_AXIS_WIDTH = 320


class TimeAxis(pg.AxisItem):
    """A bottom axis labelling ns offsets with the unit that suits the tick spacing."""

    def __init__(self) -> None:
        super().__init__("bottom")
        self.enableAutoSIPrefix(False)
        self.setLabel("time since trace start")

    def set_theme(self, theme: Theme) -> None:
        """Draw the axis line, ticks and labels in ``theme``'s colours."""
        self.setPen(qcolor(theme.rule))
        self.setTextPen(qcolor(theme.text_dim))
        self.setLabel("time since trace start", color="#{:02x}{:02x}{:02x}".format(*theme.text_dim))

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_tick(v * scale, spacing * scale) for v in values]


class LaneAxis(pg.AxisItem):
    """The collapsible host > process > lane tree, drawn as the plot's left axis."""

    def __init__(self, layout: LaneLayout, on_toggle: Callable[[tuple[int, ...]], None],
                 theme: Theme | None = None) -> None:
        super().__init__("left")
        self.lane_layout = layout
        self.on_toggle = on_toggle
        self.theme = theme or LIGHT
        self.font = ui_font(9.0)
        self.bold = ui_font(9.0)
        self.bold.setBold(True)
        self.setWidth(LANE_AXIS_WIDTH)
        self.setAcceptHoverEvents(True)
        self._elided: dict[tuple[str, float], str] = {}
        self.on_menu: Callable[[Entry | None, QtCore.QPointF], None] | None = None  # right click: (entry, screen pos)

    def set_theme(self, theme: Theme) -> None:
        """Paint in ``theme``'s colours."""
        self.theme = theme
        self.update()

    def set_layout(self, layout: LaneLayout) -> None:
        """Show the entries of ``layout``."""
        self.lane_layout = layout
        self._elided.clear()
        self.update()

    def _view_y(self) -> tuple[float, float, float]:
        view = self.linkedView()
        if view is None:
            return 0.0, 1.0, 1.0
        y0, y1 = view.viewRange()[1]
        return y0, y1, max(self.size().height(), 1.0)

    def to_layout_y(self, local_y: float) -> float:
        """Return the layout y shown at this item's local ``local_y``."""
        y0, y1, h = self._view_y()
        return y0 + local_y / h * (y1 - y0)

    def entry_at(self, local_y: float) -> Entry | None:
        """Return the tree entry under the local ``local_y``."""
        return self.lane_layout.entry_at(self.to_layout_y(local_y))

    def paint(self, p: QtGui.QPainter, *args: object) -> None:
        y0, y1, h = self._view_y()
        scale = h / max(y1 - y0, 1e-9)
        width = self.size().width()
        p.save()
        try:
            p.setClipRect(QtCore.QRectF(0, 0, width, h))
            theme = self.theme
            p.fillRect(QtCore.QRectF(0, 0, width, h), qcolor(theme.background))
            metrics = QtGui.QFontMetricsF(self.font)
            for entry in self.lane_layout.entries_between(y0, y1):
                top = (entry.y - y0) * scale
                height = entry.height * scale
                indent = 6 + 12 * entry.level
                if entry.kind == "lane":
                    if entry.lane % 2 == 1:
                        p.fillRect(QtCore.QRectF(0, top, width, height), qcolor(theme.lane_stripe))
                    p.setFont(self.font)
                    text_top = top + 6.0 * scale
                    prefix = ""
                else:
                    p.fillRect(QtCore.QRectF(0, top, width, height), qcolor(theme.group_row))
                    p.setFont(self.bold if entry.kind == "host" else self.font)
                    text_top = top
                    prefix = "▸ " if entry.collapsed else "▾ "
                p.setPen(qcolor(theme.text))
                room = width - indent - 6
                text = self._elided.get((prefix + entry.label, room))
                if text is None:
                    text = metrics.elidedText(prefix + entry.label, QtCore.Qt.TextElideMode.ElideRight, room)
                    if len(self._elided) > 5000:
                        self._elided.clear()
                    self._elided[(prefix + entry.label, room)] = text
                line_h = min(height, 18.0 * scale) if entry.kind == "lane" else height
                p.drawText(QtCore.QRectF(indent, text_top, room, max(line_h, metrics.height())),
                           int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter
                               | QtCore.Qt.TextFlag.TextSingleLine), text)
            p.setPen(qcolor(theme.rule))
            p.drawLine(QtCore.QPointF(width - 1, 0), QtCore.QPointF(width - 1, h))
        finally:
            p.restore()

    def mouseClickEvent(self, event: object) -> None:
        ev = event  # a pyqtgraph MouseClickEvent
        if ev.button() == QtCore.Qt.MouseButton.RightButton and self.on_menu is not None:  # type: ignore[attr-defined]
            ev.accept()  # type: ignore[attr-defined]
            self.on_menu(self.entry_at(ev.pos().y()), ev.screenPos())  # type: ignore[attr-defined]
            return
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        entry = self.entry_at(ev.pos().y())  # type: ignore[attr-defined]
        if entry is not None and entry.kind != "lane":
            ev.accept()  # type: ignore[attr-defined]
            self.on_toggle(entry.key)

    def hoverEvent(self, event: object) -> None:
        ev = event
        if ev.isExit():  # type: ignore[attr-defined]
            QtWidgets.QToolTip.hideText()
            return
        entry = self.entry_at(ev.pos().y())  # type: ignore[attr-defined]
        if entry is not None:
            QtWidgets.QToolTip.showText(ev.screenPos().toPoint(), tooltip(entry.tip))  # type: ignore[attr-defined]
