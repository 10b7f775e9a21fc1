"""The hot path: spans, marks, the current-span handle and ``@traced``.

Everything here must stay cheap and must never raise into traced code. The
state it needs is kept in module globals that ``Recorder.start`` and
``Recorder.stop`` swap in one go; when nothing records, ``span()`` returns a
shared no-op object.

Importing this module loads only the standard library's light modules: a
compute node pays nothing for racelane until recording starts.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar, overload

if TYPE_CHECKING:
    from .lanes import Lane
    from .recorder import Recorder

F = TypeVar("F", bound=Callable[..., Any])

# --- state swapped by Recorder.start/stop (read on every span) -------------
_active: Recorder | None = None
# Finished spans, appended by every lane, as flat pairs: the plain columns
# (a tuple without the attrs dict, which the garbage collector untracks at its
# first pass) then the attrs. One ``+=`` of a 2-tuple (atomic under the GIL)
# adds both, so the flusher gets each column list with one C-level strided
# slice (``[0::2]``, ``[1::2]``) and builds nothing per span.
_rows: list[Any] = []
_span_soft_limit = 0  # list items (2 per span) from which the flusher is woken
_span_hard_limit = 0  # list items (2 per span) from which spans are dropped
_marks: list[tuple[Any, ...]] = []
_soft_limit = 0  # wake the flusher from this many buffered rows
_hard_limit = 0  # drop (and count) from this many
_gen = 0  # bumped at every start, stop and fork: older spans are ignored
_now: Callable[[], int] = time.monotonic_ns
_lane: Callable[[], Lane] = None  # type: ignore[assignment]


def _no_wake() -> None:
    """Stand-in for the flusher's wake-up while nothing records."""


_wake: Callable[[], None] = _no_wake
_ids = itertools.count(random.getrandbits(62) | 1)
_async_set: Callable[[int], Any] = None  # type: ignore[assignment]
_async_reset: Callable[[Any], None] = None  # type: ignore[assignment]

# The optional C accelerator (tracer/record/_speedups.c) replaces ``Span`` and
# ``span`` at the end of this module; RACELANE_PURE=1 keeps the Python ones.
_speedups: Any = None
if os.environ.get("RACELANE_PURE") != "1":
    try:
        from . import _speedups  # type: ignore[attr-defined,no-redef]
    except ImportError:
        _speedups = None


def _reseed_ids(start: int | None = None) -> None:
    """Start span ids at ``start``, or at a new random point (at start and after fork)."""
    global _ids
    first = start if start is not None else random.getrandbits(62) | 1
    _ids = itertools.count(first)
    if _speedups is not None:
        _speedups.reseed(first)


def _publish() -> None:
    """Push the recorder state above into the C accelerator (after every change to it)."""
    if _speedups is None:
        return
    registry = getattr(_active, "registry", None)
    if registry is not None and getattr(registry, "current", None) is not _lane:
        registry = None  # someone else's lane lookup: the accelerator must call it
    _speedups.configure(
        _active, _rows, _span_soft_limit, _span_hard_limit, _gen,
        None if _now is time.monotonic_ns else _now, _lane, _wake, _async_set, _async_reset, registry,
    )


class SpanHandle(NamedTuple):
    """A reference to a span that can be passed to another thread or task."""

    span_id: int
    lane_id: int


class Span:
    """A timed stretch of work in one lane; use it as a context manager.

    ``s.set(key, value)`` adds an attribute known only later (the uuids a
    query returned). An exception inside the span propagates unchanged; its
    type and message are recorded on the span.
    """

    __slots__ = ("_atoken", "announced", "attrs", "cat", "gen", "id", "lane", "name", "parent", "start_ns")

    def __init__(self, name: str, cat: str, attrs: dict[str, Any]) -> None:
        self.name = name
        self.cat = cat
        self.attrs = attrs
        self.gen = -1

    def __enter__(self) -> Span:
        # No check of ``_active`` here: a span created while recording was on
        # and entered after a stop carries a stale ``gen`` and is ignored.
        try:
            lane = _lane()
            stack = lane.stack
            self.parent = stack[-1].id if stack else lane.spawned_by
            self.id = span_id = next(_ids)
            self.lane = lane
            self.gen = _gen
            if lane.is_task:
                self._atoken = _async_set(span_id)
            self.start_ns = _now()
            stack.append(self)  # last: the flusher may read this span from now on
        except Exception:
            self.gen = -1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        end_ns = _now()
        if self.gen != _gen:
            _forget(self)
            return False
        try:
            lane = self.lane
            stack = lane.stack
            if stack and stack[-1] is self:
                stack.pop()
            else:
                _forget(self)
            if lane.is_task:
                _async_reset(self._atoken)
            rows = _rows
            if len(rows) < _span_soft_limit:
                rows += ((self.id, self.parent, lane.id, self.start_ns, end_ns, self.name, self.cat,
                          None if exc_type is None else _error(exc_type, exc)), self.attrs or None)
            else:
                self._overflow(end_ns, exc_type, exc)
        except Exception:
            pass
        return False

    def _overflow(self, end_ns: int, exc_type: Any, exc: Any) -> None:
        """Buffer past the soft limit: wake the flusher; past the hard limit, drop and count."""
        rows = _rows
        if len(rows) < _span_hard_limit:
            rows += ((self.id, self.parent, self.lane.id, self.start_ns, end_ns, self.name, self.cat,
                      None if exc_type is None else _error(exc_type, exc)), self.attrs or None)
            _wake()
        elif _active is not None:
            _active.stats.dropped += 1

    def set(self, key: str, value: Any) -> None:
        """Set attribute ``key``; the last value set before the span ends wins."""
        self.attrs[str(key)] = value

    def update(self, **attrs: Any) -> None:
        """Set several attributes at once."""
        self.attrs.update(attrs)

    @property
    def handle(self) -> SpanHandle | None:
        """Return a handle to pass to another lane, or None when not recording."""
        if self.gen != _gen or self.gen < 0:
            return None
        return SpanHandle(self.id, self.lane.id)


