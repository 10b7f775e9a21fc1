"""Build the viewer's data for each update of a followed trace, off the GUI thread (``gui.follow``).

The builder thread waits for the follower (file events, or its intervals),
looks at the files, merges what was read (``Follower.apply``), takes a
snapshot of the trace and builds the ``ViewerData`` (row index, hazards, the
level of detail in view). It hands that to the controller through its
``inbox`` and a queued ``built`` signal (which carries nothing): plain data,
no Qt object crosses threads.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tracer.analysis import LoadResult
from tracer.analysis.follow import FollowUpdate
from tracer.analysis.follow_hazards import LiveHazard, live_analysis

from .data import ViewerData
from .rows import RowIndex

BUSY_SHARE = 0.5  # updates may keep the viewer's interpreter busy this share of the time, at most
COST_WEIGHT = 0.2  # the weight of the last update in the running cost (one slow update barely moves it)


class Update:
    """What the builder hands the window: the data to show (None: nothing new to draw), hazards, notices."""

    def __init__(self, data: ViewerData | None, update: FollowUpdate, decided: list[tuple[int, LiveHazard]],
                 hazards_changed: bool) -> None:
        self.data = data
        self.notices = list(update.notices)
        self.spans = update.stats.spans
        self.decided = decided
        self.hazards_changed = hazards_changed

    def merge(self, older: Update) -> None:
        """Take in an update that was never shown (its data is superseded by this one's)."""
        self.notices = [*older.notices, *self.notices]
        self.spans += older.spans
        self.decided = [*older.decided, *self.decided]
        self.hazards_changed = self.hazards_changed or older.hazards_changed
        if self.data is None:
            self.data = older.data


class Builder(threading.Thread):
    """Merge what the follower read and build the viewer's data (snapshot, row index, hazards) off the GUI thread.

    The next update is built while the window shows the last one, not sooner
    than ``coalesce_ms`` after the last was started, nor sooner than what the
    last update cost (building it, and showing and painting it on the GUI
    thread) allows for ``BUSY_SHARE`` (a large trace is updated less often
    than a small one: the viewer stays responsive, and updates never queue
    up behind a saturated interpreter), and only once the window took the
    last one: an update waiting for a busy window is never followed by
    another built behind it (it would be stale when shown); the next build
    takes everything that arrived meanwhile. The row index is carried from
    update to update (``RowIndex.following``), and the level of detail the
    view draws at is built here too, so painting finds it ready.
    Everything built is plain data (no Qt); it goes in the controller's
    ``inbox``, and the controller's queued ``built`` signal says so.
    """

    def __init__(self, controller: Any) -> None:
        super().__init__(name="racelane-follow-build", daemon=True)
        self.controller = controller
        self.follower = controller.follower
        self.taken = threading.Condition()
        self.ahead = 0  # built, not yet taken by the window
        self._halt = threading.Event()
        self._hazards_seen: Any = None
        self._index: RowIndex | None = None  # the last update's row index (the next one derives from it)
        self.last_cost_s = 0.0
        self.cost_s = 0.0  # running average of an update's cost: building it, showing and painting it

    def halt(self) -> None:
        """Stop building (from any thread); nothing more is emitted."""
        self._halt.set()
        with self.taken:
            self.taken.notify_all()

    def took(self) -> None:
        """The window took an update (called on the GUI thread)."""
        with self.taken:
            self.ahead = 0
            self.taken.notify_all()

    def stop(self) -> None:
        self.halt()
        if self is not threading.current_thread():
            self.join(timeout=5.0)

    def run(self) -> None:
        first = True
        while not self._halt.is_set():
            if not first and not self.follower.wait(0.25):
                continue
            with self.taken:
                self.taken.wait_for(lambda: self.ahead < 1 or self._halt.is_set())
            if self._halt.is_set():
                break
            started = time.perf_counter()
            try:
                update = self._build(first)
            except Exception as err:  # never let the thread die silently
                self.controller.inbox.append(failed(err))
                self.controller.built.emit()
                break
            first = False
            if self._halt.is_set():
                break
            with self.taken:
                self.ahead += 1
            self.controller.inbox.append(update)
            try:
                self.controller.built.emit()
            except RuntimeError:  # the window (and the controller with it) was deleted meanwhile
                break
            self.last_cost_s = time.perf_counter() - started
            self._halt.wait(max(0.0, self.interval_s() - self.last_cost_s))

    def interval_s(self) -> float:
        """Return how long after the start of the last build the next may start (see the class docstring)."""
        cost = self.last_cost_s + self.controller.show_cost_s
        self.cost_s = cost if self.cost_s == 0.0 else (1 - COST_WEIGHT) * self.cost_s + COST_WEIGHT * cost
        return max(self.controller.coalesce_ms / 1000, self.cost_s / BUSY_SHARE)

    def _build(self, first: bool) -> Update:
        follower = self.follower
        update = follower.apply()
        hazards = follower.hazards
        seen = (len(hazards.decided), tuple(h.key for h in hazards.open)) if hazards is not None else None
        hazards_changed = seen != self._hazards_seen
        self._hazards_seen = seen
        stats = update.stats
        changed = first or stats.spans or stats.marks or stats.finished or stats.new_files or hazards_changed
        data = None
        if changed and follower.live.trace().files:
            trace = follower.live.snapshot()
            # Only the rows after the stable ones changed: the row index is carried on, not built again.
            self._index = RowIndex.following(self._index, trace, follower.live.take_stable_rows())
            analysis = live_analysis(hazards, trace) if hazards is not None else None
            data = ViewerData(LoadResult(trace, follower.report()), analysis=analysis,
                              sources=list(self.controller.sources), rules_name=self.controller.ruleset.name,
                              row_index=self._index)
            level = self.controller.level_hint
            if level is not None and level >= 1:  # what the next paint will ask for (the zoom changes slowly)
                data.index.level(level)
        decided = [(hazards.decided.index(h), h) for h in update.hazards] if hazards is not None else []
        return Update(data, update, decided, hazards_changed)


def failed(err: BaseException) -> Update:
    from tracer.analysis.follow import Notice

    update = Update.__new__(Update)
    update.data, update.spans, update.decided, update.hazards_changed = None, 0, [], False
    update.notices = [Notice("error", "", f"following failed: {err!r}", fatal=True)]
    return update
