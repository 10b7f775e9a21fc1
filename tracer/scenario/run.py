"""Run the Nova evacuation scenario: one schedule, every schedule, or recorded to a trace.

Two actors run on host2's nova-compute: the evacuation (RPC
``rebuild_instance``) and the periodic audit (``update_available_resource``).
After both finish, the audit runs once more, as the next periodic tick
would; the oracle checks host2's VF after the race and after that audit
(the loss persists in the buggy variant: ``allocate_instance`` has nothing
claimed to allocate).

A schedule is either a list of actor names, one per point where both could
run (what ``explore`` produces and ``--schedule`` replays), or a named
script: a list of ``(actor, label)`` steps, each running that actor until it
yields in the call named ``label`` (empty: until it finishes); when the
scripted actor is blocked on the lock, the other one runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import tracer

from . import nova
from .sched import Choice, Scheduler, explore

EVACUATION = "evacuation"
AUDIT = "audit"

# Named scripts. "bug" is the interleaving of the reference analysis: the
# evacuation runs up to the end of its rebuild, the audit reads the instance
# list (host still host1) and starts the migration read, the evacuation
# finishes (host=host2, context dropped, migration done), the audit's
# migration read returns without migration 7.
SCRIPTS: dict[str, list[tuple[str, str]]] = {
    "bug": [(EVACUATION, "driver.rebuild"), (AUDIT, "MigrationList.get_in_progress_and_error"), (EVACUATION, ""), (AUDIT, "")],
    "evacuation-first": [(EVACUATION, ""), (AUDIT, "")],
    "audit-first": [(AUDIT, ""), (EVACUATION, "")],
}

# Logical clocks of the two processes and their wall-clock anchor
# (2026-09-24 10:00:00 UTC): fixed, so every run writes the same bytes.
WALL_EPOCH_NS = 1_790_244_000_000_000_000
HOST2_MONOTONIC_NS = 8_000_000_000_000
HOST1_MONOTONIC_NS = 5_000_000_000_000
HOST1_LEAD_NS = 250_000_000  # host1's last audit ran this long before the evacuation


@dataclass
class Outcome:
    """What one schedule did."""

    variant: str
    schedule: list[str]
    lost_after_race: bool
    lost_after_next_audit: bool
    events: list[tuple[int, str, Any]] = field(default_factory=list)

    @property
    def lost(self) -> bool:
        return self.lost_after_race

    def order(self, event: str) -> int:
        """Position of the first event named ``event`` (-1 when it did not happen)."""
        for seq, name, _ in self.events:
            if name == event:
                return seq
        return -1


class _ScriptedScheduler(Scheduler):
    """Follow a named script instead of a list of choices."""

    def __init__(self, script: Sequence[tuple[str, str]], start_ns: int) -> None:
        super().__init__((), start_ns)
        self.script = list(script)
        self.step = 0

    def _choose(self, ready: list[Any]) -> Any:
        # Skip steps whose actor has finished (a "run until done" step is over).
        while self.step < len(self.script) and any(
            a.name == self.script[self.step][0] and a.state == "done" for a in self.actors
        ):
            self.step += 1
        wanted = self.script[self.step][0] if self.step < len(self.script) else None
        match = [a for a in ready if a.name == wanted]
        actor = match[0] if match else ready[0]  # the scripted actor is blocked: let the other run
        self.choices.append(Choice(actor.name, tuple(a.name for a in ready)))
        return actor

    def checkpoint(self, label: str, duration_ns: int) -> None:
        actor = self._running()
        if self.step < len(self.script) and self.script[self.step] == (actor.name, label):
            self.step += 1
        super().checkpoint(label, duration_ns)


def _scheduler(schedule: str | Sequence[str], start_ns: int) -> Scheduler:
    if isinstance(schedule, str):
        if schedule not in SCRIPTS:
            raise KeyError(f"unknown schedule {schedule!r}; named schedules: {', '.join(SCRIPTS)}")
        return _ScriptedScheduler(SCRIPTS[schedule], start_ns)
    return Scheduler(schedule, start_ns)


def run_once(variant: str, schedule: str | Sequence[str] = (), recording: Callable[[Scheduler], Any] | None = None) -> Outcome:
    """Run the scenario once on host2 following ``schedule``; record it if ``recording`` is given."""
    return _execute(_scheduler(schedule, HOST2_MONOTONIC_NS), variant, recording)


def explore_all(variant: str) -> Iterator[Outcome]:
    """Yield the outcome of every distinct schedule of ``variant``, depth-first."""
    outcomes: list[Outcome] = []

    def once(prefix: Sequence[str]) -> tuple[list[Choice], Outcome]:
        sched = Scheduler(prefix, HOST2_MONOTONIC_NS)
        outcome = _execute(sched, variant)
        outcomes.append(outcome)
        return sched.choices, outcome

    for _, outcome in explore(once):
        yield outcome


def _execute(sched: Scheduler, variant: str, recording: Callable[[Scheduler], Any] | None = None) -> Outcome:
    setup = nova.build(sched, variant)
    world = setup.world
    result: dict[str, bool] = {}

    def evacuation() -> None:
        setup.manager.rebuild_instance(setup.instance, setup.migration, nova.DEST[1])

    def periodic() -> None:
        setup.rt.update_available_resource(nova.DEST[1])
        sched.join(evacuation_actor)  # the oracle looks once both are over
        result["lost_after_race"] = nova.allocation_lost(world)
        # The next periodic tick, on the same periodic greenthread.
        sched.checkpoint("periodic_interval", nova.DURATION_NS["periodic_interval"])
        setup.rt.update_available_resource(nova.DEST[1])

    evacuation_actor = sched.spawn(EVACUATION, f"rpc rebuild_instance {nova.INSTANCE_UUID[:8]}", evacuation)
    sched.spawn(AUDIT, "periodic update_available_resource", periodic, delay_ns=1_000_000)
    rec = recording(sched) if recording is not None else None
    try:
        choices = sched.run()
    finally:
        if rec is not None:
            rec.stop()
    return Outcome(variant, [c.chosen for c in choices], result["lost_after_race"], nova.allocation_lost(world), world.events)


# --- recording ----------------------------------------------------------------
def _header(host: str, pid: int, monotonic_ns: int, wall_ns: int, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "pid": pid,
        "argv": ["/usr/bin/nova-compute", "--config-file", "/etc/nova/nova.conf"],
        "clock": {"monotonic_ns": monotonic_ns, "wall_ns": wall_ns, "source": "custom"},
        "concurrency": "eventlet",
        "python": "3.11",
        "tracer": "racelane scenario",
        "scenario": extra,
        "host": host,
    }


def recorder_for(path: str, host: str, pid: int, monotonic_ns: int, wall_ns: int, extra: dict[str, Any], id_start: int) -> Callable[[Scheduler], Any]:
    """Return a function that starts recording the scheduler's actors into ``path``."""

    def start(sched: Scheduler) -> Any:
        return tracer.start(
            path, clock=sched.clock, host=host, process="nova-compute", handle_sigterm=False,
            flush_interval_s=3600, max_buffered=1_000_000, id_start=id_start,
            extra_header=_header(host, pid, monotonic_ns, wall_ns, extra),
        )

    return start


