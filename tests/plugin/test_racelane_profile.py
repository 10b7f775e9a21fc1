"""The nova profile under the racelane fixture: Nova's code paths (stand-ins of 22.0.0 and of the fix), no sleeps.

This is the rewrite of Nova's regression test for bug 1896463 that
docs/PYTEST.md describes: the test only evacuates and audits, in any order;
the lock-discipline rule fails it on every run before the fix and passes it
after, whether or not the timing was unlucky.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

STANDINS = Path(__file__).resolve().parents[1] / "tracer" / "standins"
STANDINS_VICTORIA = Path(__file__).resolve().parents[1] / "tracer" / "standins_victoria"
ROOTS = ("nova", "oslo_concurrency")
CTX = object()


def _purge() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ROOTS:
            del sys.modules[name]


def _nova(*folders: Path) -> Iterator[None]:
    """Put Nova stand-ins first on sys.path for one test; forget them and any waiting import hook afterwards."""
    from tracer.record import hooks

    _purge()
    entries = [str(f) for f in folders]
    sys.path[0:0] = entries
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name in hooks.pending():
            if name.split(".")[0] in ROOTS:
                for hook in list(hooks._hooks.get(name, [])):
                    hooks.cancel(hook)
        for entry in entries:
            sys.path.remove(entry)
        _purge()
        importlib.invalidate_caches()


@pytest.fixture
def nova_22() -> Iterator[None]:
    """Nova 22.0.0 (Victoria): rebuild_instance finishes the evacuation outside compute_resources."""
    yield from _nova(STANDINS_VICTORIA, STANDINS)


@pytest.fixture
def nova_fixed() -> Iterator[None]:
    """Nova 23.0.0 and later: ResourceTracker.finish_evacuation holds compute_resources."""
    yield from _nova(STANDINS)


class _Driver:
    def __init__(self, pci_devices: list[Any]) -> None:
        self.pci_devices = pci_devices

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        return {"hypervisor_hostname": nodename, "vcpus": 8}


def _evacuate_and_audit() -> None:
    """Instance inst-a is evacuated from src to dest; dest's periodic audit runs before and after."""
    from nova import objects
    from nova.compute import manager, resource_tracker
    from nova.objects import base

    vf = objects.PciDevice(address="0000:81:00.1", status="available", instance_uuid=None,
                           parent_addr="0000:81:00.0", compute_node_id=1)
    rt = resource_tracker.ResourceTracker("dest", _Driver([vf]))
    compute = manager.ComputeManager("dest", rt)
    instance = objects.Instance(uuid="inst-a", host="src", node="src-node")
    instance.save()
    migration = objects.Migration(id=7, uuid="mig-7", instance_uuid="inst-a", status="accepted", source_compute="src",
                                  source_node="src-node", migration_type="evacuation")
    migration.save()
    base.DB["pci_requests"]["inst-a"] = objects.InstancePCIRequests(instance_uuid="inst-a", requests=[1])
    world = SimpleNamespace(rt=rt, compute=compute)
    world.rt.update_available_resource(CTX, "dest-node")
    compute.rebuild_instance(CTX, instance=instance, orig_image_ref="image-1", image_ref="image-1", injected_files=[],
                             new_pass="hunter2", orig_sys_metadata={}, bdms=[], recreate=True, on_shared_storage=False,
                             preserve_ephemeral=False, migration=migration, scheduled_node="dest-node", limits=None,
                             request_spec=None, accel_uuids=[])
    world.rt.update_available_resource(CTX, "dest-node")


@pytest.mark.racelane(profile="nova", rules="nova", host="dest")
def test_nova_22_breaks_the_lock_discipline_on_every_run(racelane, nova_22):
    """Before the fix: no overlap happened (one thread), yet the unlocked finish is reported, as expected."""
    racelane.expect_hazard(rule="nova-1896463-lock-discipline", cls="potential")
    _evacuate_and_audit()


@pytest.mark.racelane(profile="nova", rules="nova", host="dest")
def test_fixed_nova_passes(racelane, nova_fixed):
    """After the fix: finish_evacuation holds compute_resources; the plain fixture finds nothing."""
    _evacuate_and_audit()
