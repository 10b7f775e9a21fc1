"""Stand-in for nova.objects: classes are reachable as ``objects.Instance``, as in Nova."""

from nova.objects.compute_node import ComputeNode
from nova.objects.instance import Instance, InstanceList
from nova.objects.instance_pci_requests import InstancePCIRequests
from nova.objects.migration import Migration, MigrationList
from nova.objects.migration_context import MigrationContext
from nova.objects.pci_device import PciDevice

__all__ = [
    "ComputeNode",
    "Instance",
    "InstanceList",
    "InstancePCIRequests",
    "Migration",
    "MigrationContext",
    "MigrationList",
    "PciDevice",
]
