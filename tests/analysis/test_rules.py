"""Rules and hazards: every classification, windows between marks, joins, lock discipline, bad rule files."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

import tracer
from tracer.analysis import load
from tracer.analysis.hazards import analyze
from tracer.analysis.rules import RuleError, load_rules
from tracer.scenario import nova
from tracer.scenario import run as scenario

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"

RULES = """
[ruleset]
name = "test"
skew_ms = 2

[[window]]
id = "reader"
title = "reader"
from = { name = "read.first", edge = "start" }
to = { name = "read.second", edge = "end" }
within = "reader.run"
keys = { host = "$host", item = "group.item" }

[[window]]
id = "writer"
title = "writer"
span = "write"
keys = { host = "$host", item = "span.item" }

[[hazard]]
id = "read-write"
title = "write inside the reads"
windows = ["reader", "writer"]
join = ["item"]

[[discipline]]
id = "writes-need-L"
window = "writer"
lock = "L"
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_000

    def __call__(self) -> int:
        return self.now


def record(path: Path, host: str, program, wall_ns: int = 1_790_000_000_000_000_000) -> None:
    """Record ``program(clock)`` into ``path`` with a hand-driven clock."""
    clock = Clock()
    with tracer.start(str(path), clock=clock, host=host, handle_sigterm=False, flush_interval_s=3600,
                      extra_header={"clock": {"monotonic_ns": clock.now, "wall_ns": wall_ns, "source": "custom"}}):
        program(clock)


def reader(clock: Clock, start: int, gap: int, key: str = "k1", lock=None) -> None:
    clock.now = start
    with tracer.span("reader.run", item=key):
        if lock is not None:
            lock.acquire()
        with tracer.span("read.first"):
            clock.now += 1_000_000
        clock.now += gap
        with tracer.span("read.second"):
            clock.now += 1_000_000
        if lock is not None:
            lock.release()


def writer(clock: Clock, start: int, key: str = "k1", lock=None) -> None:
    clock.now = start
    if lock is not None:
        lock.acquire()
    with tracer.span("write", item=key):
        clock.now += 500_000
    if lock is not None:
        lock.release()


def check(paths, rules_text: str, tmp_path: Path, skew_ms=None):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(rules_text)
    result = load([str(p) for p in paths])
    return analyze(result.trace, load_rules(str(rules_file)), skew_ms)


def classes(analysis) -> list[str]:
    return sorted(h["class"] for h in analysis.hazards())


def test_unprotected_overlap_and_potential_discipline(tmp_path):
    """A write between the two reads, with no common lock: unprotected, and the write lacked L."""
    path = tmp_path / "t.jsonl"

    def program(clock):
        reader(clock, 1_000_000_000, gap=5_000_000)
        writer(clock, 1_002_000_000)  # earlier clock value: a second lane would run concurrently

    def both(clock):
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        reader_lane = threading.Thread(target=reader, args=(clock, 1_000_000_000, 5_000_000))
        reader_lane.start()
        reader_lane.join()
        writer_lane = threading.Thread(target=writer, args=(clock, 1_002_000_000))
        writer_lane.start()
        writer_lane.join()

    record(path, "h1", both)
    analysis = check([path], RULES, tmp_path)
    assert classes(analysis) == ["potential", "unprotected"]


def test_serialized_when_both_sides_hold_the_same_lock(tmp_path):
    """Reads and write under the same lock in one process: the overlap is serialized, not a hazard."""
    path = tmp_path / "t.jsonl"
    lock = tracer.traced_lock(threading.Lock(), "L")

    def program(clock):
        a = threading.Thread(target=reader, args=(clock, 1_000_000_000, 5_000_000, "k1", lock))
        a.start()
        a.join()
        # The writer's span starts inside the reader's window, but its write runs under L.
        clock.now = 1_003_000_000
        b = threading.Thread(target=lambda: _write_under(clock, lock))
        b.start()
        b.join()

    record(path, "h1", program)
    analysis = check([path], RULES.replace('span = "write"', 'span = "write.outer"\ncritical = ["write"]'), tmp_path)
    assert classes(analysis) == ["serialized"]
    assert analysis.failing() == 0


def _write_under(clock: Clock, lock) -> None:
    with tracer.span("write.outer", item="k1"):
        clock.now += 100_000
        with lock, tracer.span("write", item="k1"):
            clock.now += 200_000


