"""Which lane (OS thread, greenthread or asyncio task) is running right now.

Lane ids are racelane's own counters, never ``threading.get_ident()``: eventlet
reuses those for every new greenthread. A lane lives as long as the thread,
greenlet or task it stands for, and is looked up in O(1) on every span.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import threading
import weakref
from asyncio import _get_running_loop, current_task
from collections.abc import Callable
from typing import Any

THREAD = "thread"
GREENTHREAD = "greenthread"
TASK = "task"

_ATTR = "_racelane_lane"
_PARENT_ATTR = "_racelane_parent"


class Lane:
    """One row of the timeline: a thread, greenthread or task of this process."""

    __slots__ = ("__weakref__", "announced", "id", "is_task", "kind", "name", "native_id", "registry", "spawned_by", "stack")

    def __init__(self, lane_id: int, kind: str, name: str, native_id: int | None) -> None:
        self.id = lane_id
        self.kind = kind
        self.name = name
        self.native_id = native_id
        self.stack: list[Any] = []  # open spans, innermost last
        self.spawned_by: int = 0  # span id of the spawner, 0 when unknown
        self.announced = False  # a ``lane`` line was written for it
        self.is_task = kind == TASK
        self.registry: object = None

    def record(self) -> dict[str, Any]:
        """Return the ``lane`` line describing this lane."""
        return {
            "type": "lane",
            "lane": self.id,
            "kind": self.kind,
            "name": self.name,
            "native_id": self.native_id,
            "spawned_by": self.spawned_by or None,
        }


class LaneRegistry:
    """Create and find lanes; remember every lane that may hold open spans.

    Thread-safety: lanes are created by the thread, greenlet or task they
    describe; the registry dict is only mutated by single atomic operations,
    and readers take ``list(...)`` snapshots.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.lanes: dict[int, Lane] = {}
        self.pending: list[Lane] = []  # created since the last flush: not yet written
        self._tls = threading.local()
        self._task_lanes: dict[Any, Lane] = {}
        self._getcurrent: Callable[[], Any] | None = None
        greenlet_module: Any = sys.modules.get("greenlet")
        if greenlet_module is None:
            try:
                greenlet_module = importlib.import_module("greenlet")
            except ImportError:
                greenlet_module = None
        if greenlet_module is not None:
            self._getcurrent = greenlet_module.getcurrent
        self.current: Callable[[], Lane] = self._fast_greenlet() if self._getcurrent else self._current_thread

    def _fast_greenlet(self) -> Callable[[], Lane]:
        """Return the per-span lane lookup for greenlet mode as a closure (no method call)."""
        getcurrent = self._getcurrent
        slow = self._current_greenlet
        registry = self

        def current() -> Lane:
            if _get_running_loop() is None:
                try:
                    lane: Lane = getcurrent()._racelane_lane  # type: ignore[misc]
                    if lane.registry is registry:
                        return lane
                except AttributeError:
                    pass
            return slow()

        return current

    def _current_thread(self) -> Lane:
        if _get_running_loop() is not None:
            return self._current_task()
        try:
            return self._tls.lane  # type: ignore[no-any-return]
        except AttributeError:
            lane = self._tls.lane = self._new_thread_lane(threading.current_thread(), THREAD)
            return lane

    def _current_greenlet(self) -> Lane:
        if _get_running_loop() is not None:
            return self._current_task()
        assert self._getcurrent is not None
        glet = self._getcurrent()
        try:
            lane: Lane = glet._racelane_lane
            if lane.registry is self:  # not a lane inherited across fork
                return lane
        except AttributeError:
            pass
        if glet.parent is None:  # the main greenlet of an OS thread
            lane = self._new_thread_lane(threading.current_thread(), THREAD)
        else:
            lane = self._new_lane(GREENTHREAD, _greenlet_name(glet), None)
            lane.spawned_by = getattr(glet, _PARENT_ATTR, 0) or 0
        try:
            setattr(glet, _ATTR, lane)
            weakref.finalize(glet, self._forget, lane)
        except (AttributeError, TypeError):
            pass
        return lane

    def _current_task(self) -> Lane:
        task = current_task()
        if task is None:  # a loop runs, but not inside a task (callbacks)
            try:
                return self._tls.lane  # type: ignore[no-any-return]
            except AttributeError:
                lane = self._tls.lane = self._new_thread_lane(threading.current_thread(), THREAD)
                return lane
        found = self._task_lanes.get(task)
        if found is not None:
            return found
        from .spawn import async_parent

        lane = self._new_lane(TASK, task.get_name(), None)
        lane.spawned_by = async_parent()
        self._task_lanes[task] = lane
        task.add_done_callback(self._task_done)
        return lane

    def _task_done(self, task: Any) -> None:
        lane = self._task_lanes.pop(task, None)
        if lane is not None:
            self._forget(lane)

    def _new_thread_lane(self, thread: threading.Thread, kind: str) -> Lane:
        # The lane is created by the thread itself: ask the OS (a forked
        # child's Thread object still holds the parent's native id).
        lane = self._new_lane(kind, thread.name, threading.get_native_id())
        lane.spawned_by = getattr(thread, _PARENT_ATTR, 0) or 0
        return lane

    def _new_lane(self, kind: str, name: str, native_id: int | None) -> Lane:
        lane = Lane(next(self._ids), kind, name, native_id)
        lane.registry = self
        self.lanes[lane.id] = lane
        self.pending.append(lane)
        return lane

    def _forget(self, lane: Lane) -> None:
        # Keep a dead lane while it holds open spans: they must still be
        # written, as unfinished, by the next flush.
        if not lane.stack:
            self.lanes.pop(lane.id, None)

    def snapshot(self) -> list[Lane]:
        """Return the lanes alive now (a copy, safe to iterate)."""
        return list(self.lanes.values())


def _greenlet_name(glet: Any) -> str:
    run = getattr(glet, "_racelane_name", None)
    if run:
        return str(run)
    func = getattr(glet, "run", None)
    name = getattr(func, "__qualname__", None)
    if name and name not in ("GreenThread.main", "greenlet.run"):
        return f"greenthread {name}"
    return "greenthread"
