"""Stand-in for nova.utils."""

import functools

from oslo_concurrency import lockutils

synchronized = functools.partial(lockutils.synchronized, lock_file_prefix="nova-")
