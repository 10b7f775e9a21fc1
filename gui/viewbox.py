"""The timeline's view box: x is ns since the trace's start, y is layout pixels (one unit, one pixel).

The wheel zooms time around the cursor (never y); Shift+wheel, or the wheel
over the lane tree, scrolls the lanes. A left or middle drag pans time and
lanes together; a left drag with Shift measures an interval, one with
Ctrl selects an area, and a right drag or a left drag with Alt zooms to the
time range dragged across (rubber band; ``sigSelecting`` for all three). The vertical range always shows exactly as many layout
pixels as the view is tall, so rows keep their height whatever the window.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore


class TimelineViewBox(pg.ViewBox):
    """See the module docstring. ``sigUserNavigated`` fires when a wheel step or drag ends."""

    sigUserNavigated = QtCore.Signal()
    # A selecting drag: (mode, time where it started, time now, y where it started, y now, finished).
    # Shift+drag measures ("measure"), Ctrl+drag selects an area ("area"),
    # right drag or Alt+drag zooms to the range dragged across ("zoom").
    sigSelecting = QtCore.Signal(str, float, float, float, float, bool)

    def __init__(self) -> None:
        super().__init__(enableMenu=False, invertY=True, defaultPadding=0.0)
        self.setMouseEnabled(x=True, y=False)
        self._drag_mode = ""
        self.content_height = 0.0
        self.top = 0.0
        self.sigResized.connect(lambda _vb: self.set_top(self.top))

    # --- vertical scroll ------------------------------------------------------------
    def set_content_height(self, height: float) -> None:
        """Set how tall the laid-out lanes are (clamps the scroll)."""
        self.content_height = float(height)
        self.set_top(self.top)

    def set_top(self, top: float) -> None:
        """Scroll so that layout y ``top`` is at the top of the view."""
        visible = max(self.height(), 1.0)
        self.top = max(0.0, min(float(top), self.content_height - visible))
        self.setYRange(self.top, self.top + visible, padding=0.0, update=True)

    def scroll_by(self, dy: float) -> None:
        """Scroll the lanes by ``dy`` layout pixels (positive: down)."""
        self.set_top(self.top + dy)

    # --- mouse -----------------------------------------------------------------------
    def wheelEvent(self, ev: object, axis: int | None = None) -> None:
        event = ev  # QGraphicsSceneWheelEvent
        shift = bool(event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)  # type: ignore[attr-defined]
        if axis == 1 or shift:
            self.scroll_by(-event.delta() / 2.0)  # type: ignore[attr-defined]
            event.accept()  # type: ignore[attr-defined]
            return
        super().wheelEvent(ev, axis=0)
        self.sigUserNavigated.emit()

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:
        event = ev  # pyqtgraph MouseDragEvent
        buttons = (QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.MouseButton.MiddleButton,
                   QtCore.Qt.MouseButton.RightButton)
        if event.button() not in buttons:  # type: ignore[attr-defined]
            super().mouseDragEvent(ev, axis=0)
            return
        event.accept()  # type: ignore[attr-defined]
        if event.isStart():  # type: ignore[attr-defined]
            self._drag_mode = self._selecting_mode(event)
        if self._drag_mode:
            down = self.mapSceneToView(event.buttonDownScenePos())  # type: ignore[attr-defined]
            now = self.mapSceneToView(event.scenePos())  # type: ignore[attr-defined]
            self.sigSelecting.emit(self._drag_mode, down.x(), now.x(), down.y(), now.y(), event.isFinish())  # type: ignore[attr-defined]
            return
        delta = event.pos() - event.lastPos()  # type: ignore[attr-defined]
        if axis != 1:
            x0, x1 = self.viewRange()[0]
            ns_per_px = (x1 - x0) / max(self.width(), 1.0)
            self.translateBy(x=-delta.x() * ns_per_px)
        if axis != 0:
            self.scroll_by(-delta.y())
        if event.isFinish():  # type: ignore[attr-defined]
            self.sigUserNavigated.emit()

    @staticmethod
    def _selecting_mode(event: object) -> str:
        """Return the selection a drag with these buttons and modifiers makes ("measure", "area", "zoom"), or "" to pan."""
        if event.button() == QtCore.Qt.MouseButton.RightButton:  # type: ignore[attr-defined]
            return "zoom"
        if event.button() != QtCore.Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            return ""
        mods = event.modifiers()  # type: ignore[attr-defined]
        if mods & QtCore.Qt.KeyboardModifier.AltModifier:
            return "zoom"
        if mods & QtCore.Qt.KeyboardModifier.ShiftModifier:
            return "measure"
        if mods & (QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.MetaModifier):
            return "area"
        return ""
