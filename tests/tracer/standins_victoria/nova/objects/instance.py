"""Stand-in for nova.objects.instance."""

from nova.objects import base


class Instance(base.NovaObject):
    """A server."""

    fields = ("uuid", "host", "node", "task_state", "vm_state", "migration_context")

    @base.remotable
    def save(self, expected_vm_state=None, expected_task_state=None, admin_state_reset=False):
        """Write the changed fields."""
        base.DB["instances"][self.uuid] = self
        self.obj_reset_changes()

    @base.remotable
    def drop_migration_context(self):
        """Forget the migration context."""
        self.migration_context = None
        self.obj_reset_changes(["migration_context"])

    def apply_migration_context(self):
        """Take the new side of the migration context."""
        if self.obj_attr_is_set("migration_context") and self.migration_context is not None:
            self.applied_migration_id = self.migration_context.migration_id


class InstanceList(base.ObjectListBase, base.NovaObject):
    """A list of instances."""

    @base.remotable_classmethod
    def get_by_host_and_node(cls, context, host, node, expected_attrs=None):
        """Return the instances on ``host``/``node``."""
        found = [
            inst
            for inst in base.DB["instances"].values()
            if base.is_set_to(inst, "host", host) and base.is_set_to(inst, "node", node)
        ]
        return cls(objects=found)
