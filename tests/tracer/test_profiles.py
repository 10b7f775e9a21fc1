"""The nova profile against stand-ins of Nova's modules, and profile loading errors.

The stand-ins in ``standins/`` (newest release) and ``standins_victoria/``
(Nova 22.0.0) have exactly the dotted names, decorators and parameter names of
real Nova; see ``conftest.py`` for the fixtures that put them on ``sys.path``.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

import tracer
from tracer.record import hooks
from tracer.record.errors import ProfileError
from tracer.record.instrument import instrumented
from tracer.record.profiles import apply_profile, builtin_profiles, check_profile, load_profile, module_of
from tracer.record.sink import MemorySink
from tracer.testing import Captured, capture

NOVA_ROOTS = ("nova", "oslo_concurrency")
FINISH_EVACUATION = "nova.compute.resource_tracker.ResourceTracker.finish_evacuation"
LOCK_NAME = "compute_resources"
LOCK_ATTRS = {"lock", "holder", "acquired"}
CTX = object()  # the request context; never recorded


def _entries() -> list[dict[str, Any]]:
    return load_profile("nova")[1]


def _nova_modules() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] in NOVA_ROOTS)


def _import_all() -> None:
    for name in sorted({entry.get("module") or module_of(entry["target"]) for entry in _entries()}):
        importlib.import_module(name)


def _racelane_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "racelane" and r.levelno >= logging.WARNING]


class _Driver:
    """The virt driver: reports one node and its PCI devices."""

    def __init__(self, pci_devices: list[Any]) -> None:
        self.pci_devices = pci_devices

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        return {"hypervisor_hostname": nodename, "vcpus": 8}


def _build_world() -> SimpleNamespace:
    """Seed the stand-in DB: inst-b lives on dest, inst-a is evacuated from src to dest by migration 7."""
    from nova import objects
    from nova.compute import manager, resource_tracker
    from nova.objects import base

    stale = objects.PciDevice(
        address="0000:81:00.1", status="allocated", instance_uuid="gone", parent_addr="0000:81:00.0", compute_node_id=1
    )
    spare = objects.PciDevice(
        address="0000:81:00.2", status="available", instance_uuid=None, parent_addr="0000:81:00.0", compute_node_id=1
    )
    rt = resource_tracker.ResourceTracker("dest", _Driver([stale, spare]))
    rt.pci_tracker.allocations["gone"].append(stale)
    compute = manager.ComputeManager("dest", rt)
    staying = objects.Instance(uuid="inst-b", host="dest", node="dest-node", task_state=None, vm_state="active")
    staying.save()
    # task_state, vm_state and migration_context are left unset: reading them would lazy-load.
    moving = objects.Instance(uuid="inst-a", host="src", node="src-node")
    moving.save()
    migration = objects.Migration(
        id=7,
        uuid="mig-7",
        instance_uuid="inst-a",
        status="accepted",
        source_compute="src",
        source_node="src-node",
        migration_type="evacuation",
    )
    migration.save()
    base.DB["pci_requests"]["inst-a"] = objects.InstancePCIRequests(instance_uuid="inst-a", requests=[1])
    return SimpleNamespace(rt=rt, compute=compute, moving=moving, migration=migration, base=base)


def _evacuate(world: SimpleNamespace) -> None:
    """Audit, evacuate inst-a to dest (passing a new admin password), audit again."""
    world.rt.update_available_resource(CTX, "dest-node")
    world.compute.rebuild_instance(
        CTX,
        instance=world.moving,
        orig_image_ref="image-1",
        image_ref="image-1",
        injected_files=[],
        new_pass="hunter2",
        orig_sys_metadata={},
        bdms=[],
        recreate=True,
        on_shared_storage=False,
        preserve_ephemeral=False,
        migration=world.migration,
        scheduled_node="dest-node",
        limits=None,
        request_spec=None,
        accel_uuids=[],
    )
    world.rt.update_available_resource(CTX, "dest-node")


def _named(cap: Captured, name: str) -> list[dict[str, Any]]:
    return [s for s in cap.spans if s["name"] == name]


def _snapshot() -> dict[str, dict[str, Any]]:
    """Every attribute of every stand-in module and of every class defined in one."""
    snap = {}
    for name in _nova_modules():
        module = sys.modules[name]
        snap[name] = dict(vars(module))
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                snap[f"{name}.{value.__qualname__}"] = dict(value.__dict__)
    return snap


def _changed(before: dict[str, dict[str, Any]]) -> list[str]:
    after = _snapshot()
    assert after.keys() == before.keys()
    changed = []
    for owner, attrs in before.items():
        now = after[owner]
        changed += [f"{owner}.{attr}" for attr in attrs.keys() | now.keys() if now.get(attr) is not attrs.get(attr)]
    return sorted(changed)


# Nova's signatures (newest release) that the stand-ins must keep: (dotted path, descriptor, parameters).
_REBUILD = (
    "(self, context, instance, orig_image_ref, image_ref, injected_files, new_pass, orig_sys_metadata, bdms, "
    "recreate, on_shared_storage, preserve_ephemeral, migration, scheduled_node, limits, request_spec, accel_uuids, "
    "reimage_boot_volume=None, target_state=None)"
)
_DO_REBUILD = (
    "(self, context, instance, orig_image_ref, image_meta, injected_files, new_pass, orig_sys_metadata, bdms, "
    "evacuate, on_shared_storage, preserve_ephemeral, migration, request_spec, allocations, "
    "request_group_resource_providers_mapping, accel_uuids, reimage_boot_volume, target_state)"
)
_RT = "nova.compute.resource_tracker.ResourceTracker"
NOVA_SIGNATURES = [
    (f"{_RT}.update_available_resource", "function", "(self, context, nodename, startup=False)"),
    (f"{_RT}._update_available_resource", "synchronized", "(self, context, resources, startup=False)"),
    (f"{_RT}._update_usage_from_instances", "function", "(self, context, instances, nodename)"),
    (f"{_RT}._update_usage_from_migrations", "function", "(self, context, migrations, nodename)"),
    (
        f"{_RT}.rebuild_claim",
        "synchronized",
        "(self, context, instance, nodename, allocations, limits=None, image_meta=None, migration=None)",
    ),
    (f"{_RT}.finish_evacuation", "synchronized", "(self, instance, node, migration)"),
    (f"{_RT}._update", "function", "(self, context, compute_node, startup=False)"),
    (f"{_RT}._remove_deleted_instances_allocations", "function", "(self, context, cn, migrations, instance_by_uuid)"),
    (
        "nova.objects.instance.InstanceList.get_by_host_and_node",
        "classmethod",
        "(cls, context, host, node, expected_attrs=None)",
    ),
    (
        "nova.objects.instance.Instance.save",
        "remotable",
        "(self, expected_vm_state=None, expected_task_state=None, admin_state_reset=False)",
    ),
    ("nova.objects.instance.Instance.drop_migration_context", "remotable", "(self)"),
    ("nova.objects.instance.Instance.apply_migration_context", "function", "(self)"),
    ("nova.objects.migration.MigrationList.get_in_progress_and_error", "classmethod", "(cls, context, host, node)"),
    (
        "nova.objects.migration.MigrationList.get_in_progress_by_host_and_node",
        "classmethod",
        "(cls, context, host, node)",
    ),
    ("nova.objects.migration.Migration.save", "remotable", "(self)"),
    ("nova.compute.manager.ComputeManager.rebuild_instance", "decorated", _REBUILD),
    ("nova.compute.manager.ComputeManager._do_rebuild_instance", "function", _DO_REBUILD),
    ("nova.compute.manager.ComputeManager._set_migration_status", "staticmethod", "(migration, status)"),
    ("nova.pci.manager.PciDevTracker.clean_usage", "function", "(self, instances, migrations)"),
    (
        "nova.pci.manager.PciDevTracker.claim_instance",
        "function",
        "(self, context, pci_requests, instance_numa_topology)",
    ),
    ("nova.pci.manager.PciDevTracker.allocate_instance", "function", "(self, instance)"),
    ("nova.pci.manager.PciDevTracker._free_device", "function", "(self, dev, instance=None)"),
    ("nova.pci.manager.PciDevTracker.save", "function", "(self, context)"),
]


def _check_signature(target: str, kind: str, params: str) -> None:
    module_name, class_name, attr = target.rsplit(".", 2)
    raw = vars(getattr(importlib.import_module(module_name), class_name))[attr]
    if kind in ("classmethod", "staticmethod"):
        assert type(raw).__name__ == kind, target
        raw = raw.__func__
    else:
        assert inspect.isfunction(raw), target
        assert hasattr(raw, "__wrapped__") == (kind in ("synchronized", "remotable", "decorated")), target
    assert str(inspect.signature(raw)) == params, target


# --- the stand-ins themselves -----------------------------------------------------


@pytest.mark.parametrize(
    ("target", "kind", "params"), NOVA_SIGNATURES, ids=[".".join(t[0].rsplit(".", 2)[1:]) for t in NOVA_SIGNATURES]
)
def test_standin_signatures_match_nova(standins, target, kind, params):
    """Each stand-in profile target has Nova's descriptor and parameter names (newest release)."""
    _check_signature(target, kind, params)


