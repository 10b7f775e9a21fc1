"""Stand-in for nova.objects.migration."""

from nova.objects import base

_FINISHED = ("confirmed", "reverted", "error", "failed", "completed", "cancelled", "done")
_FINISHED_OK = tuple(status for status in _FINISHED if status != "error")


class Migration(base.NovaObject):
    """A move of an instance between hosts."""

    fields = (
        "id",
        "uuid",
        "instance_uuid",
        "status",
        "source_compute",
        "source_node",
        "dest_compute",
        "dest_node",
        "migration_type",
    )

    @base.remotable
    def save(self):
        """Write the changed fields."""
        base.DB["migrations"][self.id] = self
        self.obj_reset_changes()


def _on(mig, host, node):
    return (base.is_set_to(mig, "source_compute", host) and base.is_set_to(mig, "source_node", node)) or (
        base.is_set_to(mig, "dest_compute", host) and base.is_set_to(mig, "dest_node", node)
    )


class MigrationList(base.ObjectListBase, base.NovaObject):
    """A list of migrations."""

    @classmethod
    @base.remotable
    def get_in_progress_and_error(cls, context, host, node):
        """Return the unfinished and the failed migrations touching ``host``/``node``."""
        found = [m for m in base.DB["migrations"].values() if _on(m, host, node) and m.status not in _FINISHED_OK]
        return cls(objects=found)

    @classmethod
    @base.remotable
    def get_in_progress_by_host_and_node(cls, context, host, node):
        """Return the unfinished migrations touching ``host``/``node``."""
        found = [m for m in base.DB["migrations"].values() if _on(m, host, node) and m.status not in _FINISHED]
        return cls(objects=found)
