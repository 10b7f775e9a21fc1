"""The text a failed test shows: each hazard with its explanation, then where the trace and picture are."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._picture import Picture
    from ._verdict import Verdict

LABEL = {"confirmed": "CONFIRMED", "unprotected": "UNPROTECTED", "potential": "POTENTIAL",
         "uncertain": "UNCERTAIN", "serialized": "serialized"}


def failure_text(verdict: Verdict, picture: Picture | None) -> str:
    """Everything racelane has to say about a test it fails (or that failed on its own)."""
    parts: list[str] = []
    if verdict.error:
        parts.append(f"racelane: {verdict.error}")
    if verdict.failing_total:
        parts.append(_headline(verdict))
        for hazard in verdict.failing:
            parts.append(_hazard(hazard))
        if verdict.failing_total > len(verdict.failing):
            parts.append(f"  ... and {verdict.failing_total - len(verdict.failing)} more: "
                         f"racelane check --rules {shlex.quote(verdict.rules)} TRACE")
    for unmet in verdict.unmet:
        lines = [f"racelane: expected {unmet.expectation.describe()}, but it did not happen"]
        if unmet.others:
            lines.append("  what the rule found instead:")
            lines += [_hazard(h) for h in unmet.others]
        else:
            lines.append("  the rule found no overlap and no lock-discipline breach at all in this test")
        parts.append("\n".join(lines))
    parts.append(where(verdict, picture))
    return "\n\n".join(p for p in parts if p)


def where(verdict: Verdict, picture: Picture | None) -> str:
    """The paths of the kept trace files and picture, and the command that opens them."""
    lines = [f"trace:   {path}" for path in verdict.files]
    if picture is not None:
        lines.append(f"picture: {picture.path}" if picture.path else f"picture: {picture.problem}")
    if verdict.files:
        selected = f"--hazard {verdict.picture_hazard} " if verdict.picture_hazard else ""
        lines.append(f"view:    racelane view {selected}--rules {shlex.quote(verdict.rules)} "
                     + " ".join(shlex.quote(f) for f in verdict.files))
    return "\n".join(lines)


def summary(verdict: Verdict) -> str:
    """One line for the JUnit property ``racelane_hazards``: ``#1 confirmed nova-1896463; ...``."""
    items = [f"#{h['number']} {h['class']} {h['rule']}" for h in verdict.failing]
    if verdict.failing_total > len(verdict.failing):
        items.append(f"{verdict.failing_total - len(verdict.failing)} more")
    items += [f"expected {u.expectation.rule} missing" for u in verdict.unmet]
    if verdict.error:
        items.append(verdict.error)
    return "; ".join(items)


def _headline(verdict: Verdict) -> str:
    counts = verdict.counts
    found = ", ".join(f"{counts[c]} {c}" for c in ("confirmed", "unprotected", "potential") if counts.get(c))
    expected = f"; {verdict.expected} expected by the test" if verdict.expected else ""
    noun = "hazard needs" if verdict.failing_total == 1 else "hazards need"
    return f"racelane: {verdict.failing_total} race {noun} attention (rules {verdict.rules_name or verdict.rules}: {found}{expected})"


def _hazard(hazard: dict[str, Any]) -> str:
    head = f"  #{hazard['number']} {LABEL.get(hazard['class'], hazard['class'])}  {hazard['title']}  [{hazard['rule']}]"
    lines = [head, f"     {hazard['host']}  {hazard['start']} .. {hazard['end']}", _wrap(hazard["explanation"])]
    spans: Sequence[dict[str, Any]] = hazard.get("spans") or ()
    if spans:
        lines.append(_wrap("spans: " + ", ".join(f"{s['name']} ({s['start']})" for s in spans)))
    return "\n".join(lines)


def _wrap(text: str) -> str:
    # One line per explanation: terminals wrap it, and CI logs stay greppable.
    return "     " + " ".join(str(text).split())