def test_joins_do_not_cross_keys(tmp_path):
    """A write for another key overlapping the reads is no hazard (two instances on one host)."""
    path = tmp_path / "t.jsonl"

    def program(clock):
        a = threading.Thread(target=reader, args=(clock, 1_000_000_000, 5_000_000, "instance-A"))
        a.start()
        a.join()
        b = threading.Thread(target=writer, args=(clock, 1_002_000_000, "instance-B"))
        b.start()
        b.join()

    record(path, "h1", program)
    assert classes(check([path], RULES, tmp_path)) == ["potential"]


def test_uncertain_across_hosts_within_skew(tmp_path):
    """Windows on two hosts overlapping by less than the skew tolerance are uncertain."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    record(a, "h1", lambda clock: reader(clock, 1_000_000_000, 5_000_000))
    # On h2, the write ends 1 ms into h1's reader window (skew tolerance is 2 ms).
    record(b, "h2", lambda clock: writer(clock, 999_500_000 + 500_000))
    analysis = check([a, b], RULES.replace('join = ["item"]', 'join = ["item"]').replace('keys = { host = "$host", item = "span.item" }', 'keys = { host = "$host", item = "span.item" }'), tmp_path)
    overlap = [h for h in analysis.hazards() if h["rule"] == "read-write"]
    assert [h["class"] for h in overlap] == ["uncertain"]
    # With a tolerance of 0 the same overlap is unprotected.
    again = check([a, b], RULES, tmp_path, skew_ms=0)
    assert [h["class"] for h in again.hazards() if h["rule"] == "read-write"] == ["unprotected"]


def test_window_between_two_marks(tmp_path):
    """A window can run from one mark to another in the same lane."""
    path = tmp_path / "t.jsonl"
    rules = """
[[window]]
id = "between"
from = { name = "begin", kind = "mark" }
to = { name = "finish", kind = "mark" }
keys = { host = "$host" }

[[window]]
id = "other"
span = "work"
keys = { host = "$host" }

[[hazard]]
id = "marks"
windows = ["between", "other"]
join = ["host"]
"""

    def program(clock):
        def marks():
            clock.now = 1_000_000_000
            tracer.mark("begin")
            clock.now = 1_010_000_000
            tracer.mark("finish")

        def work():
            clock.now = 1_005_000_000
            with tracer.span("work"):
                clock.now = 1_006_000_000

        for target in (marks, work):
            t = threading.Thread(target=target)
            t.start()
            t.join()

    record(path, "h1", program)
    analysis = check([path], rules, tmp_path)
    (hazard,) = analysis.hazards()
    assert hazard["class"] == "unprotected"
    assert analysis.windows["between"].end_ns[0] - analysis.windows["between"].start_ns[0] == 10_000_000


@pytest.mark.parametrize(("sample", "expected", "code"), [
    ("nova-1896463-buggy.jsonl", ["confirmed", "potential"], 1),
    ("nova-1896463-buggy-lucky.jsonl", ["potential"], 1),
    ("nova-1896463-fixed.jsonl", ["serialized"], 0),
    ("nova-1896463-fixed-other-order.jsonl", [], 0),
    ("multi-host-skew", ["confirmed", "potential"], 1),
    ("nova-1896463-buggy.chrome.json", ["confirmed", "potential"], 1),
    ("nova-1896463-buggy.otlp.jsonl", ["confirmed", "potential"], 1),
])
def test_samples_get_the_verdict_the_readme_promises(sample, expected, code):
    """`racelane check` on each committed sample gives the promised classes and exit code."""
    proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "check", "--json", str(SAMPLES / sample)],
                          capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == code, proc.stderr
    doc = orjson.loads(proc.stdout)
    assert sorted(h["class"] for h in doc["hazards"]) == expected
    for hazard in doc["hazards"]:
        assert hazard["explanation"] and hazard["spans"] and hazard["start_ns"] <= hazard["end_ns"]


def test_confirmed_explanation_tells_the_story():
    """The confirmed hazard's explanation names the reads, the unlocked writes and the freed device."""
    result = load([str(SAMPLES / "nova-1896463-buggy.jsonl")])
    analysis = analyze(result.trace, load_rules("nova"))
    (confirmed,) = [h for h in analysis.hazards() if h["class"] == "confirmed"]
    text = confirmed["explanation"]
    for needle in ("read the instance list at +", "host still host1", "without the compute_resources lock",
                   "migration 7 absent", "clean_usage freed 0000:81:00.1"):
        assert needle in text, text


