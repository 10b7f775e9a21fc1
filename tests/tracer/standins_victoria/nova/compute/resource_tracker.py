"""Stand-in for nova.compute.resource_tracker (Nova 22.0.0: no finish_evacuation)."""

import contextlib

from nova import objects, utils
from nova.pci import manager as pci_manager

COMPUTE_RESOURCE_SEMAPHORE = "compute_resources"


class ResourceTracker:
    """Tracks what the instances and migrations on one host use."""

    def __init__(self, host, driver):
        self.host = host
        self.driver = driver
        self.compute_nodes = {}
        self.tracked_instances = set()
        self.tracked_migrations = {}
        self.allocations = {}
        self.pci_tracker = pci_manager.PciDevTracker(None, None, getattr(driver, "pci_devices", ()))

    def update_available_resource(self, context, nodename, startup=False):
        """The periodic audit of ``nodename``."""
        resources = self.driver.get_available_resource(nodename)
        self._update_available_resource(context, resources, startup=startup)

    @utils.synchronized(COMPUTE_RESOURCE_SEMAPHORE, fair=True)
    def _update_available_resource(self, context, resources, startup=False):
        nodename = resources["hypervisor_hostname"]
        cn = self._init_compute_node(context, resources)
        instances = objects.InstanceList.get_by_host_and_node(
            context, self.host, nodename, expected_attrs=["migration_context"]
        )
        self._update_usage_from_instances(context, instances, nodename)
        migrations = objects.MigrationList.get_in_progress_and_error(context, self.host, nodename)
        self._update_usage_from_migrations(context, migrations, nodename)
        self._clean_pci_usage(instances, migrations)
        self._remove_deleted_instances_allocations(context, cn, migrations, {inst.uuid: inst for inst in instances})
        self._update(context, cn, startup=startup)

    def _clean_pci_usage(self, instances, migrations):
        self.pci_tracker.clean_usage(instances, migrations, [])

    def _init_compute_node(self, context, resources):
        nodename = resources["hypervisor_hostname"]
        cn = self.compute_nodes.get(nodename)
        if cn is None:
            cn = objects.ComputeNode(
                id=len(self.compute_nodes) + 1, host=self.host, hypervisor_hostname=nodename, vcpus=resources["vcpus"]
            )
            self.compute_nodes[nodename] = cn
        return cn

    def _update_usage_from_instances(self, context, instances, nodename):
        self.tracked_instances.clear()
        for instance in instances:
            self.tracked_instances.add(instance.uuid)
            self.allocations[instance.uuid] = nodename

    def _update_usage_from_migrations(self, context, migrations, nodename):
        self.tracked_migrations.clear()
        for migration in migrations:
            self.tracked_migrations[migration.instance_uuid] = migration

    def _remove_deleted_instances_allocations(self, context, cn, migrations, instance_by_uuid):
        moving = {migration.instance_uuid for migration in migrations}
        for uuid in list(self.allocations):
            if uuid not in instance_by_uuid and uuid not in moving:
                del self.allocations[uuid]

    def _update(self, context, compute_node, startup=False):
        compute_node.obj_reset_changes()
        self.pci_tracker.save(context)

    @utils.synchronized(COMPUTE_RESOURCE_SEMAPHORE, fair=True)
    def rebuild_claim(self, context, instance, nodename, allocations, limits=None, image_meta=None, migration=None):
        """Claim the resources of an evacuated or rebuilt instance on this host."""
        return self._move_claim(context, instance, nodename, allocations, migration)

    def _move_claim(self, context, instance, nodename, allocations, migration):
        if migration is not None:
            migration.dest_compute = self.host
            migration.dest_node = nodename
            migration.status = "pre-migrating"
            migration.save()
        pci_requests = objects.InstancePCIRequests.get_by_instance_uuid(context, instance.uuid)
        if pci_requests.requests:
            self.pci_tracker.claim_instance(context, pci_requests, None)
        instance.migration_context = objects.MigrationContext(
            instance_uuid=instance.uuid, migration_id=migration.id if migration is not None else None
        )
        instance.save()
        if migration is not None:
            self.tracked_migrations[instance.uuid] = migration
        self.allocations[instance.uuid] = nodename
        return contextlib.nullcontext()
