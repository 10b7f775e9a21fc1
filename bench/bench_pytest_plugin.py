"""Benchmark: what the pytest plugin costs a suite that does not use it, and one that records every test.

Targets: with recording off (no test asks for racelane), loading the plugin
and its collection hook cost nothing measurable: the plugin's import (with
``import tracer``) under 5 ms and its collection hook under 5 µs per test, both against pytest's own
figures measured in the same run, and a whole session of 2,000 trivial tests
within the run-to-run spread of the same session with ``-p no:racelane``.
Recording on (``--racelane``) costs a recorder start and stop per test, plus
loading and checking the trace when the test recorded anything: printed per
test, for tests that record nothing and for tests that record 20 spans.

Figures are CPU seconds of the pytest processes (user + system, from
``getrusage``), which a busy machine disturbs far less than wall time; each
is the median of several alternating runs.

    python bench/bench_pytest_plugin.py
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES, TESTS_PER_FILE = 20, 100  # 2,000 trivial tests
RECORDED_TESTS = 200
RUNS = 9
IMPORT_TARGET_MS = 5.0
HOOK_TARGET_US = 5.0
SPANS = "import tracer\n    for i in range(20):\n        with tracer.span('work', cat='db', i=i):\n            pass"

HOOK_TIMER = '''
import os, time
import pytest

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(config, items):
    t = time.perf_counter_ns()
    try:
        return (yield)
    finally:
        with open(os.environ["HOOK_TIMES"], "a") as out:
            out.write(f"{time.perf_counter_ns() - t} {len(items)}\\n")
'''


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RACELANE_", "PYTEST_"))}


def _cpu_run(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run ``argv``; return the CPU seconds it used (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout.decode()[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_cost() -> tuple[float, float, float]:
    """Return ms to import tracer.pytest_plugin once pytest is loaded (with ``tracer``, and its own
    module alone) and ms to import pytest: best of 7 each."""
    plugin, own, base = [], [], []
    pattern = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (.*)$", re.M)
    for _ in range(7):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pytest, tracer.pytest_plugin"],
                              cwd=ROOT, env=_env(), capture_output=True, text=True, check=True)
        found = {m.group(3).strip(): (int(m.group(1)), int(m.group(2))) for m in pattern.finditer(done.stderr)}
        plugin.append(found["tracer.pytest_plugin"][1] / 1000)
        own.append(found["tracer.pytest_plugin"][0] / 1000)
        base.append(found["pytest"][1] / 1000)
    return min(plugin), min(own), min(base)


def write_suite(directory: Path, files: int, per_file: int, body: str = "pass") -> None:
    """Write ``files`` test modules of ``per_file`` tests, each running ``body``."""
    directory.mkdir()
    for f in range(files):
        text = "\n".join(f"def test_{t}():\n    {body}\n    assert {t} == {t}\n" for t in range(per_file))
        (directory / f"test_trivial_{f:02d}.py").write_text(text)
    (directory / "pytest.ini").write_text("[pytest]\n")


def unused_session(directory: Path) -> None:
    """A suite that never asks for racelane, with and without the plugin loaded."""
    suite = directory / "unused"
    write_suite(suite, FILES, TESTS_PER_FILE)
    (suite / "conftest.py").write_text(HOOK_TIMER)
    tests = FILES * TESTS_PER_FILE
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cpu: dict[bool, list[float]] = {True: [], False: []}
    hook: dict[bool, list[float]] = {True: [], False: []}
    paired = []
    for _ in range(RUNS):
        for loaded in (True, False):
            times = suite / "hook.txt"
            times.unlink(missing_ok=True)
            argv = base if loaded else [*base, "-p", "no:racelane"]
            cpu[loaded].append(_cpu_run(argv, suite, _env() | {"HOOK_TIMES": str(times)}))
            ns, items = map(int, times.read_text().split())
            hook[loaded].append(ns / items / 1000)
        paired.append(cpu[True][-1] - cpu[False][-1])
    with_s, without_s = statistics.median(cpu[True]), statistics.median(cpu[False])
    diff, spread = statistics.median(paired), statistics.pstdev(cpu[False])
    said = "within" if abs(diff) <= spread else "BEYOND"
    print(f"unused, {tests:,} trivial tests: {with_s:.2f} s CPU with the plugin, {without_s:.2f} s with -p no:racelane "
          f"(baseline); paired difference {diff:+.2f} s ({diff / tests * 1e6:+.0f} µs per test), {said} the "
          f"run-to-run spread of {spread:.2f} s; ratio {with_s / without_s:.3f}")
    per_test_us = without_s / tests * 1e6
    # The fastest run of each side: the hook's own cost, least disturbed by other processes.
    added = min(hook[True]) - min(hook[False])
    verdict = "met" if added <= HOOK_TARGET_US else "NOT met"
    print(f"collection hooks per test, fastest of {RUNS}: {min(hook[True]):.2f} µs with the plugin, "
          f"{min(hook[False]):.2f} µs without; racelane's share {added:+.2f} µs "
          f"(<= {HOOK_TARGET_US:g} µs, {verdict}) of pytest's {per_test_us:.0f} µs per test (baseline); "
          f"ratio {added / per_test_us:+.4f}")


def recorded_sessions(directory: Path) -> None:
    """``--racelane`` on tests that record nothing of their own, and on tests that record 20 spans."""
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    for label, body in (("recording nothing of their own", "pass"), ("recording 20 spans each", SPANS)):
        suite = directory / f"recorded-{len(body)}"
        write_suite(suite, 2, RECORDED_TESTS // 2, body)
        on, off = [], []
        for _ in range(3):
            on.append(_cpu_run([*base, "--racelane"], suite, _env()))
            off.append(_cpu_run(base, suite, _env()))
        ron, roff = statistics.median(on), statistics.median(off)
        print(f"--racelane, {RECORDED_TESTS} tests {label}, each recorded and checked (nova rules): {ron:.2f} s CPU, "
              f"{roff:.2f} s without --racelane (baseline); {(ron - roff) / RECORDED_TESTS * 1000:.2f} ms per test, "
              f"ratio {ron / roff:.2f}")


def main() -> int:
    directory = Path(tempfile.mkdtemp(prefix="racelane-bench-pytest-"))
    try:
        plugin_ms, own_ms, pytest_ms = import_cost()
        verdict = "met" if plugin_ms <= IMPORT_TARGET_MS else "NOT met"
        print(f"import tracer.pytest_plugin: {plugin_ms:.2f} ms with the recording API (import tracer) it lives in, "
              f"{own_ms:.2f} ms for the plugin module itself (<= {IMPORT_TARGET_MS:g} ms, {verdict}); "
              f"import pytest (baseline): {pytest_ms:.1f} ms; ratio {plugin_ms / pytest_ms:.3f}")
        unused_session(directory)
        recorded_sessions(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