def _analyze_schedule(tmp_path: Path, variant: str, schedule: list[str]) -> list[str]:
    path = tmp_path / f"{variant}-{'-'.join(s[0] for s in schedule)}.jsonl"
    scenario.record(variant, schedule, str(path), with_host1=False)
    result = load([str(path)])
    return [h["class"] for h in analyze(result.trace, load_rules("nova")).hazards()]


def test_every_losing_schedule_is_reported_and_no_fixed_schedule_is(tmp_path):
    """No false negative on any losing buggy schedule; no unprotected hazard on any fixed schedule."""
    buggy = list(scenario.explore_all(nova.BUGGY))
    losing = [o for o in buggy if o.lost]
    assert losing
    for outcome in losing:
        found = _analyze_schedule(tmp_path, nova.BUGGY, outcome.schedule)
        assert "confirmed" in found and "potential" in found, (outcome.schedule, found)
    for outcome in [o for o in buggy if not o.lost][::25]:
        assert "potential" in _analyze_schedule(tmp_path, nova.BUGGY, outcome.schedule)
    for outcome in scenario.explore_all(nova.FIXED):
        found = _analyze_schedule(tmp_path, nova.FIXED, outcome.schedule)
        assert not set(found) & {"confirmed", "unprotected", "potential"}, (outcome.schedule, found)


@pytest.mark.parametrize(("text", "message"), [
    ("[[window]]\nid='a'\n", "give either 'span' or both 'from' and 'to'"),
    ("[[window]]\nid='a'\nspan='x'\n[[hazard]]\nid='h'\nwindows=['a','b']\n", "unknown window 'b'"),
    ("[[window]]\nid='a'\nspan='x'\nkeys={k='nope.x'}\n[[discipline]]\nid='d'\nwindow='a'\nlock='L'\n", "reference 'nope.x'"),
    ("[[window]]\nid='a'\nspan='x'\n", "nothing to check"),
    ("[[window]]\nid='a'\nspan='x'\nbogus=1\n", "unknown keys ['bogus']"),
    ("not = [toml", "not valid TOML"),
])
def test_bad_rule_files_name_file_rule_and_problem(tmp_path, text, message):
    """A malformed rule file raises RuleError naming the file and what is wrong."""
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RuleError) as info:
        load_rules(str(path))
    assert str(path) in str(info.value) and message in str(info.value)


def test_unknown_builtin_rule_set_lists_the_known_ones():
    """An unknown rule-set name lists the built-in ones."""
    with pytest.raises(RuleError, match="built-in: nova"):
        load_rules("nope")


def test_cli_usage_errors_exit_2(tmp_path):
    """Missing files, empty files and bad offsets exit 2 with one sentence."""
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for args, needle in ((["missing.jsonl"], "no such file"), ([str(empty)], "empty"),
                         ([str(SAMPLES / "nova-1896463-buggy.jsonl"), "--offset", "x"], "HOST=MILLISECONDS")):
        proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "check", *args], capture_output=True, text=True,
                              timeout=60, cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fixed", [False, True])
def test_example_rule_for_bug_1879878(tmp_path, fixed):
    """The documented #1879878 rule flags an unlocked confirm between the audit's reads, and not the fixed one."""
    path = tmp_path / "resize.jsonl"
    lock = tracer.traced_lock(threading.Lock(), "compute_resources")

    def audit(clock):
        clock.now = 1_000_000_000
        with tracer.span("rt._update_available_resource", node="n1"), lock:
            with tracer.span("db.InstanceList.get_by_host_and_node"):
                clock.now += 2_000_000
            clock.now += 6_000_000
            with tracer.span("db.MigrationList.get_in_progress_and_error"):
                clock.now += 2_000_000

    def confirm(clock):
        clock.now = 1_003_000_000 if not fixed else 1_011_000_000
        with tracer.span("compute.confirm_resize", instance_uuid="i-1"):
            if fixed:
                lock.acquire()
            with tracer.span("db.Migration.save", status="confirmed", source_node="n1", instance_uuid="i-1"):
                clock.now += 1_000_000
            with tracer.span("rt.drop_move_claim"):
                clock.now += 1_000_000
            if fixed:
                lock.release()

    def program(clock):
        for target in (audit, confirm):
            t = threading.Thread(target=target, args=(clock,))
            t.start()
            t.join()

    record(path, "src", program)
    analysis = analyze(load([str(path)]).trace, load_rules(str(ROOT / "docs/examples/nova-1879878.toml")))
    assert classes(analysis) == ([] if fixed else ["potential", "unprotected"])