def test_standin_locking_matches_nova(standins):
    """nova.utils.synchronized is lockutils.synchronized with the nova- prefix, and lockutils.lock a context manager."""
    from nova import utils
    from nova.compute import resource_tracker
    from oslo_concurrency import lockutils

    assert resource_tracker.COMPUTE_RESOURCE_SEMAPHORE == "compute_resources"
    assert utils.synchronized.func is lockutils.synchronized
    assert utils.synchronized.keywords == {"lock_file_prefix": "nova-"}
    assert str(inspect.signature(lockutils.lock)) == (
        "(name, lock_file_prefix=None, external=False, lock_path=None, do_log=True, semaphores=None, delay=0.01, "
        "fair=False, blocking=True)"
    )
    assert str(inspect.signature(lockutils.synchronized)) == (
        "(name, lock_file_prefix=None, external=False, lock_path=None, semaphores=None, delay=0.01, fair=False, "
        "blocking=True)"
    )
    with lockutils.lock("probe") as held:
        assert held.locked()
    assert not held.locked()


def test_victoria_standins_differ_as_nova_22(victoria):
    """The 22.0.0 stand-ins lack finish_evacuation, pass orphans to clean_usage and keep remotable classmethods."""
    from nova.compute.resource_tracker import ResourceTracker

    assert not hasattr(ResourceTracker, "finish_evacuation")
    _check_signature("nova.pci.manager.PciDevTracker.clean_usage", "function", "(self, instances, migrations, orphans)")
    for target, kind, params in NOVA_SIGNATURES:
        if kind == "classmethod" or target.endswith(("_set_migration_status", "_update_available_resource")):
            _check_signature(target, kind, params)


