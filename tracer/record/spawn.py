"""Carry the spawner's current span into threads, greenthreads and tasks.

Context variables do not cross ``threading.Thread`` or ``eventlet.spawn``, so
the span that was current when a thread or greenthread was created is stored
on the new object and read once, when its lane is created. asyncio tasks copy
the spawner's context, so a context variable does the job there.

Every patch remembers the original and ``uninstall`` puts it back.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

_PARENT_ATTR = "_racelane_parent"
_async_current: contextvars.ContextVar[int] = contextvars.ContextVar("racelane_async_span", default=0)

_patched: list[tuple[Any, str, Any]] = []
_hook: list[Callable[[Any], None]] = []  # the pending eventlet import hook


def async_parent() -> int:
    """Return the span id current in this asyncio context, 0 if none."""
    return _async_current.get()


def set_async_current(span_id: int) -> contextvars.Token[int]:
    """Make ``span_id`` current for tasks created from here on."""
    return _async_current.set(span_id)


def reset_async_current(token: contextvars.Token[int]) -> None:
    """Undo ``set_async_current``; a token from another context is ignored."""
    try:
        _async_current.reset(token)
    except ValueError:
        pass


def install(current_span_id: Callable[[], int]) -> None:
    """Patch thread and greenthread creation to remember the current span."""
    if _patched:
        return
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        try:
            setattr(self, _PARENT_ATTR, current_span_id())
        except Exception:
            pass
        original_start(self)

    _swap(threading.Thread, "start", start)
    # eventlet may be imported after recording starts (racelane record runs
    # the program afterwards): patch GreenThread whenever it arrives.
    from .hooks import when_imported

    def on_eventlet(module: Any) -> None:
        if _patched:  # still recording
            install_eventlet(module, current_span_id)

    _hook[:] = [on_eventlet]
    when_imported("eventlet.greenthread", on_eventlet)


def install_eventlet(greenthread: Any, current_span_id: Callable[[], int]) -> None:
    """Patch ``eventlet.greenthread.GreenThread`` to remember the current span."""
    cls = greenthread.GreenThread
    if any(obj is cls for obj, _, _ in _patched):
        return
    original_init = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        try:
            setattr(self, _PARENT_ATTR, current_span_id())
        except Exception:
            pass

    _swap(cls, "__init__", __init__)


def uninstall() -> None:
    """Restore every patched attribute, newest first."""
    if _hook:
        from .hooks import cancel

        cancel(_hook.pop())
    while _patched:
        obj, name, original = _patched.pop()
        setattr(obj, name, original)


def _swap(obj: Any, name: str, replacement: Any) -> None:
    _patched.append((obj, name, obj.__dict__[name]))
    setattr(obj, name, replacement)
