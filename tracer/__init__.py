"""racelane's recorder: spans, marks and lock events into JSON Lines.

    import tracer

    with tracer.start("trace-{host}-{pid}.jsonl"):
        with tracer.span("db.InstanceList.get_by_host_and_node", cat="db", host="host2") as s:
            s.set("result_uuids", uuids)
        tracer.mark("migration status", cat="evacuation", before="pre-migrating", after="done")

Importing this package is cheap (standard library only); serialization and
lane tracking load when recording starts.
"""

from __future__ import annotations

from .record.api import (
    Recording,
    apply_profile,
    instrument,
    is_recording,
    start,
    stop,
    traced_lock,
    uninstrument,
)
from .record.core import SpanHandle, adopt, current, mark, span, traced

__all__ = [
    "Recording",
    "SpanHandle",
    "adopt",
    "apply_profile",
    "current",
    "instrument",
    "is_recording",
    "mark",
    "span",
    "start",
    "stop",
    "traced",
    "traced_lock",
    "uninstrument",
]

__version__ = "0.1.0"
