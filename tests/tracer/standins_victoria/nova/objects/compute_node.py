"""Stand-in for nova.objects.compute_node."""

from nova.objects import base


class ComputeNode(base.NovaObject):
    """A hypervisor node."""

    fields = ("id", "host", "hypervisor_hostname", "vcpus")
