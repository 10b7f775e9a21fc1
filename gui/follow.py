"""Follow growing traces in the viewer: new spans as they are written, hazards the moment they are decided.

``racelane view --follow TRACE...|DIR`` (or View > Follow on traces already
open) hands the files to a ``tracer.analysis.follow.Follower``. A builder
thread (``gui.follow_build``) waits for the files to change, reads and
merges what was appended, and builds the viewer's data off the GUI thread:
a snapshot of the trace (its own columns: nothing changes under the
painting), its row index, the hazards. It reaches Qt only through a queued
signal, and is shown as soon as the GUI thread gets it. The builder
coalesces: it starts the next update at most every ``COALESCE_MS`` (less
often when updates cost more: it keeps the viewer at most half busy with
them), and only once the window took the last one, from everything that
arrived meanwhile, so a writer appending a thousand times a second still
costs a few repaints, each painted once.

The swap is in place (``gui.follow_swap``): the view range, the scroll, the
hidden lanes and pivot, the selected hazard and span all stay, and the frame
is painted complete, so new spans appear without flicker.

Following (the Follow button, View > Follow, or End) keeps the newest data
in sight: the whole trace while it is short, else the last
``FOLLOW_SPAN_NS`` or the width the user zoomed to, ending at the trace's
end. Panning or zooming away from the end pauses following until it is
turned on again. The status bar counts the spans arriving per second.

A new confirmed or unprotected hazard raises a notice over the timeline
(``gui.follow_notice``: non-modal, it goes away by itself) with a button
that zooms to it; it is in the hazard panel at once, with every other hazard
decided so far, and the overlaps whose windows still run ("open").
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from tracer.analysis.follow import DEFAULT_GLOB, Follower
from tracer.analysis.hazards import CONFIRMED, UNPROTECTED
from tracer.analysis.rules import RuleSet, load_rules

from .data import ViewerData
from .follow_build import Builder, Update
from .follow_notice import HazardNotice
from .follow_swap import refresh_hazards, refresh_status, swap
from .plain import one_line

COALESCE_MS = 25  # at most this often an update (less often when an update costs more)
FOLLOW_SPAN_NS = 30e9  # following a long trace shows its last 30 s (unless zoomed in further)
NOTIFY = (CONFIRMED, UNPROTECTED)


class FollowController(QtCore.QObject):
    """Follow ``paths`` in ``window``; see the module docstring.

    Signals: ``painted(trace)`` once a frame showing an update was painted
    (tests, benchmarks); ``hazardFound(hazard)`` for each hazard decided
    (``LiveHazard``), in order.
    """

    built = QtCore.Signal()  # emitted on the builder's thread, reaches Qt queued; the update waits in ``inbox``
    painted = QtCore.Signal(object)
    hazardFound = QtCore.Signal(object)

    def __init__(self, window: Any, paths: Sequence[str | os.PathLike[str]], *, rules: RuleSet | str = "nova",
                 glob: str = DEFAULT_GLOB, poll_s: float | None = None, host_offsets_ns: dict[str, int] | None = None,
                 coalesce_ms: int = COALESCE_MS) -> None:
        super().__init__(window)
        self.window = window
        self.sources = [os.fspath(p) for p in paths]
        self.ruleset = rules if isinstance(rules, RuleSet) else load_rules(rules)
        self.follower = Follower(self.sources, glob=glob, rules=self.ruleset, poll_s=poll_s,
                                 host_offsets_ns=host_offsets_ns)
        self.coalesce_ms = coalesce_ms
        self.following = True
        self.updates = 0
        self.show_cost_s = 0.0  # what showing the last update cost the GUI thread: its swap and its paint
        self.rate = 0.0  # spans per second arriving, over the last second
        self._arrived = 0
        self._shown: ViewerData | None = None
        self._swap_s = 0.0  # what the last swap cost (its paint is added once painted)
        self._latest: Update | None = None
        # Updates travel from the builder's thread in this deque, not as a signal's argument: a queued
        # signal then carries no Python object across threads (only the notice that one is there).
        self.inbox: deque[Update] = deque()
        self._moving = False
        self._all_in_view = True  # following shows all of a short trace (until the user zooms in)
        self.level_hint: int | None = None  # the level of detail the view was drawn at (the builder prepares it)
        self._stopped = False
        self.built.connect(self._received, QtCore.Qt.ConnectionType.QueuedConnection)
        self._rate_timer = QtCore.QTimer(self)
        self._rate_timer.setInterval(1000)
        self._rate_timer.timeout.connect(self._count)
        self.notice = HazardNotice(window)
        self.notice.showRequested.connect(self._show_hazard)
        self._install()
        window.installEventFilter(self)
        self.follower.start()
        self._builder = Builder(self)
        builder, follower = self._builder, self.follower
        self.destroyed.connect(lambda *_: (builder.halt(), follower.stop()))  # deleted without a close: stop the threads
        self._builder.start()
        self._rate_timer.start()

    # --- the window's controls ----------------------------------------------------------------
    def _install(self) -> None:
        window = self.window
        window.follow_controller = self
        self.action = getattr(window, "follow_action", None) or install_follow_action(window, _view_menu(window))
        self.action.blockSignals(True)
        self.action.setChecked(True)
        self.action.blockSignals(False)
        self.toolbar = window.addToolBar("Follow")
        self.toolbar.setObjectName("follow-toolbar")
        self.toolbar.addAction(self.action)
        self.end_shortcut = QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_End), window)
        self.end_shortcut.activated.connect(lambda: self.set_following(True))
        self.rate_label = QtWidgets.QLabel()
        self.rate_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        window.statusBar().insertPermanentWidget(0, self.rate_label)
        self._show_rate()

    def set_following(self, on: bool) -> None:
        """Keep the newest data in sight (True), or leave the view where it is."""
        self.following = bool(on)
        if self.action.isChecked() != self.following:
            self.action.blockSignals(True)
            self.action.setChecked(self.following)
            self.action.blockSignals(False)
        if self.following:
            self._scroll_to_end()
        self._show_rate()

    def stop(self) -> None:
        """Stop following: the files are closed, the trace shown stays."""
        if self._stopped:
            return
        self._stopped = True
        self._rate_timer.stop()
        self._builder.stop()
        self.follower.stop()
        self.following = False
        self.notice.hide()
        self.action.blockSignals(True)
        self.action.setChecked(False)
        self.action.blockSignals(False)
        self.window.removeToolBar(self.toolbar)
        self.end_shortcut.setEnabled(False)
        self.window.statusBar().removeWidget(self.rate_label)
        if getattr(self.window, "follow_controller", None) is self:
            self.window.follow_controller = None

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self.window:
            if event.type() == QtCore.QEvent.Type.Close:
                self.stop()
            elif event.type() == QtCore.QEvent.Type.Resize:
                self.notice.place()
        return False

    # --- updates --------------------------------------------------------------------------------
    def _received(self) -> None:
        """The builder has built (queued into this thread): show the newest at once.

        The builder coalesces: it builds the next update only once this one
        was taken, from everything that arrived meanwhile, so there is no
        backlog to wait for here (a timer would only add a turn of the
        event loop to every update).
        """
        if self._stopped:
            return
        while self.inbox:
            update = self.inbox.popleft()
            if self._latest is not None:  # not shown yet: keep what it carried
                update.merge(self._latest)
            self._latest = update
        self._show_latest()

    def _show_latest(self) -> None:
        update, self._latest = self._latest, None
        if update is None or self._stopped:
            return
        self._builder.took()  # the next one may be built while this one is shown
        for notice in update.notices:
            self.window.statusBar().showMessage(one_line(notice.message, 200), 10000)
            if notice.fatal:
                self.stop()
                if self._shown is None and self.window.data is None:
                    self.window.show_message(f"Cannot follow {notice.path}:\n{notice.message}", True)
                return
        self._arrived += update.spans
        if update.data is not None:
            started = time.perf_counter()
            self._show(update.data, hazards_changed=update.hazards_changed)
            self._swap_s = time.perf_counter() - started
        for index, hazard in update.decided:
            self.hazardFound.emit(hazard)
            if hazard.cls in NOTIFY:
                self.notice.add(index, hazard, update.data.trace.t0_ns if update.data is not None else 0)
                QtWidgets.QApplication.alert(self.window, 0)
        self.updates += 1

    def trace(self) -> Any:
        """Return the trace shown (a snapshot), or None before the first update."""
        return self._shown.trace if self._shown is not None else None

    def _show(self, data: ViewerData, hazards_changed: bool) -> None:
        """Put ``data`` in the window: the first time whole, then in place, keeping what the user set."""
        window = self.window
        timeline = window.timeline
        if timeline is None or self._shown is None or window.data is not self._shown:
            if self._shown is not None and window.data is not self._shown:  # the user opened something else
                self.stop()
                return
            window.show_data(data)
            self._shown = data
            window.timeline.vb.sigXRangeChanged.connect(self._range_changed)
            self._after_paint(data)
            self._scroll_to_end()
            return
        old_t0 = self._shown.trace.t0_ns
        x0, x1 = timeline.x_range()
        self._shown = data
        try:
            swap(window, timeline, data)
        except AttributeError:  # the timeline changed shape: show it whole, the range kept
            window.show_data(data)
            timeline = window.timeline
            timeline.vb.sigXRangeChanged.connect(self._range_changed)
        shift = float(old_t0 - data.trace.t0_ns)  # a file with earlier data joined: times move right
        self._moving = True
        try:
            timeline.set_x_range(x0 + shift, x1 + shift, record=False)
        finally:
            self._moving = False
        if hazards_changed:
            refresh_hazards(window, newest=self.following)
        refresh_status(window, data)
        if self.following:
            self._scroll_to_end()
        self._after_paint(data)

    def _after_paint(self, data: ViewerData) -> None:
        timeline = self.window.timeline
        if timeline is not None:
            # The view box moves its contents to a new range only when the scene is about to paint; moved
            # then, the move asks for a second paint of the whole view. Moved now, one paint shows the update.
            timeline.vb.updateMatrix()
            x0, x1 = timeline.x_range()
            ns_per_px = (x1 - x0) / max(timeline.vb.width(), 1.0)
            self.level_hint = math.floor(math.log2(ns_per_px)) if ns_per_px >= 2 else 0
            timeline.spans.on_painted = lambda: self._painted(data)
            timeline.spans.update()

    def _painted(self, data: ViewerData) -> None:
        """An update is on screen: note what showing it cost (the builder paces the next ones by it)."""
        timeline = self.window.timeline
        self.show_cost_s = self._swap_s + (timeline.spans.last_paint_s if timeline is not None else 0.0)
        self.painted.emit(data.trace)

    # --- following the end ------------------------------------------------------------------------
    def _scroll_to_end(self) -> None:
        timeline = self.window.timeline
        if timeline is None or self._shown is None:
            return
        duration = float(self._shown.duration_ns)
        x0, x1 = timeline.x_range()
        width = x1 - x0
        pad = getattr(timeline, "_fit_pad", duration * 0.01)
        if self._all_in_view:  # the whole trace while it is short, then its last FOLLOW_SPAN_NS
            lo, hi = -pad, duration + pad
            if duration > FOLLOW_SPAN_NS:
                lo = duration + pad - FOLLOW_SPAN_NS
        else:
            margin = 0.02 * width
            lo, hi = duration + margin - width, duration + margin
        self._moving = True
        try:
            timeline.set_x_range(lo, hi, record=False)
        finally:
            self._moving = False

    def _range_changed(self, *_: object) -> None:
        """The user moved the view: away from the end, following pauses."""
        if self._moving or self._shown is None or self.window.timeline is None:
            return
        x0, x1 = self.window.timeline.x_range()
        duration = float(self._shown.duration_ns)
        self._all_in_view = x0 <= max(0.0, duration - FOLLOW_SPAN_NS) and x1 >= duration
        if self.following and x1 < duration - 0.01 * (x1 - x0):
            self.following = False
            self.action.setChecked(False)
            self.window.statusBar().showMessage("Following paused: press End (or Follow) to show the newest spans again", 8000)
            self._show_rate()

    # --- the spans/s counter ----------------------------------------------------------------------
    def _count(self) -> None:
        self.rate = float(self._arrived)
        self._arrived = 0
        self._show_rate()

    def _show_rate(self) -> None:
        state = "stopped" if self._stopped else "following" if self.following else "paused"
        self.rate_label.setText(f"{state} · {self.rate:,.0f} spans/s")

    def _show_hazard(self, index: int) -> None:
        self.set_following(False)
        self.window.select_hazard(index)


def install_follow_action(window: Any, menu: Any) -> QtGui.QAction:
    """Add the checkable Follow action to ``menu`` (View): it keeps the newest spans in sight while following,
    and on traces opened whole it starts following their files."""
    action = QtGui.QAction("Follow", window)
    action.setCheckable(True)
    action.setToolTip("Follow the files as they grow and keep the newest spans in sight (End); "
                      "pan or zoom away to pause")
    action.setStatusTip("Follow the traces' files as they grow")
    action.toggled.connect(lambda on: _follow_toggled(window, on))
    if menu is not None:
        menu.addSeparator()
        menu.addAction(action)
    window.follow_action = action
    return action


def _follow_toggled(window: Any, on: bool) -> None:
    controller = getattr(window, "follow_controller", None)
    if controller is not None:
        controller.set_following(on)
        return
    if not on:
        return
    data = getattr(window, "data", None)
    sources = list(getattr(data, "sources", []) or []) if data is not None else []
    if not sources:
        window.statusBar().showMessage("Open traces first (or run: racelane view --follow DIR)", 8000)
        window.follow_action.setChecked(False)
        return
    FollowController(window, sources, rules=getattr(data.analysis, "rules", None) or "nova")


def _view_menu(window: Any) -> Any:
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == "View" and action.menu() is not None:
            return action.menu()
    return None