# --- the profile against the stand-ins -------------------------------------------


def test_every_nova_target_resolves(standins):
    """check_profile finds every target of the nova profile in the newest-release stand-ins."""
    assert check_profile("nova") == []
    assert sys.modules["nova"].__file__.startswith(str(standins))


def test_misspelled_target_is_reported(standins, tmp_path):
    """A copy of the nova profile with one misspelled target is caught by check_profile, naming the missing part."""
    from importlib import resources

    text = resources.files("tracer.record").joinpath("profiles", "nova.toml").read_text()
    wrong = text.replace(
        "ResourceTracker._update_usage_from_migrations", "ResourceTracker._update_usage_from_migration"
    )
    assert wrong != text
    path = tmp_path / "typo.toml"
    path.write_text(wrong)
    problems = check_profile(str(path))
    assert [err.target for err in problems] == [
        "nova.compute.resource_tracker.ResourceTracker._update_usage_from_migration"
    ]
    assert "'_update_usage_from_migration'" in problems[0].reason


def test_nova_profile_applies_eagerly_without_warnings(standins, caplog):
    """Applied eagerly under capture(), every entry is instrumented with no warning (every path root is a parameter)."""
    caplog.set_level(logging.WARNING, logger="racelane")
    with capture():
        applied = apply_profile("nova", eager=True)
        try:
            assert applied.missing == []
            assert sorted(item.target for item in applied) == sorted(entry["target"] for entry in _entries())
        finally:
            applied.undo()
    assert _racelane_warnings(caplog) == []


