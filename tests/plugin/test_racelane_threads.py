"""The racelane fixture on threads: an overlap and a broken lock discipline are found; the locked version passes."""

from __future__ import annotations

import pytest
from thread_race import race

RULES = "rules/shared_state.toml"  # relative to this file


@pytest.mark.racelane(rules=RULES)
def test_unlocked_threads_race_as_expected(racelane):
    """Both threads inside their spans at once, without the lock: unprotected, and the write breaks the discipline."""
    racelane.expect_hazard(rule="read-during-write", cls="unprotected")
    racelane.expect_hazard(rule="write-under-lock", cls="potential")
    race(locked=False)


@pytest.mark.racelane(rules=RULES)
def test_locked_threads_pass(racelane):
    """Under the traced state lock the spans cannot overlap and the write holds the lock: nothing to report."""
    race(locked=True)


@pytest.mark.racelane(rules=RULES)
def test_racelane_reports_its_settings(racelane):
    """The handle says which rules apply and where the trace goes; the directory is the test's own."""
    assert racelane.rules.endswith("shared_state.toml")
    assert racelane.rule_ids == ["read-during-write", "write-under-lock"]
    assert racelane.profile is None
    assert racelane.directory.is_dir()
    assert list(racelane.directory.iterdir())  # the header is written when recording starts
