"""The hooks a session needs once a test records: check at the end of the call, report, summarise.

Registered only when some collected test records (or on an xdist
controller, to summarise what its workers kept), so a session that never
uses racelane pays for none of these hooks.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

import tracer

from ._picture import Picture, draw
from ._report import failure_text, summary, where
from ._session import SESSION, Session

# The test did not really run to an outcome: nothing to check.
NOT_CHECKED: tuple[type[BaseException], ...] = (pytest.skip.Exception, pytest.xfail.Exception, pytest.exit.Exception,
                                                KeyboardInterrupt, SystemExit)


class Runtime:
    """racelane's per-test hooks, as a plugin object."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.kept: list[tuple[str, list[str], str | None]] = []  # (nodeid, traces, picture)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """Run the test inside a ``pytest.call`` span, then check the recording and fail on a hazard."""
        session = item.stash.get(SESSION, None)
        if session is None or session.recording is None:
            return (yield)
        error: BaseException | None = None
        result: Any = None
        try:
            with tracer.span("pytest.call", cat="test", nodeid=item.nodeid):
                result = yield
        except BaseException as exc:
            error = exc
        if isinstance(error, NOT_CHECKED):
            session.stop()
            raise error
        text = self._check(item, session, error is not None)
        if error is not None:
            if text:
                item.add_report_section("call", "racelane", text)
            raise error
        if text and session.verdict is not None and session.verdict.failed:
            raise pytest.fail.Exception(text, pytrace=False)
        return result

    def _check(self, item: pytest.Item, session: Session, test_failed: bool) -> str | None:
        """Check the recording; keep and attach the trace (and picture) when the test fails; return the text to show."""
        try:
            verdict = session.finish()
        except Exception as err:  # a fault in racelane must not hide the test's own outcome
            session.keep = True
            files = session.files()
            for path in files:
                item.user_properties.append(("racelane_trace", path))
            return f"racelane: checking the recording failed: {err!r}\n" + "\n".join(f"trace:   {p}" for p in files)
        session.keep = verdict.failed or test_failed or session.settings.keep_all
        if not (verdict.failed or test_failed):
            if session.settings.keep_all:
                for path in verdict.files:
                    item.user_properties.append(("racelane_trace", path))
            return None
        picture: Picture | None = None
        if verdict.failed and verdict.files:
            if session.settings.picture:
                name = f"hazard-{verdict.picture_hazard}.png" if verdict.picture_hazard else "timeline.png"
                picture = draw(verdict.files, str(session.directory / name), verdict.picture_hazard, verdict.rules)
            else:
                picture = Picture(None, "not drawn (--racelane-no-png)")
        for path in verdict.files:
            item.user_properties.append(("racelane_trace", path))
        if picture is not None and picture.path:
            item.user_properties.append(("racelane_png", picture.path))
        if verdict.failed:
            item.user_properties.append(("racelane_hazards", summary(verdict)))
            return failure_text(verdict, picture)
        return where(verdict, picture)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember the traces kept for failed tests (here, or reported by xdist workers)."""
        if report.when != "call" or not report.failed:
            return
        traces = [str(v) for k, v in report.user_properties if k == "racelane_trace"]
        if traces:
            pictures = [str(v) for k, v in report.user_properties if k == "racelane_png"]
            self.kept.append((report.nodeid, traces, pictures[0] if pictures else None))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """List the kept traces and pictures at the end of the run."""
        if not self.kept:
            return
        terminalreporter.write_sep("-", "racelane: traces kept")
        for nodeid, traces, picture in self.kept:
            terminalreporter.write_line(nodeid)
            for path in traces:
                terminalreporter.write_line(f"  trace:   {path}")
            if picture:
                terminalreporter.write_line(f"  picture: {picture}")