class _NoopSpan:
    """What ``span()`` returns while nothing records: does nothing, cheaply."""

    __slots__ = ()
    handle = None

    def __enter__(self) -> _NoopSpan:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        return None

    def set(self, key: str, value: Any) -> None:
        """Ignore the attribute."""

    def update(self, **attrs: Any) -> None:
        """Ignore the attributes."""


NOOP_SPAN = _NoopSpan()
# ``with`` on the no-op span runs no Python code: both methods are builtins,
# which are not re-bound when looked up on the class. ``__enter__`` returns
# NOOP_SPAN; ``__exit__(exc_type, exc, tb)`` returns "" (false, so an
# exception propagates) without looking at its arguments.
_NoopSpan.__enter__ = itertools.repeat(NOOP_SPAN).__next__  # type: ignore[assignment,method-assign]
_NoopSpan.__exit__ = "".format  # type: ignore[assignment,method-assign]
_new_span = object.__new__


def span(name: str, cat: str = "", **attrs: Any) -> Span | _NoopSpan:
    """Return a context manager timing the ``with`` block as a span.

    Args:
        name: what the span does, for example ``db.InstanceList.get_by_host_and_node``.
        cat: its category (audit, evacuation, db, lock ...), which colours it.
        **attrs: attributes (ids, hosts, statuses); secrets are masked when written.
    """
    if _active is None:
        return NOOP_SPAN
    new = _new_span(Span)
    new.name = name
    new.cat = cat
    new.attrs = attrs
    new.gen = -1
    return new


def mark(name: str, cat: str = "", **attrs: Any) -> None:
    """Record an instant event in the current lane ("migration 7 status -> done")."""
    if _active is None:
        return
    try:
        ts = _now()
        lane = _lane()
        stack = lane.stack
        marks = _marks
        n = len(marks)
        if n < _hard_limit:
            marks.append((lane.id, ts, name, cat, stack[-1].id if stack else 0, attrs or None))
            if n >= _soft_limit:
                _wake()
        else:
            _active.stats.dropped += 1
    except Exception:
        pass


def current() -> SpanHandle | None:
    """Return a handle to the innermost open span of this lane, or None.

    Pass it to a thread, greenthread or task you start, which calls
    ``adopt(handle)`` so its spans record the spawner's span as parent.
    """
    if _active is None:
        return None
    try:
        lane = _lane()
        if lane.stack:
            return SpanHandle(lane.stack[-1].id, lane.id)
        if lane.spawned_by:
            return SpanHandle(lane.spawned_by, 0)
    except Exception:
        pass
    return None


def current_span_id() -> int:
    """Return the innermost open span id of this lane, 0 when none."""
    handle = current()
    return handle.span_id if handle is not None else 0


def adopt(handle: SpanHandle | None) -> None:
    """Make ``handle``'s span the parent of this lane's outermost spans."""
    if _active is None or handle is None:
        return
    try:
        _lane().spawned_by = handle.span_id
    except Exception:
        pass


@overload
def traced(func: F, /) -> F: ...
@overload
def traced(*, name: str | None = None, cat: str = "", **attrs: Any) -> Callable[[F], F]: ...


def traced(func: Any = None, /, *, name: str | None = None, cat: str = "", **attrs: Any) -> Any:
    """Record every call of the decorated function (plain or ``async def``) as a span.

    Works bare (``@traced``) or with arguments (``@traced(name=..., cat=...)``).
    With ``RACELANE_DISABLE=1`` in the environment the function is returned
    untouched. The span is named after the function's qualified name by default.
    """

    def decorate(fn: F) -> F:
        if os.environ.get("RACELANE_DISABLE") == "1":
            return fn
        span_name = name or f"{fn.__module__}.{fn.__qualname__}"
        fixed = dict(attrs)
        import inspect  # here, not at module level: it costs 20 ms to import

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if _active is None:
                    return await fn(*args, **kwargs)
                with Span(span_name, cat, dict(fixed)):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if _active is None:
                return fn(*args, **kwargs)
            with Span(span_name, cat, dict(fixed)):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if func is not None:
        return decorate(func)
    return decorate


def _error(exc_type: Any, exc: Any) -> list[str]:
    try:
        message = str(exc)
    except Exception:
        message = "<str() failed>"
    return [getattr(exc_type, "__qualname__", "Exception"), message[:2048]]


def _forget(span: Span) -> None:
    """Take a span out of its lane's stack wherever it is (exits out of order)."""
    try:
        stack = span.lane.stack
    except AttributeError:
        return
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is span:
            del stack[i]
            return


if _speedups is not None and not TYPE_CHECKING:
    _speedups.init(NOOP_SPAN, _error, _forget, SpanHandle)
    _speedups.reseed(next(_ids))
    Span = _speedups.Span
    span = _speedups.span


def accelerated() -> bool:
    """Return True when the span hot path runs in C (tracer.record._speedups)."""
    return _speedups is not None