def test_victoria_misses_only_finish_evacuation(victoria, caplog):
    """On Nova 22.0.0 only ResourceTracker.finish_evacuation is missing: one warning, the rest applies."""
    caplog.set_level(logging.WARNING, logger="racelane")
    assert [err.target for err in check_profile("nova")] == [FINISH_EVACUATION]
    applied = apply_profile("nova", eager=True)
    try:
        assert [err.target for err in applied.missing] == [FINISH_EVACUATION]
        expected = sorted(entry["target"] for entry in _entries() if entry["target"] != FINISH_EVACUATION)
        assert sorted(item.target for item in applied) == expected
    finally:
        applied.undo()
    warnings = _racelane_warnings(caplog)
    assert len(warnings) == 1
    assert FINISH_EVACUATION in warnings[0]


def test_profile_waits_for_the_import(standins):
    """A profile applied before Nova is imported imports nothing and instruments each module when it is imported."""
    applied = apply_profile("nova")
    try:
        assert _nova_modules() == []
        assert len(applied) == 0
        assert {"nova.compute.resource_tracker", "oslo_concurrency.lockutils", "nova.compute.manager"} <= set(
            hooks.pending()
        )
        rt_module = importlib.import_module("nova.compute.resource_tracker")
        assert "nova.compute.manager" not in sys.modules
        assert "nova.compute.manager" in hooks.pending()
        assert hasattr(rt_module.ResourceTracker.__dict__["update_available_resource"], "__wrapped__")
        from oslo_concurrency import lockutils

        assert lockutils.__dict__["lock"].__wrapped__.__name__ == "lock"
        importlib.import_module("nova.compute.manager")
        assert [name for name in hooks.pending() if name.split(".")[0] in NOVA_ROOTS] == []
        assert sorted(item.target for item in applied) == sorted(entry["target"] for entry in _entries())
        with capture() as cap:
            _evacuate(_build_world())
        assert _named(cap, "rt._update_available_resource")
        assert _named(cap, "compute.rebuild_instance")
    finally:
        applied.undo()
    assert [name for name in hooks.pending() if name.split(".")[0] in NOVA_ROOTS] == []


def test_capture_with_profile_before_import_records_the_flow(standins):
    """capture(profile="nova") started before Nova is imported records the flow once Nova is imported."""
    with capture(profile="nova") as cap:
        assert _nova_modules() == []
        _evacuate(_build_world())
    assert len(_named(cap, "rt.update_available_resource")) == 2
    assert len(_named(cap, "compute.finish_evacuation")) == 1
    assert instrumented() == []


