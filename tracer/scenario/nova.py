"""A faithful, small model of Nova bug 1896463, under Nova's own names.

On the destination host of an evacuation, the resource tracker's periodic
audit (``ResourceTracker._update_available_resource``) reads the instance list
and then the in-progress migration list under the ``compute_resources`` lock.
Before the fix, ``ComputeManager.rebuild_instance`` finishes the evacuation
*outside* that lock: it sets ``instance.host``, drops the migration context and
marks the migration ``done``. When the audit's two reads straddle those writes,
the instance is in neither list and ``PciDevTracker.clean_usage`` frees its PCI
device. The fix (``ResourceTracker.finish_evacuation``) makes the same writes
under the lock.

The model keeps what the race needs and nothing else: a database whose reads
are snapshots taken when the call returns, the PCI tracker's claims and
allocations, the lock, and the order of the steps in Nova's code. Every step
records the spans the ``nova`` profile records from real Nova, with the same
names and attributes, so one rule set serves both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import tracer

from .sched import Scheduler

COMPUTE_RESOURCE_SEMAPHORE = "compute_resources"
# MigrationList.get_in_progress_and_error drops these (nova/db/main/api.py).
FINISHED_STATUSES = frozenset({"confirmed", "reverted", "failed", "completed", "cancelled", "done"})

BUGGY = "buggy"
FIXED = "fixed"
VARIANTS = (BUGGY, FIXED)

INSTANCE_UUID = "5f8d2a64-7c1e-4b39-9a0e-3d6b1c2f4e71"
MIGRATION_ID = 7
MIGRATION_UUID = "c3a9e0f2-1b7d-4e58-8f46-0a2d9b7c5e13"
VF_ADDRESS = "0000:81:00.1"
PF_ADDRESS = "0000:81:00.0"
SOURCE, DEST = ("host1", "node1"), ("host2", "node2")

MS = 1_000_000
# How long each call takes on the logical clock (ns): realistic orders of magnitude.
DURATION_NS = {
    "InstanceList.get_by_host_and_node": 2_200_000,
    "MigrationList.get_in_progress_and_error": 2_600_000,
    "Instance.save": 1_400_000,
    "Instance.drop_migration_context": 900_000,
    "Migration.save": 1_100_000,
    "PciDevTracker.save": 800_000,
    "network.setup_instance_network_on_host": 6 * MS,
    "driver.rebuild": 40 * MS,
    "periodic_interval": 60 * MS,
}


class Database:
    """Nova's tables, reduced to the columns the race touches."""

    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.instance_extra: dict[str, dict[str, Any]] = {}
        self.migrations: dict[int, dict[str, Any]] = {}
        self.pci_devices: dict[tuple[str, str], dict[str, Any]] = {}


@dataclass
class World:
    """Everything the actors share: the scheduler, the database and the event log."""

    scheduler: Any  # sched.Scheduler, or live.RealTime for the real-time mode
    variant: str
    db: Database = field(default_factory=Database)
    events: list[tuple[int, str, Any]] = field(default_factory=list)

    def call(self, what: str) -> None:
        """A conductor/database round trip: the point where eventlet may switch."""
        self.scheduler.checkpoint(what, DURATION_NS[what])

    def log(self, event: str, detail: Any = None) -> None:
        self.events.append((len(self.events), event, detail))  # list.append: atomic across threads


@dataclass
class MigrationContext:
    migration_id: int
    new_pci_devices: list[str]
    old_pci_devices: list[str]


