"""Stand-in for nova.objects.migration_context."""

from nova.objects import base


class MigrationContext(base.NovaObject):
    """What an instance needs while it moves."""

    fields = ("instance_uuid", "migration_id")