def test_evacuation_flow_records_the_profile_spans(standins):
    """The evacuation flow yields the profile's spans and marks, with allow-listed attributes nested under the lock."""
    _import_all()
    world = _build_world()
    with capture(profile="nova") as cap:
        _evacuate(world)
    spans = cap.spans
    by_id = {s["id"]: s for s in spans}
    names = {s["name"] for s in spans} | {m["name"] for m in cap.marks}
    expected = {entry.get("name") for entry in _entries() if entry["kind"] != "lock"}
    assert expected - names == {"db.MigrationList.get_in_progress_by_host_and_node", "compute.set_migration_status"}
    assert {f"lock.wait {LOCK_NAME}", f"lock.held {LOCK_NAME}"} <= names
    assert cap.open_spans == []

    # The audit: its DB reads run under the compute_resources lock.
    audits = _named(cap, "rt._update_available_resource")
    assert [a["attrs"] for a in audits] == [{"host": "dest", "node": "dest-node", "startup": False}] * 2
    reads = _named(cap, "db.InstanceList.get_by_host_and_node")
    assert [r["attrs"] for r in reads] == [
        {"host": "dest", "node": "dest-node", "result_uuids": ["inst-b"], "count": 1},
        {"host": "dest", "node": "dest-node", "result_uuids": ["inst-b", "inst-a"], "count": 2},
    ]
    for read in reads + _named(cap, "db.MigrationList.get_in_progress_and_error"):
        held = by_id[read["parent"]]
        assert held["name"] == f"lock.held {LOCK_NAME}"
        assert held["cat"] == "lock"
        assert held["attrs"]["lock"] == LOCK_NAME
        assert by_id[held["parent"]]["name"] == "rt._update_available_resource"
    for wait in _named(cap, f"lock.wait {LOCK_NAME}"):
        assert wait["attrs"]["lock"] == LOCK_NAME
        assert wait["attrs"]["acquired"] is True
    audit_ids = {a["id"] for a in audits}
    assert len([w for w in _named(cap, f"lock.wait {LOCK_NAME}") if w["parent"] in audit_ids]) == 2
    usage = _named(cap, "rt.update_usage_from_instances")
    assert [sorted(u["attrs"]["tracked_instances"]) for u in usage] == [["inst-b"], ["inst-a", "inst-b"]]

    # The evacuation.
    (rebuild,) = _named(cap, "compute.rebuild_instance")
    assert rebuild["attrs"] == {
        "instance_uuid": "inst-a",
        "evacuate": True,
        "migration_id": 7,
        "migration_uuid": "mig-7",
        "source_host": "src",
        "source_node": "src-node",
        "dest_host": "dest",
        "scheduled_node": "dest-node",
    }
    migration_saves = _named(cap, "db.Migration.save")
    assert [(s["attrs"]["status"], sorted(s["attrs"]["changed"])) for s in migration_saves] == [
        ("pre-migrating", ["dest_compute", "dest_node", "status"]),
        ("done", ["status"]),
    ]
    assert migration_saves[1]["attrs"]["dest_compute"] == "dest"
    done_held = by_id[migration_saves[1]["parent"]]
    assert done_held["name"] == f"lock.held {LOCK_NAME}"
    assert by_id[done_held["parent"]]["name"] == "compute.finish_evacuation"
    assert by_id[by_id[done_held["parent"]]["parent"]]["id"] == rebuild["id"]
    (applied_ctx,) = _named(cap, "obj.Instance.apply_migration_context")
    assert applied_ctx["attrs"] == {"instance_uuid": "inst-a", "migration_id": 7}

    # The PCI tracker.
    marks = {m["name"]: m for m in cap.marks}
    assert marks["pci.free_device"]["attrs"] == {
        "address": "0000:81:00.1",
        "parent_addr": "0000:81:00.0",
        "old_status": "allocated",
        "old_instance_uuid": "gone",
        "compute_node_id": 1,
        "status": "available",
    }
    assert marks["pci.claim_instance"]["attrs"]["instance_uuid"] == "inst-a"
    assert marks["pci.claim_instance"]["attrs"]["statuses"] == ["claimed"]
    assert marks["pci.allocate_instance"]["attrs"]["instance_uuid"] == "inst-a"


def test_flow_records_only_allow_listed_attributes(standins):
    """Every span and mark carries only its entry's attrs/result keys; new_pass never appears."""
    _import_all()
    world = _build_world()
    with capture(profile="nova") as cap:
        _evacuate(world)
    allowed = {
        entry["name"]: set(entry.get("attrs", {})) | set(entry.get("result", {}))
        for entry in _entries()
        if entry["kind"] != "lock"
    }
    for row in cap.spans + cap.marks:
        if row["cat"] == "lock":
            assert set(row["attrs"]) <= LOCK_ATTRS
        else:
            assert set(row["attrs"] or {}) <= allowed[row["name"]], row
    text = b"".join(orjson.dumps(record) for record in cap.records)
    assert b"hunter2" not in text
    assert b"new_pass" not in text


def test_unset_fields_read_as_none_without_lazy_loads(standins):
    """Unset fields of the stand-in objects are recorded as None and never lazy-loaded."""
    _import_all()
    world = _build_world()
    from nova import objects

    with pytest.raises(NotImplementedError):
        objects.Instance(uuid="probe").host  # noqa: B018 - the stand-in really lazy-loads on access
    assert world.base.LAZY_LOADS == [("Instance", "host")]
    world.base.LAZY_LOADS.clear()
    with capture(profile="nova") as cap:
        _evacuate(world)
    first_save = _named(cap, "db.Instance.save")[0]
    assert first_save["attrs"]["task_state"] is None
    assert first_save["attrs"]["vm_state"] is None
    assert first_save["attrs"]["host"] == "src"
    assert sorted(first_save["attrs"]["changed"]) == ["migration_context"]
    (drop,) = _named(cap, "db.Instance.drop_migration_context")
    assert drop["attrs"] == {"instance_uuid": "inst-a", "migration_id": 7}
    assert world.base.LAZY_LOADS == []