class Instance:
    """``nova.objects.instance.Instance``: fields, change tracking, remotable saves."""

    fields = ("uuid", "host", "node", "vm_state", "task_state", "migration_context")
    uuid: str
    host: str | None
    node: str | None
    vm_state: str | None
    task_state: str | None
    migration_context: MigrationContext | None
    _world: World
    _changed: set[str]

    def __init__(self, world: World, **values: Any) -> None:
        object.__setattr__(self, "_world", world)
        object.__setattr__(self, "_changed", set())
        for name in self.fields:
            object.__setattr__(self, name, values.get(name))

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in self.fields:
            self._changed.add(name)

    def obj_what_changed(self) -> set[str]:
        return set(self._changed)

    def save(self) -> None:
        changed = sorted(self._changed)
        with tracer.span("db.Instance.save", cat="db", instance_uuid=self.uuid, host=self.host, node=self.node,
                         task_state=self.task_state, vm_state=self.vm_state, changed=changed):
            self._world.call("Instance.save")
            row = self._world.db.instances[self.uuid]
            for name in changed:
                if name == "migration_context":
                    self._world.db.instance_extra[self.uuid]["migration_context"] = copy.deepcopy(self.migration_context)
                else:
                    row[name] = getattr(self, name)
            if "host" in changed:
                self._world.log("write instance.host", self.host)
            self._changed.clear()

    def apply_migration_context(self) -> None:
        ctx = self.migration_context
        with tracer.span("obj.Instance.apply_migration_context", cat="evacuation", instance_uuid=self.uuid,
                         migration_id=ctx.migration_id if ctx else None):
            self._world.scheduler.work(50_000)  # pci_devices, numa_topology, resources <- new_*

    def drop_migration_context(self) -> None:
        ctx = self.migration_context
        with tracer.span("db.Instance.drop_migration_context", cat="db", instance_uuid=self.uuid,
                         migration_id=ctx.migration_id if ctx else None):
            self._world.call("Instance.drop_migration_context")
            self._world.db.instance_extra[self.uuid]["migration_context"] = None
            object.__setattr__(self, "migration_context", None)


class Migration:
    """``nova.objects.migration.Migration``."""

    fields = ("id", "uuid", "instance_uuid", "source_compute", "source_node", "dest_compute", "dest_node",
              "status", "migration_type")
    id: int
    uuid: str
    instance_uuid: str
    source_compute: str | None
    source_node: str | None
    dest_compute: str | None
    dest_node: str | None
    status: str
    migration_type: str
    _world: World
    _changed: set[str]

    def __init__(self, world: World, **values: Any) -> None:
        object.__setattr__(self, "_world", world)
        object.__setattr__(self, "_changed", set())
        for name in self.fields:
            object.__setattr__(self, name, values.get(name))

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name in self.fields:
            self._changed.add(name)

    def save(self) -> None:
        changed = sorted(self._changed)
        with tracer.span("db.Migration.save", cat="db", migration_id=self.id, migration_uuid=self.uuid,
                         instance_uuid=self.instance_uuid, status=self.status, migration_type=self.migration_type,
                         source_compute=self.source_compute, source_node=self.source_node,
                         dest_compute=self.dest_compute, dest_node=self.dest_node, changed=changed):
            self._world.call("Migration.save")
            row = self._world.db.migrations[self.id]
            for name in changed:
                row[name] = getattr(self, name)
            if "status" in changed:
                self._world.log(f"write migration.status={self.status}", self.id)
            self._changed.clear()


def get_instances_by_host_and_node(world: World, host: str, node: str) -> list[Instance]:
    """``InstanceList.get_by_host_and_node``: a snapshot taken when the call returns."""
    with tracer.span("db.InstanceList.get_by_host_and_node", cat="db", host=host, node=node) as span:
        world.call("InstanceList.get_by_host_and_node")
        rows = [r for r in world.db.instances.values() if r["host"] == host and r["node"] == node]
        found = [Instance(world, **r, migration_context=world.db.instance_extra[r["uuid"]]["migration_context"]) for r in rows]
        for inst in found:
            inst._changed.clear()
        span.set("result_uuids", [i.uuid for i in found])
        span.set("count", len(found))
        world.log("read instances", [i.uuid for i in found])
        return found


def get_migrations_in_progress_and_error(world: World, host: str, node: str) -> list[Migration]:
    """``MigrationList.get_in_progress_and_error``: source or destination here, not finished."""
    with tracer.span("db.MigrationList.get_in_progress_and_error", cat="db", host=host, node=node) as span:
        world.call("MigrationList.get_in_progress_and_error")
        rows = [
            r for r in world.db.migrations.values()
            if ((r["source_compute"], r["source_node"]) == (host, node) or (r["dest_compute"], r["dest_node"]) == (host, node))
            and r["status"] not in FINISHED_STATUSES
        ]
        found = [Migration(world, **r) for r in rows]
        for mig in found:
            mig._changed.clear()
        span.set("migration_ids", [m.id for m in found])
        span.set("instance_uuids", [m.instance_uuid for m in found])
        span.set("statuses", [m.status for m in found])
        span.set("types", [m.migration_type for m in found])
        span.set("count", len(found))
        world.log("read migrations", [m.id for m in found])
        return found


