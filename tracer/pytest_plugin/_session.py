"""One recorded test: its settings, its directory, its recording and what the test sees of it.

The recording starts when the ``racelane`` fixture is set up (before the
test's other function-scoped fixtures) and stops when the test's call phase
ends (``_runtime``), where the check runs. The environment is set so that
Python subprocesses record too, each into its own file of the test's
directory (``tracer.record.boot``), and put back when the fixture is torn
down.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

import tracer

from . import DEFAULT_RULES, MARKER
from ._expect import Expectation, class_set

if TYPE_CHECKING:
    from tracer.analysis.rules import RuleSet
    from tracer.record.recorder import RecordingStats

    from ._verdict import Verdict

MARKER_KEYS = ("profile", "rules", "skew_ms", "host", "enabled")
ENV_KEYS = ("RACELANE_OUT", "RACELANE_PROFILE", "RACELANE_HOST", "PYTHONPATH")
_RULES_CACHE: pytest.StashKey[dict[str, RuleSet]] = pytest.StashKey()
SESSION: pytest.StashKey[Session] = pytest.StashKey()


@dataclass(frozen=True)
class Settings:
    """How one test is recorded and checked, resolved from marker, command line and ini (in that order)."""

    rules: str
    profile: str | None
    skew_ms: float | None
    host: str | None
    keep_all: bool
    picture: bool
    base_dir: str | None
    worker: str | None


def _pathlike(spec: str) -> bool:
    return os.sep in spec or spec.endswith(".toml")


def _anchored(spec: str, base: Path) -> str:
    """A rule or profile path made absolute against ``base``; built-in names unchanged."""
    if _pathlike(spec) and not os.path.isabs(spec):
        return str((base / spec).resolve())
    return spec


def _setting(marker: Any, key: str, config: pytest.Config, test_dir: Path) -> str | None:
    if marker is not None and marker.kwargs.get(key) is not None:
        value = marker.kwargs[key]
        if not isinstance(value, str) or not value:
            _usage(f"@pytest.mark.{MARKER}({key}=...) must be a non-empty string, got {value!r}")
        return _anchored(value, test_dir)
    option = config.getoption(f"racelane_{key}")
    if option:
        return _anchored(str(option), config.invocation_params.dir)
    ini = config.getini(f"racelane_{key}")
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return _anchored(str(ini), base)
    return None


def resolve(request: pytest.FixtureRequest) -> Settings:
    """Read the settings of ``request``'s test; a malformed marker fails its set-up with one sentence."""
    config = request.config
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            _usage(f"@pytest.mark.{MARKER} takes keyword arguments only ({', '.join(MARKER_KEYS)}), got {marker.args!r}")
        unknown = sorted(set(marker.kwargs) - set(MARKER_KEYS))
        if unknown:
            _usage(f"@pytest.mark.{MARKER}: unknown argument(s) {', '.join(unknown)}; known: {', '.join(MARKER_KEYS)}")
    test_dir = Path(str(request.node.path)).parent
    skew = marker.kwargs.get("skew_ms") if marker is not None else None
    if skew is not None and (isinstance(skew, bool) or not isinstance(skew, (int, float)) or skew < 0):
        _usage(f"@pytest.mark.{MARKER}(skew_ms=...) must be a number of milliseconds >= 0, got {skew!r}")
    host = marker.kwargs.get("host") if marker is not None else None
    if host is not None and (not isinstance(host, str) or not host):
        _usage(f"@pytest.mark.{MARKER}(host=...) must be a non-empty string, got {host!r}")
    base_dir = config.getoption("racelane_dir")
    return Settings(
        rules=_setting(marker, "rules", config, test_dir) or DEFAULT_RULES,
        profile=_setting(marker, "profile", config, test_dir),
        skew_ms=None if skew is None else float(skew),
        host=host,
        keep_all=config.getoption("racelane_keep") == "all",
        picture=not config.getoption("racelane_no_png"),
        base_dir=str(config.invocation_params.dir / base_dir) if base_dir else None,
        worker=worker_id(config),
    )


def worker_id(config: pytest.Config) -> str | None:
    """The pytest-xdist worker running this session (``gw0`` ...), None without xdist."""
    # Not PYTEST_XDIST_WORKER: a session nested in a worker's test (pytester) inherits it.
    workerinput = getattr(config, "workerinput", None)
    if isinstance(workerinput, dict) and workerinput.get("workerid"):
        return str(workerinput["workerid"])
    return None


