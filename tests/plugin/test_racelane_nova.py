"""The racelane fixture on the deterministic Nova scenario (bug 1896463): the race reproduced on purpose, and the fix."""

from __future__ import annotations

import unittest

import pytest

from tracer.scenario import run


def test_buggy_variant_reproduces_the_race_on_purpose(racelane):
    """The bug schedule of the buggy variant: the overlap is confirmed and the lock discipline broken, as expected."""
    racelane.expect_hazard(rule="nova-1896463", cls="confirmed")
    racelane.expect_hazard(rule="nova-1896463-lock-discipline")
    outcome = run.run_once("buggy", "bug")
    assert outcome.lost


@pytest.mark.parametrize("schedule", ["evacuation-first", "audit-first"])
def test_lucky_schedules_still_break_the_lock_discipline(racelane, schedule):
    """A schedule that loses nothing still shows the unlocked finish: a potential hazard, on every run."""
    racelane.expect_hazard(rule="nova-1896463-lock-discipline", cls="potential")
    assert not run.run_once("buggy", schedule).lost


@pytest.mark.parametrize("schedule", ["bug", "evacuation-first", "audit-first"])
def test_fixed_variant_passes_the_plain_fixture(racelane, schedule):
    """With finish_evacuation under compute_resources, every schedule is clean (the bug one is serialized)."""
    assert not run.run_once("fixed", schedule).lost


def test_expectation_scoped_to_a_with_block(racelane):
    """A scoped expectation claims the hazard of its block; the fixed run after it adds nothing."""
    with racelane.expect_hazard(rule="nova-1896463*"):
        run.run_once("buggy", "bug")
    run.run_once("fixed", "bug")


@pytest.mark.racelane(host="host2")
def test_marker_alone_records_and_checks():
    """The marker without the fixture records the test too: the fixed variant passes."""
    from tracer.record import core

    assert core._active is not None
    assert not run.run_once("fixed", "bug").lost


def test_unknown_rule_is_refused_at_once(racelane):
    """A misspelt rule id fails the call that names it, listing the rule set's ids."""
    with pytest.raises(ValueError, match="nova-1896463-lock-discipline"):
        racelane.expect_hazard(rule="nova-1896436")


@pytest.mark.racelane(rules="nova")
class TestUnittestStyle(unittest.TestCase):
    """Nova's functional tests are unittest classes: an autouse fixture hands them the racelane handle."""

    @pytest.fixture(autouse=True)
    def _racelane(self, racelane):
        self.racelane = racelane

    def test_fixed(self):
        self.assertFalse(run.run_once("fixed", "bug").lost)

    def test_buggy_expected(self):
        self.racelane.expect_hazard(rule="nova-1896463*")
        self.assertTrue(run.run_once("buggy", "bug").lost)