class PciDevice:
    """``nova.objects.pci_device.PciDevice``: available -> claimed -> allocated -> available."""

    def __init__(self, address: str, parent_addr: str, compute_node_id: int) -> None:
        self.address = address
        self.parent_addr = parent_addr
        self.compute_node_id = compute_node_id
        self.status = "available"
        self.instance_uuid: str | None = None

    def claim(self, instance_uuid: str) -> None:
        self.status, self.instance_uuid = "claimed", instance_uuid

    def allocate(self, instance_uuid: str) -> None:
        self.status, self.instance_uuid = "allocated", instance_uuid

    def free(self) -> None:
        self.status, self.instance_uuid = "available", None


class PciDevTracker:
    """``nova.pci.manager.PciDevTracker`` of one host, in memory, saved to the database."""

    def __init__(self, world: World, host: str, devices: Iterable[PciDevice]) -> None:
        self.world = world
        self.host = host
        self.pci_devs = list(devices)
        self.claims: dict[str, list[PciDevice]] = {}
        self.allocations: dict[str, list[PciDevice]] = {}

    def claim_instance(self, instance_uuid: str) -> list[PciDevice]:
        devs = [d for d in self.pci_devs if d.status == "available"][:1]
        for dev in devs:
            dev.claim(instance_uuid)
        if devs:
            self.claims[instance_uuid] = devs
        tracer.mark("pci.claim_instance", cat="pci", instance_uuid=instance_uuid,
                    addresses=[d.address for d in devs], statuses=[d.status for d in devs])
        return devs

    def allocate_instance(self, instance_uuid: str) -> None:
        """Move the instance's claims to allocations; nothing claimed, nothing allocated."""
        claimed = sorted(self.claims)
        for dev in self.claims.pop(instance_uuid, []):
            dev.allocate(instance_uuid)
            self.allocations.setdefault(instance_uuid, []).append(dev)
        tracer.mark("pci.allocate_instance", cat="pci", instance_uuid=instance_uuid, claimed=claimed,
                    allocated=sorted(self.allocations))

    def clean_usage(self, instances: list[Instance], migrations: list[Migration]) -> None:
        """Free claims and allocations of instances that are in neither list (leftovers)."""
        with tracer.span("pci.clean_usage", cat="pci", instance_uuids=[i.uuid for i in instances],
                         migration_instance_uuids=[m.instance_uuid for m in migrations],
                         claims_before=sorted(self.claims), allocations_before=sorted(self.allocations)) as span:
            existed = {i.uuid for i in instances} | {m.instance_uuid for m in migrations}
            for table in (self.claims, self.allocations):
                for uuid in list(table):
                    if uuid not in existed:
                        for dev in table.pop(uuid):
                            self._free_device(dev)
            self.world.scheduler.work(100_000)
            span.set("claims_after", sorted(self.claims))
            span.set("allocations_after", sorted(self.allocations))

    def _free_device(self, dev: PciDevice) -> None:
        old_status, old_uuid = dev.status, dev.instance_uuid
        dev.free()
        tracer.mark("pci.free_device", cat="pci", address=dev.address, parent_addr=dev.parent_addr,
                    old_status=old_status, old_instance_uuid=old_uuid, compute_node_id=dev.compute_node_id,
                    status=dev.status)
        self.world.log("free device", (dev.address, old_uuid))

    def save(self) -> None:
        with tracer.span("db.pci_tracker.save", cat="db", addresses=[d.address for d in self.pci_devs],
                         statuses=[d.status for d in self.pci_devs],
                         instance_uuids=[d.instance_uuid for d in self.pci_devs]):
            self.world.call("PciDevTracker.save")
            for dev in self.pci_devs:
                self.world.db.pci_devices[(self.host, dev.address)] = {
                    "address": dev.address, "status": dev.status, "instance_uuid": dev.instance_uuid,
                    "compute_node_id": dev.compute_node_id,
                }


