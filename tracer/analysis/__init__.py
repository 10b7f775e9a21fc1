"""Analysis core: load traces into numpy columns, find hazards (no Qt here)."""

from __future__ import annotations

from .errors import TraceError
from .loader import LoadResult, load
from .model import (
    LOCK_HELD_KIND,
    LOCK_OTHER_KIND,
    LOCK_WAIT_KIND,
    LaneTable,
    LockTable,
    MarkTable,
    SpanTable,
    Trace,
    TraceFile,
)
from .report import FileReport, LoadReport

__all__ = [
    "LOCK_HELD_KIND",
    "LOCK_OTHER_KIND",
    "LOCK_WAIT_KIND",
    "FileReport",
    "LaneTable",
    "LoadReport",
    "LoadResult",
    "LockTable",
    "MarkTable",
    "SpanTable",
    "Trace",
    "TraceError",
    "TraceFile",
    "load",
]
