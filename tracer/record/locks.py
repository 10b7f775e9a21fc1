"""Locks that record how long callers waited for them and how long they held them.

A wait and a hold are two spans in category ``lock``, named
``lock.wait <name>`` and ``lock.held <name>``, each with the attribute
``lock=<name>``. The wait span is written even when the acquire fails, times
out or raises; the hold span is the parent of whatever runs under the lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import core
from .format import LOCK_CATEGORY, LOCK_HELD, LOCK_WAIT


class _Holds:
    """Open hold spans of one lock, newest last (a semaphore may have several)."""

    __slots__ = ("spans",)

    def __init__(self) -> None:
        self.spans: list[core.Span] = []

    def begin(self, name: str, attrs: dict[str, Any]) -> None:
        if core._active is None:
            return
        held = core.Span(f"{LOCK_HELD} {name}", LOCK_CATEGORY, {"lock": name, **attrs})
        held.__enter__()
        self.spans.append(held)

    def end(self) -> None:
        if not self.spans:
            return
        held = self._pick()
        held.__exit__(None, None, None)

    def _pick(self) -> core.Span:
        # Prefer the hold opened by the lane that releases; else the oldest.
        try:
            lane = core._lane() if core._active is not None else None
        except Exception:
            lane = None
        for i in range(len(self.spans) - 1, -1, -1):
            if getattr(self.spans[i], "lane", None) is lane:
                return self.spans.pop(i)
        return self.spans.pop(0)


class TracedLock:
    """Wrap ``lock`` (threading, eventlet, fasteners ...) to record waits and holds.

    Both ``with lock:`` and ``acquire()/release()`` work; every argument of
    ``acquire`` is passed through unchanged, as is its return value.
    Attributes not defined here are read from the wrapped lock.
    """

    def __init__(self, lock: Any, name: str) -> None:
        self._lock = lock
        self.name = str(name)
        self._holds = _Holds()
        self._wait_name = f"{LOCK_WAIT} {self.name}"

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        """Acquire the wrapped lock, recording the wait and starting the hold."""
        if core._active is None:
            return self._lock.acquire(*args, **kwargs)
        wait = core.Span(self._wait_name, LOCK_CATEGORY, {"lock": self.name})
        with wait:
            got = self._lock.acquire(*args, **kwargs)
            acquired = got is not False
            wait.attrs["acquired"] = acquired
        if acquired:
            self._holds.begin(self.name, {})
        return got

    def release(self) -> None:
        """Release the wrapped lock and end the hold span."""
        self._holds.end()
        self._lock.release()

    def __enter__(self) -> TracedLock:
        if core._active is None:
            self._enter_plain()
            return self
        wait = core.Span(self._wait_name, LOCK_CATEGORY, {"lock": self.name})
        with wait:
            self._enter_plain()
            wait.attrs["acquired"] = True
        self._holds.begin(self.name, {})
        return self

    def _enter_plain(self) -> None:
        acquire = getattr(self._lock, "acquire", None)
        if acquire is not None:
            acquire()
        else:
            self._lock.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._holds.end()
        if hasattr(self._lock, "release"):
            self._lock.release()
        else:
            self._lock.__exit__(exc_type, exc, tb)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._lock, attr)

    def __repr__(self) -> str:
        return f"<TracedLock {self.name!r} wrapping {self._lock!r}>"


class TracedContext:
    """Wrap a lock's context manager (``lockutils.lock(name)``) to record wait and hold."""

    __slots__ = ("_attrs", "_cm", "_holds", "_name")

    def __init__(self, cm: Any, name: str, attrs: dict[str, Any] | None = None) -> None:
        self._cm = cm
        self._name = name
        self._attrs = attrs or {}
        self._holds = _Holds()

    def __enter__(self) -> Any:
        if core._active is None:
            return self._cm.__enter__()
        wait = core.Span(f"{LOCK_WAIT} {self._name}", LOCK_CATEGORY, {"lock": self._name, **self._attrs})
        with wait:
            value = self._cm.__enter__()
            wait.attrs["acquired"] = True
        self._holds.begin(self._name, self._attrs)
        return value

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        self._holds.end()
        return self._cm.__exit__(exc_type, exc, tb)


def lock_factory_wrapper(factory: Callable[..., Any], lock_name: Callable[[tuple[Any, ...], dict[str, Any]], str], attrs: dict[str, Any]) -> Callable[..., Any]:
    """Return a stand-in for ``factory`` whose context managers record wait and hold."""

    def make(*args: Any, **kwargs: Any) -> Any:
        cm = factory(*args, **kwargs)
        if core._active is None:
            return cm
        try:
            name = lock_name(args, kwargs)
        except Exception:
            name = "lock"
        return TracedContext(cm, name, attrs)

    return make