def test_victoria_flow_marks_done_outside_the_lock(victoria):
    """On Nova 22.0.0 the profile records the staticmethod _set_migration_status setting 'done' outside the lock."""
    _import_all()
    world = _build_world()
    with capture(profile="nova") as cap:
        _evacuate(world)
    by_id = {s["id"]: s for s in cap.spans}
    (status,) = _named(cap, "compute.set_migration_status")
    assert status["attrs"] == {
        "migration_id": 7,
        "instance_uuid": "inst-a",
        "status": "done",
        "status_before": "pre-migrating",
    }
    assert by_id[status["parent"]]["name"] == "compute.rebuild_instance"
    done = [s for s in _named(cap, "db.Migration.save") if s["attrs"]["status"] == "done"]
    assert [by_id[s["parent"]]["name"] for s in done] == ["compute.set_migration_status"]
    assert len(_named(cap, "pci.clean_usage")) == 2
    assert _named(cap, "compute.finish_evacuation") == []
    assert world.base.LAZY_LOADS == []


def test_profile_keys_paths_record_dict_keys(standins):
    """rt.update_usage_from_migrations and pci.clean_usage record the keys of the tracker's dicts."""
    _import_all()
    world = _build_world()
    with capture(profile="nova") as cap:
        world.rt._update_usage_from_migrations(CTX, [world.migration], "dest-node")
        world.rt.pci_tracker.clean_usage([], [])
    (usage,) = _named(cap, "rt.update_usage_from_migrations")
    assert usage["attrs"]["tracked_migrations"] == ["inst-a"]
    (clean,) = _named(cap, "pci.clean_usage")
    assert clean["attrs"]["allocations_before"] == ["gone"]
    assert clean["attrs"]["allocations_after"] == []


# --- restoring ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["recording-stop", "applied-undo", "uninstrument"])
def test_every_patched_attribute_is_restored(standins, how):
    """After Recording.stop(), AppliedProfile.undo() or uninstrument() every stand-in attribute is the original object."""
    _import_all()
    before = _snapshot()
    world = _build_world()
    if how == "recording-stop":
        recording = tracer.start(sink=MemorySink(), profile="nova", handle_sigterm=False)
        try:
            assert len(_changed(before)) == len(_entries())
            _evacuate(world)
        finally:
            recording.stop()
    else:
        applied = apply_profile("nova")
        assert len(_changed(before)) == len(_entries())
        with capture():
            _evacuate(world)
        if how == "applied-undo":
            applied.undo()
        else:
            assert tracer.uninstrument() == len(_entries())
    assert _changed(before) == []
    assert instrumented() == []


def test_restore_keeps_descriptor_objects(standins):
    """The classmethod and staticmethod objects in the class __dict__ come back identical."""
    _import_all()
    from nova.compute.manager import ComputeManager
    from nova.objects.instance import InstanceList

    original_cm = InstanceList.__dict__["get_by_host_and_node"]
    original_sm = ComputeManager.__dict__["_set_migration_status"]
    applied = apply_profile("nova")
    assert isinstance(InstanceList.__dict__["get_by_host_and_node"], classmethod)
    assert InstanceList.__dict__["get_by_host_and_node"] is not original_cm
    assert isinstance(ComputeManager.__dict__["_set_migration_status"], staticmethod)
    applied.undo()
    assert InstanceList.__dict__["get_by_host_and_node"] is original_cm
    assert ComputeManager.__dict__["_set_migration_status"] is original_sm


