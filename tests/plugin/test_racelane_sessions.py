"""Whole pytest sessions under the plugin (pytester): what a failing test shows, keeps and reports."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from plugin_helpers import QUIET, give_race, reported, session

import tracer.scenario.run  # noqa: F401  (imported here, they stay loaded across in-process sessions)
from tracer.analysis import load
from tracer.pytest_plugin import _picture, _runtime  # noqa: F401

NOVA_TESTS = '''
import pytest
from tracer.scenario import run


@pytest.mark.racelane(host="host2")
def test_broken(racelane):
    """The buggy variant under the plain fixture: the race must fail the test."""
    run.run_once("buggy", "bug")


@pytest.mark.racelane(host="host2")
def test_vanished(racelane):
    """The fixed variant, still expecting the race: the expectation must fail the test."""
    racelane.expect_hazard(rule="nova-1896463")
    run.run_once("fixed", "bug")


def test_clean(racelane):
    run.run_once("fixed", "bug")
'''


def _cases(xml: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """(test name, its properties) of every test case of a JUnit XML report."""
    root = ET.parse(xml).getroot()
    return [(case.get("name", ""), [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")])
            for case in root.iter("testcase")]


def _properties(xml: Path) -> dict[str, list[tuple[str, str]]]:
    return dict(_cases(xml))


def test_broken_and_vanished_races_fail_with_explanation_trace_and_picture(pytester):
    """The race fails the test with its explanation; a vanished race fails expect_hazard; both keep trace and PNG."""
    pytester.makepyfile(test_nova=NOVA_TESTS)
    result = session(pytester, "--junitxml=report.xml")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines([
        "*racelane: 2 race hazards need attention (rules nova: 1 confirmed, 1 potential)*",
        "*#1 CONFIRMED  evacuation finish inside the audit's snapshot (bug 1896463)  ?nova-1896463?",
        "*clean_usage freed 0000:81:00.1 of 5f8d2a64-7c1e-4b39-9a0e-3d6b1c2f4e71*",
        "*#2 POTENTIAL  evacuation finish outside compute_resources  ?nova-1896463-lock-discipline?",
        "*without holding compute_resources*",
    ])
    result.stdout.fnmatch_lines([
        "*racelane: expected hazard nova-1896463 (confirmed, unprotected or potential), but it did not happen",
        "*#1 serialized  evacuation finish inside the audit's snapshot*",
        "*serialized (the fix for bug 1896463)*",
    ])
    traces, pictures = reported(result, "trace"), reported(result, "picture")
    assert len(traces) == 2 and len(pictures) == 2
    broken_trace, vanished_trace = traces
    assert "racelane-test_broken" in broken_trace and "racelane-test_vanished" in vanished_trace
    for path in traces:
        assert len(load([path]).trace.spans) > 30  # the whole scenario, kept after the test
    if _picture.gui_installed():
        assert [Path(p).name for p in pictures] == ["hazard-1.png", "hazard-1.png"]
        for path in pictures:
            assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert all("the viewer is not installed" in p for p in pictures)
    # JUnit XML carries the same paths, for CI systems to link them.
    props = _properties(pytester.path / "report.xml")
    assert ("racelane_trace", broken_trace) in props["test_broken"]
    assert ("racelane_hazards", "#1 confirmed nova-1896463; #2 potential nova-1896463-lock-discipline") in props["test_broken"]
    assert ("racelane_hazards", "expected nova-1896463 missing") in props["test_vanished"]
    if _picture.gui_installed():
        assert ("racelane_png", pictures[0]) in props["test_broken"]
    assert props["test_clean"] == []
    # The run ends with the list of what was kept; the passing test's directory is gone.
    result.stdout.fnmatch_lines(["*racelane: traces kept*", "test_nova.py::test_broken", f"  trace:   {broken_trace}"])
    assert not list(Path(broken_trace).parents[1].glob("racelane-test_clean*"))


def test_scoped_expectation_own_failures_skips_and_xfail(pytester):
    """A with-block expectation claims only its block; a failing test gets racelane's report as a section."""
    pytester.makepyfile(test_more='''
        import pytest
        from tracer.scenario import run

        def test_outside_the_block(racelane):
            with racelane.expect_hazard(rule="nova-1896463*"):
                run.run_once("fixed", "bug")
            run.run_once("buggy", "bug")

        def test_own_assertion(racelane):
            run.run_once("buggy", "audit-first")
            assert 1 == 2

        def test_skipped_midway(racelane):
            run.run_once("buggy", "bug")
            pytest.skip("not today")

        @pytest.mark.xfail(reason="known race", strict=True)
        def test_known_race(racelane):
            run.run_once("buggy", "bug")
    ''')
    result = session(pytester, "--racelane-no-png", "-rA")
    result.assert_outcomes(failed=2, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*_ test_outside_the_block _*",
        "*racelane: 2 race hazards need attention*",
        "*racelane: expected hazard nova-1896463* (confirmed, unprotected or potential) inside its with block, but it did not happen",
        "picture: not drawn (--racelane-no-png)",
    ])
    result.stdout.fnmatch_lines([
        "*_ test_own_assertion _*",
        "E       assert 1 == 2",
        "*- Captured racelane call -*",
        "*#1 POTENTIAL  evacuation finish outside compute_resources*",
        "trace:   *trace-*.jsonl",
    ])
    assert "test_skipped_midway" not in " ".join(reported(result, "trace"))