class ResourceTracker:
    """``nova.compute.resource_tracker.ResourceTracker`` of one compute host."""

    def __init__(self, world: World, host: str, node: str, pci_tracker: PciDevTracker) -> None:
        self.world = world
        self.host = host
        self.node = node
        self.pci_tracker = pci_tracker
        # utils.synchronized(COMPUTE_RESOURCE_SEMAPHORE, fair=True): one FIFO lock per process.
        self.lock = tracer.traced_lock(world.scheduler.make_lock(), COMPUTE_RESOURCE_SEMAPHORE)
        self.tracked_instances: set[str] = set()
        self.tracked_migrations: dict[str, Migration] = {}

    def update_available_resource(self, nodename: str, startup: bool = False) -> None:
        with tracer.span("rt.update_available_resource", cat="audit", host=self.host, node=nodename, startup=startup):
            self.world.scheduler.work(300_000)  # driver.get_available_resource
            self._update_available_resource({"hypervisor_hostname": nodename}, startup)

    def _update_available_resource(self, resources: dict[str, Any], startup: bool = False) -> None:
        nodename = resources["hypervisor_hostname"]
        with tracer.span("rt._update_available_resource", cat="audit", host=self.host, node=nodename, startup=startup), self.lock:
            self.world.scheduler.work(100_000)  # _init_compute_node
            instances = get_instances_by_host_and_node(self.world, self.host, nodename)
            self._update_usage_from_instances(instances, nodename)
            migrations = get_migrations_in_progress_and_error(self.world, self.host, nodename)
            self._update_usage_from_migrations(migrations, nodename)
            self.pci_tracker.clean_usage(instances, migrations)
            self._update()

    def _update_usage_from_instances(self, instances: list[Instance], nodename: str) -> None:
        with tracer.span("rt.update_usage_from_instances", cat="audit", host=self.host, node=nodename,
                         instance_uuids=[i.uuid for i in instances]) as span:
            seen = self.tracked_instances
            self.tracked_instances = {i.uuid for i in instances}
            for inst in instances:
                if inst.uuid not in seen:  # new to this tracker: update_pci_for_instance(sign=1)
                    self.pci_tracker.allocate_instance(inst.uuid)
            self.world.scheduler.work(200_000)
            span.set("tracked_instances", sorted(self.tracked_instances))

    def _update_usage_from_migrations(self, migrations: list[Migration], nodename: str) -> None:
        with tracer.span("rt.update_usage_from_migrations", cat="audit", host=self.host, node=nodename,
                         migration_ids=[m.id for m in migrations],
                         instance_uuids=[m.instance_uuid for m in migrations]) as span:
            self.tracked_migrations.clear()
            for mig in migrations:
                incoming = mig.dest_compute == self.host
                if incoming and mig.instance_uuid not in self.tracked_instances:
                    self.tracked_migrations[mig.instance_uuid] = mig
                    self.pci_tracker.allocate_instance(mig.instance_uuid)
            self.world.scheduler.work(100_000)
            span.set("tracked_migrations", sorted(self.tracked_migrations))

    def _update(self) -> None:
        with tracer.span("rt._update", cat="db", host=self.host, node=self.node):
            self.pci_tracker.save()

    def rebuild_claim(self, instance: Instance, nodename: str, migration: Migration) -> None:
        with tracer.span("rt.rebuild_claim", cat="evacuation", host=self.host, node=nodename,
                         instance_uuid=instance.uuid, migration_id=migration.id), self.lock:
            # _move_claim -> _claim_existing_migration
            migration.dest_compute = self.host
            migration.dest_node = nodename
            migration.status = "pre-migrating"
            migration.save()
            claimed = self.pci_tracker.claim_instance(instance.uuid)
            instance.migration_context = MigrationContext(migration.id, [d.address for d in claimed], [])
            instance.save()
            # _update_usage_from_migration: incoming and not tracked yet, sign=1
            self.tracked_migrations[instance.uuid] = migration
            self.pci_tracker.allocate_instance(instance.uuid)
            self._update()

    def finish_evacuation(self, instance: Instance, node: str, migration: Migration) -> None:
        """The fix (Nova 23.0.0): set host and drop the migration under the lock."""
        with tracer.span("compute.finish_evacuation", cat="evacuation", host=self.host, node=node,
                         instance_uuid=instance.uuid, migration_id=migration.id), self.lock:
            instance.apply_migration_context()
            instance.host = self.host
            instance.node = node
            instance.save()
            instance.drop_migration_context()
            migration.status = "done"
            migration.save()


