"""Hazards a test reproduces on purpose: ``racelane.expect_hazard(rule=...)``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import tracer

CLASSES = ("confirmed", "unprotected", "potential", "uncertain", "serialized")
FAILING_CLASSES = ("confirmed", "unprotected", "potential")
EXPECT_MARK = "racelane.expect_hazard"  # marks the begin and end of an expectation's ``with`` block

_numbers = itertools.count(1)


def class_set(cls: str | Iterable[str] | None) -> tuple[str, ...]:
    """Normalise ``cls`` (one class name, several, or None for the failing ones).

    Raises:
        ValueError: a name is not a hazard class.
    """
    if cls is None:
        return FAILING_CLASSES
    names = (cls,) if isinstance(cls, str) else tuple(cls)
    unknown = [n for n in names if n not in CLASSES]
    if unknown or not names:
        raise ValueError(f"expect_hazard(cls=...): {', '.join(map(repr, unknown)) or 'nothing'} given; "
                         f"hazard classes are {', '.join(CLASSES)}")
    return tuple(c for c in CLASSES if c in names)


class Expectation:
    """A hazard the test expects; as a context manager, only inside its ``with`` block.

    Settled when the test ends: met when at least one hazard of ``rule`` (a
    glob over rule ids) in one of ``classes`` overlaps the expectation's
    scope. Claimed hazards do not fail the test; an unmet expectation does.
    """

    def __init__(self, rule: str, classes: tuple[str, ...]) -> None:
        self.rule = rule
        self.classes = classes
        self.number = next(_numbers)
        self.scoped = False
        self.matched = 0  # hazards claimed, known once the test has been checked
        self._state = "created"

    def describe(self) -> str:
        """Say what is expected, for messages: ``hazard nova-1896463 (confirmed)``."""
        classes = self.classes
        said = " or ".join(classes) if len(classes) <= 2 else ", ".join(classes[:-1]) + " or " + classes[-1]
        rule = "any rule" if self.rule == "*" else self.rule
        return f"hazard {rule} ({said}){' inside its with block' if self.scoped else ''}"

    def __enter__(self) -> Expectation:
        if self._state != "created":
            raise RuntimeError("an expect_hazard() expectation can scope one with block only")
        self._state = "entered"
        self.scoped = True
        tracer.mark(EXPECT_MARK, cat="test", expectation=self.number, edge="begin", rule=self.rule)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._state = "exited"
        tracer.mark(EXPECT_MARK, cat="test", expectation=self.number, edge="end", rule=self.rule)

    def __repr__(self) -> str:
        return f"<Expectation {self.describe()}>"