def test_racelane_option_records_every_test(pytester):
    """--racelane records tests that never asked (with --racelane-rules), but not those opted out."""
    rules = give_race(pytester)
    pytester.makepyfile(test_threads='''
        import pytest
        from thread_race import race

        def test_unlocked():
            race(locked=False)

        def test_locked():
            race(locked=True)

        @pytest.mark.racelane(enabled=False)
        def test_opted_out():
            race(locked=False)
    ''')
    plain = session(pytester)
    plain.assert_outcomes(passed=3)
    recorded = session(pytester, "--racelane", f"--racelane-rules={rules}", "--racelane-no-png")
    recorded.assert_outcomes(failed=1, passed=2)
    recorded.stdout.fnmatch_lines([
        "*racelane: 2 race hazards need attention (rules shared-state: 1 unprotected, 1 potential)",
        "*#* UNPROTECTED  state read while it is written  ?read-during-write?",
        "*#* POTENTIAL  state written without the state lock  ?write-under-lock?",
    ])
    assert recorded.stdout.str().count("FAILED test_threads.py::test_unlocked") == 1


def test_rules_from_the_ini_file(pytester):
    """racelane_rules in the ini file, relative to it, applies to marked tests."""
    give_race(pytester)
    pytester.makeini("[pytest]\nracelane_rules = shared_state.toml\n")
    pytester.makepyfile(test_ini='''
        import pytest
        from thread_race import race

        @pytest.mark.racelane
        def test_unlocked():
            race(locked=False)
    ''')
    result = session(pytester, "--racelane-no-png")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*(rules shared-state: 1 unprotected, 1 potential)"])


def test_subprocesses_record_into_their_own_files(pytester, tmp_path):
    """A Python subprocess of the test records too; its span overlapping the parent's is a cross-process hazard."""
    rules = give_race(pytester)
    pytester.makepyfile(test_child=f'''
        import subprocess, sys
        import pytest
        import tracer

        CHILD = "import tracer\\nwith tracer.span('state.read', key='x'):\\n    pass\\n"

        @pytest.mark.racelane(rules={str(rules)!r})
        def test_parent_writes_while_child_reads(racelane):
            with tracer.span("state.write", key="x"):
                subprocess.run([sys.executable, "-c", CHILD], check=True, timeout=60)
    ''')
    keep = tmp_path / "kept"
    result = session(pytester, f"--racelane-dir={keep}", "--racelane-no-png")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UNPROTECTED  state read while it is written*"])
    traces = reported(result, "trace")
    assert len(traces) == 2  # the test process and its child, each its own file
    (test_dir,) = keep.iterdir()
    assert test_dir.name == "test_child.py_test_parent_writes_while_child_reads"
    assert sorted(str(p) for p in test_dir.glob("*.jsonl")) == sorted(traces)
    trace = load(traces).trace
    assert len({int(p) for p in trace.lanes.pid}) == 2
    assert "state.read" in trace.names and "state.write" in trace.names


