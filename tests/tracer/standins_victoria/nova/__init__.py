"""Stand-in for OpenStack Nova 22.0.0 (Victoria), for racelane's profile tests.

It differs from ../standins where 22.0.0 differs from the newest release: no
``ResourceTracker.finish_evacuation``, ``PciDevTracker.clean_usage`` takes
``orphans``, list queries are ``@base.remotable_classmethod`` and the
evacuation marks its migration done through ``_set_migration_status``.
"""
