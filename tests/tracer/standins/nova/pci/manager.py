"""Stand-in for nova.pci.manager (newest-release signatures)."""

import collections


class PciDevTracker:
    """Claims, allocations and frees of a compute node's PCI devices."""

    def __init__(self, context, compute_node, devices=()):
        self.pci_devs = list(devices)
        self.claims = collections.defaultdict(list)
        self.allocations = collections.defaultdict(list)

    def clean_usage(self, instances, migrations):
        """Free the devices of instances that are neither here nor moving here."""
        existed = {inst.uuid for inst in instances}
        existed |= {mig.instance_uuid for mig in migrations}
        self._clean(existed)

    def _clean(self, existed):
        for table in (self.allocations, self.claims):
            for uuid in [uuid for uuid in table if uuid not in existed]:
                for dev in table.pop(uuid):
                    self._free_device(dev)

    def claim_instance(self, context, pci_requests, instance_numa_topology):
        """Claim free devices for ``pci_requests``; return them."""
        free = [dev for dev in self.pci_devs if dev.status == "available"]
        devs = free[: sum(pci_requests.requests)]
        for dev in devs:
            dev.status = "claimed"
            dev.instance_uuid = pci_requests.instance_uuid
        if devs:
            self.claims[pci_requests.instance_uuid].extend(devs)
        return devs

    def allocate_instance(self, instance):
        """Turn the claims of ``instance`` into allocations."""
        devs = self.claims.pop(instance.uuid, [])
        for dev in devs:
            dev.status = "allocated"
        if devs:
            self.allocations[instance.uuid].extend(devs)
        return devs

    def _free_device(self, dev, instance=None):
        dev.status = "available"
        dev.instance_uuid = None

    def save(self, context):
        """Write the changed devices."""
        for dev in self.pci_devs:
            if dev.obj_what_changed():
                dev.save()