def record_host1(path: str, skew_ns: int = 0) -> None:
    """Record host1's nova-compute before it went down: its last audit still owns X's VF."""
    start_ns = HOST1_MONOTONIC_NS
    sched = Scheduler((), start_ns)
    world = nova.World(sched, nova.BUGGY)
    db = world.db
    db.instances[nova.INSTANCE_UUID] = {"uuid": nova.INSTANCE_UUID, "host": nova.SOURCE[0], "node": nova.SOURCE[1],
                                        "vm_state": "active", "task_state": None}
    db.instance_extra[nova.INSTANCE_UUID] = {"migration_context": None}
    vf = nova.PciDevice(nova.VF_ADDRESS, nova.PF_ADDRESS, compute_node_id=1)
    vf.allocate(nova.INSTANCE_UUID)
    pci = nova.PciDevTracker(world, nova.SOURCE[0], [vf])
    pci.allocations[nova.INSTANCE_UUID] = [vf]
    rt = nova.ResourceTracker(world, nova.SOURCE[0], nova.SOURCE[1], pci)
    rt.tracked_instances = {nova.INSTANCE_UUID}

    def audit() -> None:
        rt.update_available_resource(nova.SOURCE[1])
        tracer.mark("service.down", cat="service", host=nova.SOURCE[0], reason="host failure; compute service forced down")

    sched.spawn("audit", "periodic update_available_resource", audit)
    wall = WALL_EPOCH_NS - HOST1_LEAD_NS + skew_ns
    rec = recorder_for(path, nova.SOURCE[0], 3117, start_ns, wall, {"name": "nova-1896463", "role": "evacuation source, down"},
                       id_start=0x1000_0000_0000)(sched)
    try:
        sched.run()
    finally:
        rec.stop()


def record(variant: str, schedule: str | Sequence[str], path: str, with_host1: bool = True, host1_path: str | None = None,
           host1_skew_ns: int = 0) -> Outcome:
    """Record one schedule of the scenario into ``path`` (host1's part first, when asked)."""
    if os.path.exists(path):
        os.remove(path)
    if with_host1:
        target = host1_path or path
        if host1_path and os.path.exists(host1_path):
            os.remove(host1_path)
        record_host1(target, host1_skew_ns)
    name = schedule if isinstance(schedule, str) else ",".join(schedule)
    extra = {"name": "nova-1896463", "variant": variant, "schedule": name}
    rec = recorder_for(path, nova.DEST[0], 4242, HOST2_MONOTONIC_NS, WALL_EPOCH_NS, extra, id_start=0x2000_0000_0000)
    return run_once(variant, schedule, rec)
