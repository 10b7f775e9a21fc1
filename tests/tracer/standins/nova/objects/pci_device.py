"""Stand-in for nova.objects.pci_device."""

from nova.objects import base


class PciDevice(base.NovaObject):
    """A PCI device of a compute node."""

    fields = ("address", "status", "instance_uuid", "parent_addr", "compute_node_id")

    @base.remotable
    def save(self):
        """Write the changed fields."""
        self.obj_reset_changes()