class ComputeManager:
    """``nova.compute.manager.ComputeManager`` on the evacuation's destination."""

    def __init__(self, world: World, host: str, rt: ResourceTracker) -> None:
        self.world = world
        self.host = host
        self.rt = rt

    def rebuild_instance(self, instance: Instance, migration: Migration, scheduled_node: str) -> None:
        with tracer.span("compute.rebuild_instance", cat="evacuation", instance_uuid=instance.uuid, evacuate=True,
                         migration_id=migration.id, migration_uuid=migration.uuid, source_host=instance.host,
                         source_node=instance.node, dest_host=self.host, scheduled_node=scheduled_node):
            self.rt.rebuild_claim(instance, scheduled_node, migration)
            self._do_rebuild_instance(instance)
            if self.world.variant == FIXED:
                # NOTE(gibi): ... we need to hold the COMPUTE_RESOURCE_SEMAPHORE (bug 1896463)
                self.rt.finish_evacuation(instance, scheduled_node, migration)
            else:
                instance.apply_migration_context()
                instance.host = self.host
                instance.node = scheduled_node
                instance.save()
                instance.drop_migration_context()
                self._set_migration_status(migration, "done")

    def _do_rebuild_instance(self, instance: Instance) -> None:
        with tracer.span("compute.do_rebuild_instance", cat="evacuation", instance_uuid=instance.uuid, evacuate=True):
            instance.task_state = "rebuilding"
            instance.save()
            with tracer.span("network.setup_instance_network_on_host", cat="evacuation", instance_uuid=instance.uuid):
                self.world.call("network.setup_instance_network_on_host")
            with tracer.span("driver.rebuild", cat="evacuation", instance_uuid=instance.uuid):
                self.world.call("driver.rebuild")
            instance.vm_state = "active"
            instance.task_state = None
            instance.save()

    @staticmethod
    def _set_migration_status(migration: Migration, status: str) -> None:
        with tracer.span("compute.set_migration_status", cat="evacuation", migration_id=migration.id,
                         instance_uuid=migration.instance_uuid, status=status, status_before=migration.status):
            migration.status = status
            migration.save()


@dataclass
class Setup:
    """The state just before the evacuation reaches host2, and host2's services."""

    world: World
    rt: ResourceTracker
    manager: ComputeManager
    instance: Instance
    migration: Migration


def build(scheduler: Scheduler, variant: str) -> Setup:
    """Instance X with a VF on host1 (down), evacuated to host2; migration 7 accepted."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    world = World(scheduler, variant)
    db = world.db
    db.instances[INSTANCE_UUID] = {"uuid": INSTANCE_UUID, "host": SOURCE[0], "node": SOURCE[1], "vm_state": "active",
                                   "task_state": "rebuilding"}
    db.instance_extra[INSTANCE_UUID] = {"migration_context": None}
    db.migrations[MIGRATION_ID] = {"id": MIGRATION_ID, "uuid": MIGRATION_UUID, "instance_uuid": INSTANCE_UUID,
                                   "source_compute": SOURCE[0], "source_node": SOURCE[1], "dest_compute": None,
                                   "dest_node": None, "status": "accepted", "migration_type": "evacuation"}
    db.pci_devices[(SOURCE[0], VF_ADDRESS)] = {"address": VF_ADDRESS, "status": "allocated",
                                               "instance_uuid": INSTANCE_UUID, "compute_node_id": 1}
    vf = PciDevice(VF_ADDRESS, PF_ADDRESS, compute_node_id=2)
    db.pci_devices[(DEST[0], VF_ADDRESS)] = {"address": VF_ADDRESS, "status": "available", "instance_uuid": None,
                                             "compute_node_id": 2}
    pci = PciDevTracker(world, DEST[0], [vf])
    rt = ResourceTracker(world, DEST[0], DEST[1], pci)
    manager = ComputeManager(world, DEST[0], rt)
    instance = Instance(world, **db.instances[INSTANCE_UUID], migration_context=None)
    instance._changed.clear()
    migration = Migration(world, **db.migrations[MIGRATION_ID])
    migration._changed.clear()
    return Setup(world, rt, manager, instance, migration)


def pci_row(world: World) -> dict[str, Any]:
    """Host2's VF as the database has it."""
    return world.db.pci_devices[(DEST[0], VF_ADDRESS)]


def allocation_lost(world: World) -> bool:
    """The oracle: is host2's VF anything but allocated to the evacuated instance?"""
    row = pci_row(world)
    return not (row["status"] == "allocated" and row["instance_uuid"] == INSTANCE_UUID)
