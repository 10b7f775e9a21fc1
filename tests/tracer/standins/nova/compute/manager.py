"""Stand-in for nova.compute.manager (newest-release signatures)."""

import contextlib
import functools


def wrap_exception():
    """Stand-in for nova.exception_wrapper.wrap_exception."""

    def decorator(function):
        @functools.wraps(function)
        def wrapped(self, context, *args, **kwargs):
            return function(self, context, *args, **kwargs)

        return wrapped

    return decorator


def reverts_task_state(function):
    """Reset the task state when the call fails."""

    @functools.wraps(function)
    def decorated_function(self, context, *args, **kwargs):
        try:
            return function(self, context, *args, **kwargs)
        except Exception:
            instance = kwargs.get("instance")
            if instance is not None:
                instance.task_state = None
            raise

    return decorated_function


def wrap_instance_event(prefix):
    """Record an instance action event around the call."""

    def helper(function):
        @functools.wraps(function)
        def decorated_function(self, context, *args, **kwargs):
            self.events.append(f"{prefix}_{function.__name__}")
            return function(self, context, *args, **kwargs)

        return decorated_function

    return helper


def wrap_instance_fault(function):
    """Record a fault for the instance when the call fails."""

    @functools.wraps(function)
    def decorated_function(self, context, *args, **kwargs):
        try:
            return function(self, context, *args, **kwargs)
        except Exception as err:
            self.faults.append(repr(err))
            raise

    return decorated_function


class ComputeManager:
    """The compute service of one host."""

    def __init__(self, host, rt):
        self.host = host
        self.rt = rt
        self.events = []
        self.faults = []

    @wrap_exception()
    @reverts_task_state
    @wrap_instance_event(prefix="compute")
    @wrap_instance_fault
    def rebuild_instance(
        self,
        context,
        instance,
        orig_image_ref,
        image_ref,
        injected_files,
        new_pass,
        orig_sys_metadata,
        bdms,
        recreate,
        on_shared_storage,
        preserve_ephemeral,
        migration,
        scheduled_node,
        limits,
        request_spec,
        accel_uuids,
        reimage_boot_volume=None,
        target_state=None,
    ):
        """Rebuild ``instance``, here or (``recreate``) on this host after an evacuation."""
        allocations = {}
        claim = (
            self.rt.rebuild_claim(
                context, instance, scheduled_node, allocations, limits=limits, image_meta=None, migration=migration
            )
            if recreate
            else contextlib.nullcontext()
        )
        try:
            with claim:
                self._do_rebuild_instance(
                    context,
                    instance,
                    orig_image_ref,
                    None,
                    injected_files,
                    new_pass,
                    orig_sys_metadata,
                    bdms,
                    recreate,
                    on_shared_storage,
                    preserve_ephemeral,
                    migration,
                    request_spec,
                    allocations,
                    {},
                    accel_uuids,
                    reimage_boot_volume,
                    target_state,
                )
        except Exception:
            self._set_migration_status(migration, "failed")
            raise
        if recreate:
            self.rt.finish_evacuation(instance, scheduled_node, migration)

    def _do_rebuild_instance(
        self,
        context,
        instance,
        orig_image_ref,
        image_meta,
        injected_files,
        new_pass,
        orig_sys_metadata,
        bdms,
        evacuate,
        on_shared_storage,
        preserve_ephemeral,
        migration,
        request_spec,
        allocations,
        request_group_resource_providers_mapping,
        accel_uuids,
        reimage_boot_volume,
        target_state,
    ):
        if evacuate:
            self.rt.pci_tracker.allocate_instance(instance)
        instance.task_state = None
        instance.vm_state = target_state or "active"
        instance.save(expected_task_state=["rebuild_spawning"])

    @staticmethod
    def _set_migration_status(migration, status):
        if migration:
            migration.status = status
            migration.save()
