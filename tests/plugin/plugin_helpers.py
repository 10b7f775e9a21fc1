"""Shared pieces of the pytest plugin's tests: the shared-state rules, the thread race, reading a failure's paths."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SHARED_STATE_RULES = HERE / "rules" / "shared_state.toml"
THREAD_RACE = HERE / "thread_race.py"


def give_race(pytester: pytest.Pytester) -> Path:
    """Copy the thread race and the shared-state rules into a pytester directory; return the rules' copy."""
    pytester.makepyfile(thread_race=THREAD_RACE.read_text())
    rules = pytester.path / "shared_state.toml"
    rules.write_text(SHARED_STATE_RULES.read_text())
    return rules


# In-process sessions import racelane again, already imported by this one: pytest
# then warns that it cannot rewrite its asserts, which changes nothing here. The
# sessions need neither Hypothesis nor pytest-qt, whose modules pytester would
# unload and import again (seconds) after every session.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:pytest-qt",
         "-W", "ignore::pytest.PytestAssertRewriteWarning")


def session(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run a pytest session in this process, without the cache and the rewrite warning."""
    return pytester.runpytest(*QUIET, *args)


def reported(result: pytest.RunResult, label: str) -> list[str]:
    """The values of the ``label:`` lines (trace, picture) that failed tests printed."""
    prefix = f"{label}:"
    return [line[len(prefix):].strip() for line in result.outlines if line.startswith(prefix)]
