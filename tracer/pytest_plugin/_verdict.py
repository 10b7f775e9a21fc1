"""Check one test's traces against a rule set and match the hazards the test expected.

A hazard fails the test when its class is confirmed, unprotected or
potential and no expectation of the test claims it. An expectation claims
every hazard of its rule (a glob over rule ids) and classes, within its
``with`` block when it has one; an expectation that claims nothing fails
the test too.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer.analysis import TraceError, load
from tracer.analysis.hazards import CLASS_NAMES, FAILING, Analysis, analyze
from tracer.analysis.rules import RuleSet

from ._expect import EXPECT_MARK, Expectation

MAX_DESCRIBED = 20  # failing hazards spelled out in a failure message; the rest are counted


@dataclass
class Unmet:
    """An expectation that claimed no hazard, and the hazards of its rule that did happen."""

    expectation: Expectation
    others: list[dict[str, Any]]  # described hazards of the rule in other classes (serialized ...)


@dataclass
class Verdict:
    """What the check of one test found."""

    files: list[str]
    rules: str  # the rule set as given (built-in name or path), for commands
    rules_name: str = ""  # its [ruleset] name, for people
    counts: dict[str, int] = field(default_factory=dict)
    failing: list[dict[str, Any]] = field(default_factory=list)  # described, each with its 1-based "number"
    failing_total: int = 0
    expected: int = 0  # failing-class hazards claimed by expectations
    unmet: list[Unmet] = field(default_factory=list)
    error: str | None = None  # the traces could not be checked
    picture_hazard: int | None = None  # 1-based hazard to draw (the viewer's --hazard), None: the whole trace

    @property
    def failed(self) -> bool:
        """Whether the test fails on racelane's account."""
        return bool(self.failing_total or self.unmet or self.error)


def check(files: Sequence[str], rules: RuleSet, rules_spec: str, expectations: Sequence[Expectation],
          skew_ms: float | None = None) -> Verdict:
    """Load ``files``, analyse them with ``rules`` and settle ``expectations``."""
    verdict = Verdict(list(files), rules_spec, rules.name)
    if not files:
        verdict.error = "no trace was written (the recording produced no file)"
        return verdict
    try:
        result = load(list(files))
    except TraceError as err:
        verdict.error = f"the trace could not be read: {err}"
        return verdict
    analysis = analyze(result.trace, rules, skew_ms)
    verdict.counts = analysis.counts()
    table = analysis.table
    rule_of = [analysis.rule_ids[int(r)] for r in table.rule.tolist()]
    class_of = [CLASS_NAMES[int(c)] for c in table.cls.tolist()]
    claimed: set[int] = set()
    for expectation in expectations:
        lo, hi = _scope(analysis, expectation)
        hits = [i for i in range(len(table))
                if class_of[i] in expectation.classes and fnmatch.fnmatchcase(rule_of[i], expectation.rule)
                and int(table.start_ns[i]) <= hi and int(table.end_ns[i]) >= lo]
        expectation.matched = len(hits)
        if hits:
            claimed.update(hits)
        else:
            others = [i for i in range(len(table)) if fnmatch.fnmatchcase(rule_of[i], expectation.rule)]
            verdict.unmet.append(Unmet(expectation, [_describe(analysis, i) for i in others[:3]]))
            if verdict.picture_hazard is None and others:
                verdict.picture_hazard = others[0] + 1
    failing_codes = {CLASS_NAMES[c] for c in FAILING}
    failing = [i for i in range(len(table)) if class_of[i] in failing_codes and i not in claimed]
    verdict.expected = sum(1 for i in claimed if class_of[i] in failing_codes)
    # The most serious first: confirmed, then unprotected, then potential; in time order within a class.
    failing.sort(key=lambda i: (int(table.cls[i]), i))
    verdict.failing_total = len(failing)
    verdict.failing = [_describe(analysis, i) for i in failing[:MAX_DESCRIBED]]
    if failing:
        verdict.picture_hazard = failing[0] + 1
    return verdict


def _describe(analysis: Analysis, i: int) -> dict[str, Any]:
    described = analysis.hazard(i)
    described["number"] = i + 1
    return described


def _scope(analysis: Analysis, expectation: Expectation) -> tuple[int, int]:
    """The stretch of trace time an expectation covers: its ``with`` block, or all time."""
    if not expectation.scoped:
        return -(1 << 62), 1 << 62
    trace = analysis.trace
    marks = trace.marks
    begin, end = None, None
    try:
        name = trace.names.index(EXPECT_MARK)
    except ValueError:
        name = -1
    for row in (marks.name == name).nonzero()[0].tolist():
        attrs = trace.mark_attrs(row)
        if attrs.get("expectation") != expectation.number:
            continue
        ts = int(marks.ts_ns[row])
        if attrs.get("edge") == "begin":
            begin = ts
        elif attrs.get("edge") == "end":
            end = ts
    if begin is None:  # the marks were lost (buffer full): fall back to the whole test
        return -(1 << 62), 1 << 62
    return begin, (1 << 62) if end is None else end
