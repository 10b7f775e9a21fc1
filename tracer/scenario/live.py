"""The Nova evacuation scenario on real threads, in real time, recorded as it runs.

The periodic audit runs every second on its own thread; evacuations of
several instances start one after another, each on its own thread, as RPC
calls would. Database calls sleep for a jittered, realistic time (the
conductor is slow under load), so the audit's two reads and an evacuation's
finish overlap only sometimes: this shows racelane on truly concurrent code,
with the trace written progressively for the live viewer to follow.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import tracer

from . import nova

# Real-time durations (s): a loaded conductor makes the audit's reads slow.
LIVE_DURATION_S = {
    "InstanceList.get_by_host_and_node": (0.015, 0.040),
    "MigrationList.get_in_progress_and_error": (0.030, 0.090),
    "Instance.save": (0.004, 0.012),
    "Instance.drop_migration_context": (0.003, 0.008),
    "Migration.save": (0.004, 0.010),
    "PciDevTracker.save": (0.003, 0.008),
    "network.setup_instance_network_on_host": (0.050, 0.150),
    "driver.rebuild": (0.300, 0.900),
    "periodic_interval": (1.0, 1.0),
}


class RealTimeLock:
    """A fair (FIFO) lock for real threads, like oslo's fair lock."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[object] = deque()
        self._owner: object | None = None

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        me = object()
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        with self._cond:
            if not blocking and (self._owner is not None or self._queue):
                return False
            self._queue.append(me)
            while self._owner is not None or self._queue[0] is not me:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._queue.remove(me)
                    self._cond.notify_all()
                    return False
                self._cond.wait(remaining)
            self._queue.popleft()
            self._owner = me
            return True

    def release(self) -> None:
        with self._cond:
            self._owner = None
            self._cond.notify_all()


class RealTime:
    """The scheduler interface of ``sched.Scheduler``, on real threads and real time."""

    def __init__(self, seed: int = 1896463) -> None:
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()

    def checkpoint(self, label: str, duration_ns: int) -> None:
        low, high = LIVE_DURATION_S.get(label, (duration_ns / 1e9, duration_ns / 1e9))
        with self._random_lock:
            pause = self._random.uniform(low, high)
        time.sleep(pause)

    def work(self, duration_ns: int) -> None:
        time.sleep(duration_ns / 1e9)

    def make_lock(self) -> RealTimeLock:
        return RealTimeLock()

    def uniform(self, low: float, high: float) -> float:
        with self._random_lock:
            return self._random.uniform(low, high)


@dataclass
class LiveSummary:
    """What a real-time run did."""

    path: str
    duration_s: float
    variant: str
    audits: int = 0
    evacuations: int = 0
    lost: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"{self.variant}, {self.duration_s:.0f} s in real time: {self.audits} audits, {self.evacuations} evacuations, "
                f"{len(self.lost)} PCI allocations lost -> {self.path}")


def run(path: str, duration_s: float = 10.0, variant: str = nova.BUGGY, seed: int = 1896463) -> LiveSummary:
    """Run audits and evacuations on real threads for ``duration_s``, recording into ``path``."""
    clock = RealTime(seed)
    world = nova.World(clock, variant)
    summary = LiveSummary(path, duration_s, variant)
    instances: list[tuple[str, str, int]] = []
    pci = nova.PciDevTracker(world, nova.DEST[0], [])
    rt = nova.ResourceTracker(world, nova.DEST[0], nova.DEST[1], pci)
    manager = nova.ComputeManager(world, nova.DEST[0], rt)
    stop = threading.Event()
    recording = tracer.start(path, host=nova.DEST[0], process="nova-compute", handle_sigterm=False,
                             extra_header={"scenario": {"name": "nova-1896463", "variant": variant, "mode": "live"}})

    def add_instance(k: int) -> tuple[str, str, int]:
        uuid = f"{k:08x}-7c1e-4b39-9a0e-3d6b1c2f4e71"
        address = f"0000:81:{k // 8:02x}.{k % 8}"
        mid = 100 + k
        db = world.db
        db.instances[uuid] = {"uuid": uuid, "host": nova.SOURCE[0], "node": nova.SOURCE[1], "vm_state": "active",
                              "task_state": "rebuilding"}
        db.instance_extra[uuid] = {"migration_context": None}
        db.migrations[mid] = {"id": mid, "uuid": f"{mid:08x}-1b7d-4e58-8f46-0a2d9b7c5e13", "instance_uuid": uuid,
                              "source_compute": nova.SOURCE[0], "source_node": nova.SOURCE[1], "dest_compute": None,
                              "dest_node": None, "status": "accepted", "migration_type": "evacuation"}
        dev = nova.PciDevice(address, "0000:81:00.0", compute_node_id=2)
        pci.pci_devs.append(dev)
        db.pci_devices[(nova.DEST[0], address)] = {"address": address, "status": "available", "instance_uuid": None,
                                                   "compute_node_id": 2}
        return uuid, address, mid

    def audits() -> None:
        while not stop.is_set():
            rt.update_available_resource(nova.DEST[1])
            summary.audits += 1
            stop.wait(1.0)

    def evacuate(uuid: str, mid: int) -> None:
        instance = nova.Instance(world, **world.db.instances[uuid], migration_context=None)
        instance._changed.clear()
        migration = nova.Migration(world, **world.db.migrations[mid])
        migration._changed.clear()
        manager.rebuild_instance(instance, migration, nova.DEST[1])

    threads: list[threading.Thread] = []
    try:
        auditor = threading.Thread(target=audits, name="periodic update_available_resource", daemon=True)
        auditor.start()
        deadline = time.monotonic() + duration_s
        k = 0
        while time.monotonic() < deadline - 1.5:
            k += 1
            uuid, _, mid = add_instance(k)
            instances.append((uuid, _, mid))
            t = threading.Thread(target=evacuate, args=(uuid, mid), name=f"rpc rebuild_instance {uuid[:8]}", daemon=True)
            t.start()
            threads.append(t)
            summary.evacuations += 1
            time.sleep(clock.uniform(0.4, 1.2))
        for t in threads:
            t.join(timeout=5)
        time.sleep(max(0.0, deadline - time.monotonic()))
        stop.set()
        auditor.join(timeout=5)
    finally:
        stop.set()
        recording.stop()
    for uuid, address, _ in instances:
        row = world.db.pci_devices[(nova.DEST[0], address)]
        if not (row["status"] == "allocated" and row["instance_uuid"] == uuid):
            summary.lost.append(uuid)
    return summary


def frequency(runs: int, duration_s: float = 10.0) -> list[Any]:
    """Run the live scenario ``runs`` times (for measuring how often the race hits)."""
    import os
    import tempfile

    results = []
    for n in range(runs):
        path = os.path.join(tempfile.mkdtemp(prefix="racelane-live-"), "live.jsonl")
        results.append(run(path, duration_s, seed=n))
    return results
