"""Stand-in for nova.objects.instance_pci_requests."""

from nova.objects import base


class InstancePCIRequests(base.NovaObject):
    """The PCI devices an instance asks for: ``requests`` is a list of counts here."""

    fields = ("instance_uuid", "requests")

    @classmethod
    @base.remotable
    def get_by_instance_uuid(cls, context, instance_uuid):
        """Return the requests stored for ``instance_uuid`` (none by default)."""
        found = base.DB["pci_requests"].get(instance_uuid)
        return found if found is not None else cls(instance_uuid=instance_uuid, requests=[])