def test_keep_all_keeps_passing_traces_and_never_overwrites(pytester, tmp_path):
    """--racelane-keep=all keeps every test's trace; a second run beside the first gets a new directory."""
    pytester.makepyfile(test_pass='''
        from tracer.scenario import run

        def test_clean(racelane):
            run.run_once("fixed", "bug")
    ''')
    keep = tmp_path / "kept"
    for _ in range(2):
        session(pytester, f"--racelane-dir={keep}", "--racelane-keep=all").assert_outcomes(passed=1)
    assert sorted(p.name for p in keep.iterdir()) == ["test_pass.py_test_clean", "test_pass.py_test_clean-2"]
    assert all(list(p.glob("trace-*.jsonl")) for p in keep.iterdir())
    session(pytester, f"--racelane-dir={tmp_path / 'other'}").assert_outcomes(passed=1)
    assert list((tmp_path / "other").iterdir()) == []  # passed: nothing kept


def test_picture_problems_never_mask_the_hazard(pytester, monkeypatch):
    """Without the gui extra, or when the viewer crashes, the test still fails on the hazard and the session goes on."""
    pytester.makepyfile(test_two='''
        from tracer.scenario import run

        def test_first(racelane):
            run.run_once("buggy", "bug")

        def test_second(racelane):
            run.run_once("buggy", "bug")
    ''')
    monkeypatch.setattr(_picture, "gui_installed", lambda: False)
    result = session(pytester)
    result.assert_outcomes(failed=2)
    assert reported(result, "picture") == ["not drawn: the viewer is not installed (pip install 'racelane[gui]')"] * 2
    monkeypatch.setattr(_picture, "gui_installed", lambda: True)
    monkeypatch.setattr(_picture, "commands", lambda *a: [[sys.executable, "-c", "import os; os.abort()"]])
    result = session(pytester)
    result.assert_outcomes(failed=2)
    assert reported(result, "picture") == ["not drawn: the viewer died of signal 6"] * 2
    result.stdout.fnmatch_lines(["*#1 CONFIRMED  evacuation finish inside the audit's snapshot*"])


def test_bad_settings_fail_the_setup_with_one_sentence(pytester):
    """A wrong marker, rule file or profile errors the test at set-up, naming what was wrong."""
    pytester.makepyfile(test_bad='''
        import pytest

        @pytest.mark.racelane("nova")
        def test_positional(racelane):
            pass

        @pytest.mark.racelane(rule="nova")
        def test_misspelt(racelane):
            pass

        @pytest.mark.racelane(rules="missing.toml")
        def test_missing_rules(racelane):
            pass

        @pytest.mark.racelane(profile="no-such-profile")
        def test_unknown_profile(racelane):
            pass

    ''')
    pytester.makepyfile(test_foreign='''
        import pytest
        import tracer

        @pytest.fixture(scope="module", autouse=True)
        def _foreign_recording(request):
            with tracer.start(str(request.config.rootpath / "other.jsonl"), handle_sigterm=False):
                yield

        def test_recording_already_running(racelane):
            pass
    ''')
    result = session(pytester)
    result.assert_outcomes(errors=5)
    result.stdout.fnmatch_lines_random([
        "*racelane: @pytest.mark.racelane takes keyword arguments only*",
        "*racelane: @pytest.mark.racelane: unknown argument(s) rule; known: profile, rules, skew_ms, host, enabled",
        "*racelane: */missing.toml: cannot read rule set: No such file or directory",
        "*racelane: unknown profile 'no-such-profile'*",
        "*racelane: a recording is already running in this process*",
    ])