def test_failed_profile_leaves_nothing_behind(standins, tmp_path):
    """A profile that fails on a bad attribute path leaves nothing instrumented and no hook pending."""
    _import_all()
    profile = tmp_path / "bad.toml"
    profile.write_text(
        '[[span]]\ntarget = "racelane_targets.add"\n'
        '[[span]]\ntarget = "nova.objects.migration.Migration.save"\n'
        '[[span]]\ntarget = "nova.compute.resource_tracker.ResourceTracker._update"\nattrs = { host = "nosuch.host" }\n'
    )
    with pytest.raises(ProfileError, match="nosuch"):
        apply_profile(str(profile))
    leftovers = {"instrumented": instrumented(), "pending": [n for n in hooks.pending() if n == "racelane_targets"]}
    assert leftovers == {"instrumented": [], "pending": []}


# --- profile errors ----------------------------------------------------------------


def test_malformed_toml_names_the_file(tmp_path):
    """A file that is not TOML gives a ProfileError naming the file."""
    path = tmp_path / "broken.toml"
    path.write_text('[[span]\ntarget = "a.b.c"\n')
    with pytest.raises(ProfileError, match="not valid TOML") as err:
        load_profile(str(path))
    assert str(path) in str(err.value)


def test_unknown_key_names_file_and_entry(tmp_path):
    """An unknown key gives a ProfileError naming the file, the entry and the key."""
    path = tmp_path / "colour.toml"
    path.write_text('[[span]]\ntarget = "a.b.c"\n[[mark]]\ntarget = "a.b.Mark.d"\ncolour = "red"\n')
    with pytest.raises(ProfileError) as err:
        load_profile(str(path))
    message = str(err.value)
    assert str(path) in message
    assert "mark #1" in message
    assert "a.b.Mark.d" in message
    assert "colour" in message


def test_non_string_path_names_file_and_entry(tmp_path):
    """An attribute path that is not a string gives a ProfileError naming the file and the entry."""
    path = tmp_path / "number.toml"
    path.write_text('[[span]]\ntarget = "a.b.c"\n[[span]]\ntarget = "a.b.C.d"\nresult = { count = 3 }\n')
    with pytest.raises(ProfileError) as err:
        apply_profile(str(path))
    message = str(err.value)
    assert str(path) in message
    assert "span #2" in message
    assert "a.b.C.d" in message
    assert "'result'" in message


def test_missing_target_key_names_file(tmp_path):
    """An entry without a string target gives a ProfileError naming the file and the entry."""
    path = tmp_path / "notarget.toml"
    path.write_text("[[lock]]\nlock_arg = 'name'\n")
    with pytest.raises(ProfileError, match="lock #1") as err:
        load_profile(str(path))
    assert str(path) in str(err.value)


def test_bad_path_root_in_profile_names_file(standins, tmp_path):
    """A path whose root is not a parameter gives a ProfileError naming the file, the target and the parameters."""
    _import_all()
    path = tmp_path / "root.toml"
    path.write_text('[[span]]\ntarget = "nova.objects.migration.Migration.save"\nattrs = { who = "migration.id" }\n')
    try:
        with pytest.raises(ProfileError) as err:
            apply_profile(str(path))
    finally:
        tracer.uninstrument()
    message = str(err.value)
    assert str(path) in message
    assert "Migration.save" in message
    assert "'migration'" in message
    assert "self" in message


def test_unknown_profile_lists_builtins():
    """An unknown profile name gives a ProfileError listing the built-in profiles."""
    assert "nova" in builtin_profiles()
    with pytest.raises(ProfileError) as err:
        load_profile("novaa")
    message = str(err.value)
    assert "'novaa'" in message
    for name in builtin_profiles():
        assert name in message


def test_unreadable_profile_names_the_file(tmp_path):
    """A profile path that does not exist gives a ProfileError naming it."""
    path = tmp_path / "absent.toml"
    with pytest.raises(ProfileError, match="cannot read") as err:
        load_profile(str(path))
    assert str(path) in str(err.value)


def test_module_of_guesses_the_module():
    """module_of stops at the first CapWords segment, or drops the last one."""
    assert module_of("nova.compute.resource_tracker.ResourceTracker.rebuild_claim") == "nova.compute.resource_tracker"
    assert module_of("oslo_concurrency.lockutils.lock") == "oslo_concurrency.lockutils"