def rule_set(config: pytest.Config, spec: str) -> RuleSet:
    """Load (once per session) the rule set ``spec``; a bad one fails the test's set-up with its error."""
    from tracer.record.errors import RacelaneError

    try:
        from tracer.analysis.rules import load_rules
    except ImportError as err:  # a recorder-only install: the analysis needs numpy
        _usage(f"checking recorded tests needs racelane's analysis, which needs numpy ({err}); "
               f"install it with: pip install 'racelane[gui]'")
    cache = config.stash.setdefault(_RULES_CACHE, {})
    if spec not in cache:
        try:
            cache[spec] = load_rules(spec)
        except RacelaneError as err:
            _usage(str(err))
    return cache[spec]


def _usage(message: str) -> NoReturn:
    pytest.fail(f"racelane: {message}", pytrace=False)


def _safe(text: str, limit: int) -> str:
    """A file-name-safe rendering of a test id."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "test"
    return cleaned[:limit]


def _unique_dir(parent: Path, name: str) -> Path:
    """Create ``parent/name`` (or ``name-2``, ``name-3`` ... when taken); never reuse what is there."""
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        candidate = parent / (name if n == 1 else f"{name}-{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise OSError(f"{parent}: no free directory name for {name}")


class Racelane:
    """What the ``racelane`` fixture gives a test.

    The test needs nothing from it to be recorded and checked; it uses it to
    declare hazards it reproduces on purpose (``expect_hazard``) and to find
    where the trace goes (``directory``).
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def directory(self) -> Path:
        """Where this test's trace files go (one per process); kept when the test fails."""
        return self._session.directory

    @property
    def rules(self) -> str:
        """The rule set the test is checked against (built-in name or absolute TOML path)."""
        return self._session.settings.rules

    @property
    def profile(self) -> str | None:
        """The recording profile applied while the test runs, if any."""
        return self._session.settings.profile

    @property
    def rule_ids(self) -> list[str]:
        """Ids of the overlap and lock-discipline rules of the rule set."""
        ruleset = self._session.ruleset
        return [h.id for h in ruleset.hazards] + [d.id for d in ruleset.disciplines]

    def expect_hazard(self, rule: str | None = None, *, cls: str | Iterable[str] | None = None) -> Expectation:
        """Declare a hazard this test reproduces on purpose; the test fails if it does not happen.

        Args:
            rule: the rule id (``nova-1896463``), or a glob over ids
                (``nova-1896463*`` covers the overlap and the lock discipline);
                None: any rule.
            cls: the classes that count (``"confirmed"``, or several); default
                confirmed, unprotected or potential.

        Returns:
            The expectation. Called plainly it covers the whole test; used as
            ``with racelane.expect_hazard(...):`` it covers that block only.
            Hazards it claims do not fail the test.

        Raises:
            ValueError: ``rule`` names no rule of the rule set, or ``cls`` no class.
        """
        pattern = "*" if rule is None else rule
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"expect_hazard(rule=...) must be a rule id or glob, got {rule!r}")
        ids = self.rule_ids
        if not any(fnmatch.fnmatchcase(i, pattern) for i in ids):
            raise ValueError(f"expect_hazard(rule={pattern!r}): no such rule in {self.rules}; "
                             f"its rules are {', '.join(ids) or 'none'}")
        return self._session.expect(Expectation(pattern, class_set(cls)))

    def __repr__(self) -> str:
        return f"<racelane recording into {self.directory} (rules {self.rules})>"


