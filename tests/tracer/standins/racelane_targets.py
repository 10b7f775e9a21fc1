"""Targets for tests/tracer/test_instrument.py, imported from the standins folder."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading

CALLS: list[str] = []


def add(x, y=2):
    """Return ``x + y``."""
    return x + y


def fail(error):
    """Raise ``error``."""
    raise error


def records(n):
    """Return ``n`` records with ``x`` = 0 .. n-1."""
    return [Record(i) for i in range(n)]


def countdown(n):
    """Return an iterator over n-1 .. 0."""
    return iter(range(n - 1, -1, -1))


def total(items):
    """Return the sum of ``items`` (any iterable, iterators included)."""
    return sum(items)


def depth(node):
    """Return ``node.y.z``."""
    return node.y.z


def touch(thing):
    """Return a constant, whatever ``thing`` is."""
    return "touched"


class Record:
    """A value with an ``x``."""

    def __init__(self, x):
        self.x = x


class Branch:
    """``Branch(Leaf(z)).y.z == z``."""

    def __init__(self, y):
        self.y = y


class Leaf:
    """Holds ``z``."""

    def __init__(self, z):
        self.z = z


class Exploding:
    """Its ``value`` property raises; ``kind`` is plain."""

    kind = "bomb"

    @property
    def value(self):
        raise RuntimeError("getter exploded")


class Counter:
    """Counts the calls of its ``names()`` method."""

    def __init__(self):
        self.calls = 0

    def names(self):
        self.calls += 1
        return ["a", "b"]


def logged(func):
    """A functools.wraps decorator that notes each call in ``CALLS``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        CALLS.append(func.__name__)
        return func(*args, **kwargs)

    return wrapper


class Base:
    """Has one of each kind of method."""

    def __init__(self, host="h1"):
        self.host = host
        self.d = {"a": 1, "b": 2}
        self.status = "new"
        self.counter = Counter()

    def greet(self, name):
        return f"{self.host} greets {name}"

    @classmethod
    def build(cls, host):
        return cls(host)

    @staticmethod
    def double(value):
        return value * 2

    async def fetch(self, ident):
        await asyncio.sleep(0)
        return [Record(ident), Record(ident + 1)]

    @logged
    def decorated(self, item):
        return item * 3

    def finish(self, status):
        self.status = status
        return status


class Sub(Base):
    """Inherits everything from ``Base``."""


_locks: dict[str, threading.Lock] = {}


@contextlib.contextmanager
def named_lock(name, blocking=True):
    """Hold the process-wide lock called ``name``."""
    lock = _locks.setdefault(name, threading.Lock())
    lock.acquire(blocking)
    try:
        yield lock
    finally:
        lock.release()


def guarded(name):
    """Return ``add(1)`` computed under ``named_lock(name)``."""
    with named_lock(name):
        return add(1)
