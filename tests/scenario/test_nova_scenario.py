"""The deterministic Nova evacuation scenario: the race, the fix, every interleaving."""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tracer.record.format import iter_rows
from tracer.scenario import nova, samples
from tracer.scenario import run as scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def explored():
    return {variant: list(scenario.explore_all(variant)) for variant in nova.VARIANTS}


def test_buggy_variant_has_losing_schedules_and_fixed_has_none(explored):
    """Exploring every interleaving: buggy loses the VF in some schedules, fixed in none."""
    buggy, fixed = explored[nova.BUGGY], explored[nova.FIXED]
    assert len(buggy) > 100 and len(fixed) > 10
    assert sum(o.lost for o in buggy) > 0
    assert not any(o.lost or o.lost_after_next_audit for o in fixed)


def test_schedules_are_distinct_and_complete(explored):
    """Every explored schedule is different, and replaying one reproduces its outcome."""
    for variant, outcomes in explored.items():
        schedules = [tuple(o.schedule) for o in outcomes]
        assert len(set(schedules)) == len(schedules)
        for outcome in outcomes[:: max(1, len(outcomes) // 20)]:
            again = scenario.run_once(variant, outcome.schedule)
            assert (again.schedule, again.lost) == (outcome.schedule, outcome.lost)


def test_every_loss_is_the_straddle(explored):
    """A schedule loses exactly when the instance read precedes the host write and the migration read follows `done`."""
    for outcome in explored[nova.BUGGY]:
        read_instances = outcome.order("read instances")
        write_host = outcome.order("write instance.host")
        write_done = outcome.order("write migration.status=done")
        read_migrations = outcome.order("read migrations")
        straddle = read_instances < write_host and write_done < read_migrations
        assert outcome.lost == straddle, outcome.schedule


def test_the_loss_persists_after_the_next_audit(explored):
    """In the buggy variant the next audit does not re-allocate the freed VF."""
    losing = [o for o in explored[nova.BUGGY] if o.lost]
    assert losing and all(o.lost_after_next_audit for o in losing)


def test_named_bug_schedule_loses_only_in_the_buggy_variant():
    """The canonical script frees the VF in the buggy variant and not in the fixed one."""
    assert scenario.run_once(nova.BUGGY, "bug").lost
    fixed = scenario.run_once(nova.FIXED, "bug")
    assert not fixed.lost
    # Same script on the fixed variant: the audit's migration read still sees migration 7.
    assert fixed.order("read migrations") < fixed.order("write instance.host")


def test_fixed_variant_waits_for_the_lock_on_the_bug_schedule(tmp_path):
    """With the fix, the evacuation's finish waits for compute_resources while the audit holds it."""
    path = tmp_path / "fixed.jsonl"
    scenario.record(nova.FIXED, "bug", str(path), with_host1=False)
    rows = [row for line in path.read_bytes().splitlines() for row in iter_rows(orjson.loads(line))]
    finish = next(r for r in rows if r["name"] == "compute.finish_evacuation")
    waits = [r for r in rows if r["name"] == "lock.wait compute_resources" and r["lane"] == finish["lane"]
             and finish["start_ns"] <= r["start_ns"] <= finish["end_ns"]]
    assert waits and waits[0]["end_ns"] - waits[0]["start_ns"] >= 1_000_000


def test_recorded_trace_has_nova_profile_names_and_both_processes(tmp_path):
    """The trace holds host1's and host2's processes with the span names of the nova profile."""
    path = tmp_path / "buggy.jsonl"
    outcome = scenario.record(nova.BUGGY, "bug", str(path))
    assert outcome.lost
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    headers = [r for r in records if r["type"] == "header"]
    assert [h["host"] for h in headers] == ["host1", "host2"]
    names = {row["name"] for r in records for row in iter_rows(r)}
    assert {"rt._update_available_resource", "db.InstanceList.get_by_host_and_node", "db.Instance.save",
            "db.Migration.save", "db.MigrationList.get_in_progress_and_error", "pci.clean_usage", "pci.free_device",
            "lock.held compute_resources", "compute.rebuild_instance"} <= names
    lanes = {r["name"] for r in records if r["type"] == "lane"}
    assert "periodic update_available_resource" in lanes
    assert any(name.startswith("rpc rebuild_instance") for name in lanes)


def test_samples_are_deterministic_and_committed_as_generated():
    """`make samples` writes exactly the committed files."""
    fresh = samples.regenerate_to_temp()
    committed = ROOT / "sample_traces"
    fresh_files = sorted(p for p in Path(fresh).rglob("*") if p.is_file())
    assert {p.name for p in fresh_files} >= {"nova-1896463-buggy.chrome.json", "nova-1896463-buggy.otlp.jsonl"}
    for path in fresh_files:
        twin = committed / path.relative_to(fresh)
        assert twin.exists(), f"{twin} is not committed: run `make samples`"
        assert filecmp.cmp(path, twin, shallow=False), f"{twin} differs from what `make samples` writes"


def test_cli_explore_and_schedule(tmp_path):
    """`racelane scenario nova-evacuation` explores, replays and rejects a bad schedule."""
    cmd = [sys.executable, "-m", "tracer.cli.main", "scenario", "nova-evacuation"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([*cmd, "--variant", "fixed", "--explore"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and " 0 lose the PCI allocation" in out.stdout
    trace = tmp_path / "first.jsonl"
    out = subprocess.run([*cmd, "--variant", "buggy", "--explore", "-o", str(trace)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0 and "first losing schedule:" in out.stdout and trace.exists()
    out = subprocess.run([*cmd, "--schedule", "audit,audit,audit,audit,audit,audit,audit,audit,audit"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "only 4 points" in out.stderr
    out = subprocess.run([*cmd, "--schedule", "nope"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "unknown schedule 'nope'" in out.stderr


def test_live_mode_records_concurrent_threads_progressively(tmp_path):
    """The real-time mode runs real threads and writes audit and evacuation lanes as it goes."""
    from tracer.scenario import live

    path = tmp_path / "live.jsonl"
    summary = live.run(str(path), duration_s=3.0)
    assert summary.audits >= 2 and summary.evacuations >= 1
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    lanes = {r["name"] for r in records if r["type"] == "lane"}
    assert "periodic update_available_resource" in lanes
    assert any(name.startswith("rpc rebuild_instance") for name in lanes)
    assert records[-1]["type"] == "end"