class Session:
    """The recording of one test, from fixture set-up to fixture teardown."""

    def __init__(self, item: pytest.Item, settings: Settings, directory: Path, ruleset: RuleSet) -> None:
        self.item = item
        self.settings = settings
        self.directory = directory
        self.ruleset = ruleset
        self.handle = Racelane(self)
        self.expectations: list[Expectation] = []
        self.recording: tracer.Recording | None = None
        self.verdict: Verdict | None = None
        self.stats: RecordingStats | None = None
        self.keep = False
        self._saved_env: dict[str, str | None] | None = None

    # --- life cycle ----------------------------------------------------------
    def start(self) -> None:
        """Set the environment for subprocesses and start recording this process."""
        if tracer.is_recording():
            _usage("a recording is already running in this process (RACELANE_OUT, `racelane record` or "
                   "tracer.start()); the racelane fixture records each test itself: run pytest without the other one")
        from tracer.record.boot import export_to_children

        settings = self.settings
        name = f"trace-{settings.worker}" if settings.worker else "trace"
        directory = str(self.directory).replace("{", "{{").replace("}", "}}")
        pattern = os.path.join(directory, f"{name}-{{pid}}.jsonl")
        self._saved_env = {key: os.environ.get(key) for key in ENV_KEYS}
        os.environ["RACELANE_OUT"] = pattern
        if settings.profile:
            os.environ["RACELANE_PROFILE"] = settings.profile
        else:
            os.environ.pop("RACELANE_PROFILE", None)
        if settings.host:
            os.environ["RACELANE_HOST"] = settings.host
        export_to_children(os.environ)
        process = f"pytest-{settings.worker}" if settings.worker else "pytest"
        try:
            self.recording = tracer.start(
                pattern, profile=settings.profile, host=settings.host or "", process=process, handle_sigterm=False,
                extra_header={"pytest": {"nodeid": self.item.nodeid, "worker": settings.worker}},
            )
        except Exception as err:
            self._restore_env()
            from tracer.record.errors import RacelaneError

            if isinstance(err, RacelaneError):
                _usage(str(err))
            raise

    def expect(self, expectation: Expectation) -> Expectation:
        if self.recording is None:
            raise RuntimeError("expect_hazard() called after the test's recording ended (call it inside the test)")
        self.expectations.append(expectation)
        return expectation

    def stop(self) -> None:
        """Stop recording (idempotent)."""
        recording, self.recording = self.recording, None
        if recording is not None:
            self.stats = recording.stop()

    def finish(self) -> Verdict:
        """Stop recording and check what was recorded."""
        from ._verdict import Verdict, check

        self.stop()
        if self._saved_env is not None:  # what runs after the check (fixture teardowns) is not recorded
            os.environ.pop("RACELANE_OUT", None)
        files = self.files()
        stats = self.stats
        if (stats is not None and stats.spans + stats.open_spans <= 1 and not stats.marks and not stats.dropped
                and len(files) == 1 and not self.expectations):
            # Only the test's own pytest.call span: no rule has anything to match (most unit tests).
            self.verdict = Verdict(files, self.settings.rules, self.ruleset.name)
        else:
            self.verdict = check(files, self.ruleset, self.settings.rules, self.expectations, self.settings.skew_ms)
        return self.verdict

    def files(self) -> list[str]:
        """The trace files of this test (this process's and its subprocesses'), sorted."""
        try:
            return sorted(str(p) for p in self.directory.iterdir() if p.suffix == ".jsonl" and p.is_file())
        except OSError:
            return []

    def close(self) -> None:
        """Teardown: stop if still recording, put the environment back, drop the files unless kept."""
        try:
            self.stop()
        finally:
            self._restore_env()
            _forget(self.item)
            if not (self.keep or self.settings.keep_all):
                shutil.rmtree(self.directory, ignore_errors=True)

    def _restore_env(self) -> None:
        saved, self._saved_env = self._saved_env, None
        if saved is None:
            return
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _forget(item: pytest.Item) -> None:
    if SESSION in item.stash:
        del item.stash[SESSION]


def open_session(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Session:
    """Set up the recording of ``request``'s test (the ``racelane`` fixture's set-up)."""
    item = request.node
    if not isinstance(item, pytest.Item):
        _usage("the racelane fixture records one test: request it from a test, not from a wider-scoped fixture")
    settings = resolve(request)
    ruleset = rule_set(request.config, settings.rules)
    if settings.base_dir:
        parent = Path(settings.base_dir) / settings.worker if settings.worker else Path(settings.base_dir)
        directory = _unique_dir(parent, _safe(item.nodeid, 150))
    else:
        directory = tmp_path_factory.mktemp(f"racelane-{_safe(item.name, 30)}", numbered=True)
    session = Session(item, settings, directory, ruleset)
    item.stash[SESSION] = session
    try:
        session.start()
    except BaseException:
        _forget(item)
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return session
