"""Stand-in for oslo_concurrency.lockutils: in-process locks keyed by name.

As in oslo.concurrency, ``synchronized``'s wrapper looks up the module-global
``lock`` at every call, so patching ``lockutils.lock`` covers functions that
were decorated at import time.
"""

from __future__ import annotations

import contextlib
import functools
import threading

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class AcquireLockFailedException(Exception):
    """A non-blocking acquire found the lock taken."""


def internal_lock(name):
    """Return the process-wide lock called ``name`` (created on first use)."""
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


@contextlib.contextmanager
def lock(
    name,
    lock_file_prefix=None,
    external=False,
    lock_path=None,
    do_log=True,
    semaphores=None,
    delay=0.01,
    fair=False,
    blocking=True,
):
    """Hold the lock called ``name`` for the ``with`` block."""
    int_lock = internal_lock(name)
    if not int_lock.acquire(blocking=blocking):
        raise AcquireLockFailedException(name)
    try:
        yield int_lock
    finally:
        int_lock.release()


def synchronized(
    name, lock_file_prefix=None, external=False, lock_path=None, semaphores=None, delay=0.01, fair=False, blocking=True
):
    """Decorate a function so every call runs under ``lock(name)``."""

    def wrap(f):
        @functools.wraps(f)
        def inner(*args, **kwargs):
            with lock(
                name,
                lock_file_prefix,
                external,
                lock_path,
                do_log=False,
                semaphores=semaphores,
                delay=delay,
                fair=fair,
                blocking=blocking,
            ):
                return f(*args, **kwargs)

        return inner

    return wrap