def test_plugin_is_inert_when_unused(pytester):
    """A session that records nothing loads neither the analysis (numpy) nor the plugin's runtime."""
    pytester.makeconftest('''
        import sys

        def pytest_sessionfinish(session):
            loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "tracer"))
            runtime = session.config.pluginmanager.has_plugin("racelane-runtime")
            (session.config.rootpath / "loaded.txt").write_text(" ".join(loaded) + f"\\nruntime={runtime}\\n")
    ''')
    pytester.makepyfile(test_plain="def test_a():\n    pass\n")
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=1)
    loaded, runtime = (pytester.path / "loaded.txt").read_text().splitlines()
    assert runtime == "runtime=False"
    assert not [m for m in loaded.split() if m.startswith(("numpy", "tracer.analysis", "tracer.pytest_plugin._"))]
    assert "tracer.pytest_plugin" in loaded.split()  # registered through the pytest11 entry point


def test_greenthreads_of_a_monkey_patched_session(pytester):
    """Under eventlet (monkey-patched, as Nova's tests run), greenthreads get their own lanes and their race is found."""
    rules = give_race(pytester)
    pytester.makeconftest("import eventlet\neventlet.monkey_patch()\n")
    pytester.makepyfile(test_green=f'''
        import eventlet
        import pytest
        import tracer

        def step(name):
            with tracer.span(name, key="x"):
                eventlet.sleep(0.01)

        @pytest.mark.racelane(rules={str(rules)!r})
        def test_greenthreads(racelane):
            racelane.expect_hazard(rule="read-during-write", cls="unprotected")
            racelane.expect_hazard(rule="write-under-lock")
            for g in [eventlet.spawn(step, "state.write"), eventlet.spawn(step, "state.read")]:
                g.wait()

        @pytest.mark.racelane(rules={str(rules)!r}, enabled=True)
        def test_greenthreads_locked(racelane):
            lock = tracer.traced_lock(eventlet.semaphore.Semaphore(1), "state")

            def locked(name):
                with lock:
                    step(name)

            for g in [eventlet.spawn(locked, "state.write"), eventlet.spawn(locked, "state.read")]:
                g.wait()
    ''')
    result = pytester.runpytest_subprocess(*QUIET, "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=2)


def test_xdist_workers_keep_their_own_files(pytester, tmp_path):
    """Under pytest-xdist each worker writes and keeps its own files, named after the worker."""
    pytest.importorskip("xdist")
    give_race(pytester)
    pytester.makepyfile(test_dist='''
        import pytest
        from thread_race import race

        @pytest.mark.racelane(rules="shared_state.toml")
        def test_unlocked():
            race(locked=False)
    ''')
    keep = tmp_path / "kept"
    result = session(pytester, "-n", "2", "--dist", "each", f"--racelane-dir={keep}", "--racelane-no-png",
                     "--junitxml=report.xml")
    result.assert_outcomes(failed=2)  # the same test, once on each worker
    assert sorted(p.name for p in keep.iterdir()) == ["gw0", "gw1"]
    for worker in ("gw0", "gw1"):
        files = list((keep / worker).glob("*/*.jsonl"))
        assert len(files) == 1 and files[0].name.startswith(f"trace-{worker}-")
    result.stdout.fnmatch_lines(["*racelane: traces kept*"])
    kept = sorted(v for _, props in _cases(pytester.path / "report.xml") for k, v in props if k == "racelane_trace")
    assert len(kept) == 2 and "/gw0/" in kept[0] and "/gw1/" in kept[1]
