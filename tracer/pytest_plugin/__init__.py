"""racelane's pytest plugin: record a test, check race rules when it ends, fail with a picture.

    @pytest.mark.racelane(profile="nova", rules="nova")
    def test_evacuation_and_audit(racelane):
        racelane.expect_hazard(rule="nova-1896463*")  # the race is there on purpose
        reproduce_the_race()

Registered through the ``pytest11`` entry point as ``racelane`` (``-p
no:racelane`` turns it off). It is inert unless used: loading it imports
pytest and ``tracer`` (the recording API: standard library only, about 2 ms),
and a test is recorded only when it
asks for the ``racelane`` fixture, carries the ``racelane`` marker, or the
session runs with ``--racelane``. Recording, analysis (numpy) and pictures
(a subprocess running the viewer) load when the first such test starts.
``docs/PYTEST.md`` is the guide.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._expect import Expectation
    from ._session import Racelane

__all__ = ["Expectation", "Racelane"]

FIXTURE = "racelane"
MARKER = "racelane"
RUNTIME = "racelane-runtime"
DEFAULT_RULES = "nova"


def __getattr__(name: str) -> Any:
    """Load ``Racelane`` and ``Expectation`` on first use (type annotations in a test suite)."""
    if name == "Racelane":
        from ._session import Racelane

        return Racelane
    if name == "Expectation":
        from ._expect import Expectation

        return Expectation
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--racelane`` and its companions, and the ini keys ``racelane_rules``/``racelane_profile``."""
    group = parser.getgroup("racelane", "racelane: record tests and check them for races")
    group.addoption("--racelane", action="store_true", default=False,
                    help="record every test (not only those asking for the racelane fixture or marker) "
                         "and check it against the race rules")
    group.addoption("--racelane-rules", metavar="NAME|FILE", default=None,
                    help=f"rule set to check recorded tests with: built-in name or TOML file "
                         f"(default: ini racelane_rules, else {DEFAULT_RULES})")
    group.addoption("--racelane-profile", metavar="NAME|FILE", default=None,
                    help="recording profile to apply while a test records (default: ini racelane_profile, else none)")
    group.addoption("--racelane-dir", metavar="DIR", default=None,
                    help="keep traces and pictures under DIR/<test> (DIR/<xdist worker>/<test> under xdist) instead of "
                         "pytest's temporary directory")
    group.addoption("--racelane-keep", choices=("failed", "all"), default="failed",
                    help="keep the traces of failed tests only (default) or of every recorded test")
    group.addoption("--racelane-no-png", action="store_true", default=False,
                    help="do not draw a PNG of the hazard window when a recorded test fails")
    parser.addini("racelane_rules", f"rule set for recorded tests (built-in name or TOML path relative to the "
                                    f"ini file; default {DEFAULT_RULES})", default=None)
    parser.addini("racelane_profile", "recording profile for recorded tests (built-in name or TOML path relative to "
                                      "the ini file; default: none)", default=None)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker; on an xdist controller, collect the kept traces its workers report."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(profile=None, rules=None, skew_ms=None, host=None, enabled=True): record this test with "
        "racelane and fail it on a confirmed, unprotected or potential race hazard (enabled=False: not even "
        "under --racelane)",
    )
    if getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput"):
        _register_runtime(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give the racelane fixture to marked tests (every test with ``--racelane``), set up before the others."""
    record_all = bool(config.option.racelane)
    used = False
    for item in items:
        names: list[str] | None = getattr(item, "fixturenames", None)
        if names is None:
            continue
        requested = FIXTURE in names
        marker = item.get_closest_marker(MARKER)
        if not requested:
            if marker is None and not record_all:
                continue
            if marker is not None and marker.kwargs.get("enabled", True) is False:
                continue
        _set_up_early(item, names)
        used = True
    if used:
        _register_runtime(config)


def _set_up_early(item: pytest.Item, names: list[str]) -> None:
    """Put the fixture before the item's first function-scoped fixture, so it records their set-up too."""
    if FIXTURE in names:
        names.remove(FIXTURE)
    position = 0
    try:
        defs = item._fixtureinfo.name2fixturedefs  # type: ignore[attr-defined]
        while position < len(names) and names[position] in defs and defs[names[position]][-1].scope != "function":
            position += 1
    except Exception:  # pytest's fixture internals moved: record from before every fixture
        position = 0
    names.insert(position, FIXTURE)


def _register_runtime(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(RUNTIME):
        from ._runtime import Runtime

        config.pluginmanager.register(Runtime(config), RUNTIME)


@pytest.fixture
def racelane(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Racelane]:
    """Record everything the test does; at its end, check the race rules and fail on a hazard.

    Spans, marks and lock waits and holds of every thread, greenthread and
    task are recorded, and of every Python subprocess the test starts (each
    into its own file). Configure with ``@pytest.mark.racelane(profile=...,
    rules=..., skew_ms=..., host=...)``. ``racelane.expect_hazard(rule=...)``
    declares a hazard the test reproduces on purpose.
    """
    from ._session import open_session

    session = open_session(request, tmp_path_factory)
    try:
        yield session.handle
    finally:
        session.close()
