"""The timeline widget: lane tree, spans, hazard bands, time axis, and how to move around them.

Keys (``handle_key``): W zooms in 2x and S out 2x around the view's centre,
A and D pan by a quarter of the view, Home fits the whole trace, F fits the
measured interval or area, else the selected span, else the whole trace,
Escape drops them, Alt+Left and Alt+Right (or Backspace) go back and forward
in the view history. The mouse: wheel zooms around the cursor, Shift+wheel
scrolls lanes, drag pans, Shift+drag measures, Ctrl+drag selects an area, right drag or Alt+drag zooms (rubber band),
click selects a span or mark, hovering shows what is under the cursor.

The timeline shows the loaded data through a ``ViewFilter`` (categories,
hosts and lanes hidden; a pivot by attribute), outlines search matches, and
keeps the measured interval or area (``selection``): see
``gui.timeline_views``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from .axes import LaneAxis, TimeAxis
from .data import ViewerData
from .describe import span_summary
from .filters import view_hazards
from .layout import LaneLayout
from .painting import qcolor
from .plain import format_offset, one_line, tooltip
from .spans_item import SpanItem
from .theme import LIGHT, Theme
from .timeline_views import TimelineViews
from .viewbox import TimelineViewBox

MIN_RANGE_NS = 50.0
HISTORY = 100
SETTLE_MS = 400  # wheel steps and drags closer than this make one history entry
PICK_PX = 3.0


class Timeline(TimelineViews, QtWidgets.QWidget):
    """See the module docstring. Signals carry span or mark rows (-1: none) and cursor times (ns since start)."""

    spanClicked = QtCore.Signal(int)
    markClicked = QtCore.Signal(int)
    cursorMoved = QtCore.Signal(float)
    viewChanged = QtCore.Signal()  # filters, hidden lanes or pivot changed (``view_filter``, ``data``)
    selectionChanged = QtCore.Signal(object)  # a measured interval or area was made or cleared (Selection | None)
    matchesChanged = QtCore.Signal()  # the search matches or the current one changed (``matches``)
    searchRequested = QtCore.Signal(str)  # the lane tree's menu asks to search for a pivot value
    searchFinished = QtCore.Signal(int, object, str, object)  # from the search worker: generation, trace, query, hits

    def __init__(self, data: ViewerData, parent: QtWidgets.QWidget | None = None, theme: Theme | None = None) -> None:
        super().__init__(parent)
        self.data = data
        self.theme = theme or LIGHT
        self.collapsed: set[tuple[int, ...]] = set()
        self.lanes = LaneLayout(data.trace, data.index)
        self.vb = TimelineViewBox()
        self.time_axis = TimeAxis()
        self.lane_axis = LaneAxis(self.lanes, self.toggle, self.theme)
        self.plot = pg.PlotWidget(viewBox=self.vb, axisItems={"bottom": self.time_axis, "left": self.lane_axis},
                                  background=qcolor(self.theme.background))
        self.time_axis.set_theme(self.theme)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        self.spans = SpanItem(data, self.lanes, self.theme)
        self.bands = self.spans.bands
        self.spans.ticks = self._major_ticks
        self.vb.addItem(self.spans)
        self._lanes_init(data)
        self.searchFinished.connect(self._search_finished)  # queued: emitted on the search worker's thread
        self.vb.disableAutoRange()
        dur = float(data.duration_ns)
        pad = max(dur * 0.02, (MIN_RANGE_NS - dur) / 2)  # a very short trace still fits the narrowest view
        self.vb.setLimits(xMin=-pad, xMax=dur + pad, minXRange=MIN_RANGE_NS, maxXRange=dur + 2 * pad)
        self._fit_pad = max(dur * 0.01, (MIN_RANGE_NS - dur) / 2)
        self.vb.set_content_height(self.lanes.height)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.plot)
        self._back: list[tuple[float, float]] = []
        self._forward: list[tuple[float, float]] = []
        self._settled = self.x_range()
        self._settling = QtCore.QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settling.timeout.connect(self._settle)
        self.vb.sigUserNavigated.connect(self._user_navigated)
        scene = self.plot.scene()
        self._hover = pg.SignalProxy(scene.sigMouseMoved, rateLimit=40, slot=self._on_hover)
        scene.sigMouseClicked.connect(self._on_click)
        self.fit(record=False)

    # --- view range ---------------------------------------------------------------------
    def x_range(self) -> tuple[float, float]:
        """Return the visible time range (ns since the trace's start)."""
        x0, x1 = self.vb.viewRange()[0]
        return float(x0), float(x1)

    def set_x_range(self, lo: float, hi: float, record: bool = True) -> None:
        """Show ``[lo, hi]`` (ns since start); remember the previous range for ``back``."""
        if record:
            if self._settling.isActive():
                self._settling.stop()
                self._settle()
            self._remember()
        self.vb.setXRange(lo, hi, padding=0.0)
        self._settled = self.x_range()

    def fit(self, record: bool = True) -> None:
        """Show the whole trace, lanes from the top."""
        dur = float(self.data.duration_ns)
        self.set_x_range(-self._fit_pad, dur + self._fit_pad, record)
        self.vb.set_top(0.0)

    def zoom(self, factor: float, center: float | None = None) -> None:
        """Multiply the visible duration by ``factor`` (< 1 zooms in) around ``center`` (default: the middle)."""
        x0, x1 = self.x_range()
        c = (x0 + x1) / 2 if center is None else center
        self.set_x_range(c - (c - x0) * factor, c + (x1 - c) * factor)

    def pan(self, fraction: float) -> None:
        """Move the view by ``fraction`` of its width (positive: later)."""
        x0, x1 = self.x_range()
        d = (x1 - x0) * fraction
        self.set_x_range(x0 + d, x1 + d)

    def show_interval(self, lo: float, hi: float, lanes: list[int] | None = None) -> None:
        """Zoom to ``[lo, hi]`` with a margin of 60% of its length each side, and scroll ``lanes`` into view."""
        length = max(hi - lo, MIN_RANGE_NS)
        margin = 0.6 * length
        self.set_x_range(lo - margin, hi + margin)
        tops = [float(self.lanes.lane_y[la]) for la in lanes or [] if self.lanes.lane_y[la] >= 0]
        if tops:
            visible = self.vb.height()
            first, last = min(tops), max(tops)
            if first < self.vb.top or last + 40 > self.vb.top + visible:
                header = self.lanes.host_top(first)  # the host's header too, when it fits with the lanes
                self.vb.set_top(header if last + 40 - header <= visible else first - 30)

    def back(self) -> None:
        """Return to the previous view range."""
        if self._back:
            self._forward.append(self.x_range())
            self.vb.setXRange(*self._back.pop(), padding=0.0)
            self._settled = self.x_range()

    def forward(self) -> None:
        """Undo ``back``."""
        if self._forward:
            self._back.append(self.x_range())
            self.vb.setXRange(*self._forward.pop(), padding=0.0)
            self._settled = self.x_range()

    def _remember(self) -> None:
        current = self._settled
        if not self._back or self._back[-1] != current:
            self._back.append(current)
            del self._back[:-HISTORY]
        self._forward.clear()

    def _user_navigated(self) -> None:
        """Record where a burst of wheel steps or a drag started, once per burst."""
        if not self._settling.isActive():
            self._remember()
        self._settling.start()

    def _settle(self) -> None:
        self._settled = self.x_range()

    def handle_key(self, key: int, modifiers: QtCore.Qt.KeyboardModifier) -> bool:
        """Act on a navigation key; return whether it was one."""
        k = QtCore.Qt.Key
        alt = bool(modifiers & QtCore.Qt.KeyboardModifier.AltModifier)
        if modifiers & (QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.MetaModifier):
            return False
        if (alt and key == k.Key_Left) or key == k.Key_Backspace:
            self.back()
        elif alt and key == k.Key_Right:
            self.forward()
        elif alt:
            return False
        elif key == k.Key_W:
            self.zoom(0.5)
        elif key == k.Key_S:
            self.zoom(2.0)
        elif key == k.Key_A:
            self.pan(-0.25)
        elif key == k.Key_D:
            self.pan(0.25)
        elif key == k.Key_F and self.fit_selection():
            pass
        elif key in (k.Key_Home, k.Key_F):
            self.fit()
        elif key == k.Key_Escape and self.clear_selection():
            pass
        else:
            return False
        return True

    def set_theme(self, theme: Theme) -> None:
        """Draw in ``theme``'s colours: background, axes, lane tree, spans and bands."""
        self.theme = theme
        self.plot.setBackground(qcolor(theme.background))
        self.time_axis.set_theme(theme)
        self.lane_axis.set_theme(theme)
        self.spans.set_theme(theme)
        self.bands = self.spans.bands
        for item in (self.outlines, self.overlay):
            item.set_theme(theme)

    def refresh_hazards(self) -> None:
        """Show the hazards of the data's current analysis (none selected)."""
        if self.data is not self.root:  # a derived view: its hazards are the loaded data's, moved to its lanes
            self.data.analysis, self.data.rules_name = self.root.analysis, self.root.rules_name
            self.data.hazards = view_hazards(self.data, bool(self.view_filter.pivot))
        self.spans.refresh_hazards()
        self.bands = self.spans.bands

    def _major_ticks(self, x0: float, x1: float, width_px: float) -> list[float]:
        """Return the times of the time axis' major ticks in ``[x0, x1]`` (for grid lines)."""
        levels = self.time_axis.tickValues(x0, x1, width_px)
        return list(levels[0][1]) if levels else []

    # --- lanes ----------------------------------------------------------------------------
    def toggle(self, key: tuple[int, ...]) -> None:
        """Collapse or expand the host or process ``key``."""
        self.collapsed.symmetric_difference_update({key})
        self.relayout()

    def lane_names(self) -> list[str]:
        """Return the names of the lanes shown, top to bottom."""
        return self.lanes.lane_names()

    # --- picking -----------------------------------------------------------------------------
    def pick(self, t: float, y: float, tolerance_px: float = PICK_PX) -> tuple[str, int]:
        """Return ``("span", row)``, ``("mark", row)`` or ``("", -1)``: what is drawn at (t, y)."""
        x0, x1 = self.x_range()
        tol = tolerance_px * (x1 - x0) / max(self.vb.width(), 1.0)
        entry = self.lanes.entry_at(y)
        if entry is None or entry.kind != "lane":
            return "", -1
        row = self.lanes.row_at(y)
        if row >= 0:
            span = self.data.index.span_at(row, t, tol)
            if span >= 0:
                return "span", span
        mark = self._mark_at(entry.lane, t, tol)
        return ("mark", mark) if mark >= 0 else ("", -1)

    def _mark_at(self, lane: int, t: float, tol: float) -> int:
        ts = self.data.mark_ts
        a, b = np.searchsorted(ts, [t - tol, t + tol], side="left")
        hits = np.flatnonzero(self.data.mark_lane[a:b] == lane)
        if not len(hits):
            return -1
        best = hits[np.argmin(np.abs(ts[a:b][hits] - t))]
        return int(a + best)

    def _view_point(self, scene_pos: object) -> tuple[float, float] | None:
        if not self.vb.sceneBoundingRect().contains(scene_pos):  # type: ignore[arg-type]
            return None
        point = self.vb.mapSceneToView(scene_pos)
        return float(point.x()), float(point.y())

    def _on_click(self, event: object) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return
        where = self._view_point(event.scenePos())  # type: ignore[attr-defined]
        if where is None:
            return
        kind, row = self.pick(*where)
        self.bands.select_span(row if kind == "span" else -1)
        if kind == "mark":
            self.markClicked.emit(row)
        else:
            self.spanClicked.emit(row)

    def _on_hover(self, args: tuple[object]) -> None:
        scene_pos = args[0]
        where = self._view_point(scene_pos)
        if where is None:
            self.cursorMoved.emit(float("nan"))
            return
        t, y = where
        self.cursorMoved.emit(t)
        text = self.hover_text(t, y)
        global_pos = self.plot.mapToGlobal(self.plot.mapFromScene(scene_pos))  # type: ignore[arg-type]
        if text:
            QtWidgets.QToolTip.showText(global_pos, tooltip(text), self.plot)
        else:
            QtWidgets.QToolTip.hideText()

    def hover_text(self, t: float, y: float) -> str:
        """Return the plain text of the tooltip at (t, y): the span or mark there, and hazards covering it."""
        kind, row = self.pick(t, y)
        parts = []
        if kind == "span":
            parts.append(span_summary(*self.data.origin(row)))
        elif kind == "mark":
            marks = self.data.trace.marks
            parts.append(f"mark {one_line(self.data.trace.names[int(marks.name[row])])} at "
                         f"{format_offset(int(marks.ts_ns[row]) - self.data.trace.t0_ns)}")
        entry = self.lanes.entry_at(y)
        if entry is not None and entry.kind == "lane":
            hazards = self.bands.tip_at(t, entry.lane)
            if hazards:
                parts.append(hazards)
        return "\n\n".join(parts)
