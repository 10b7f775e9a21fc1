"""Names and numbers of the racelane trace format (see docs/FORMAT.md).

A trace file is JSON Lines. The first line is a ``header``; after it come
``lane``, ``spans``, ``open``, ``marks`` and ``stats`` lines in any order, and
an ``end`` line when the process stopped recording cleanly. Spans and marks
travel in batches: ``rows`` holds one JSON array of plain columns per span,
and ``attrs`` (the last key of the line) the attribute objects, one per row,
so that one ``orjson.dumps`` call serializes many spans and a reader can
leave the attributes unparsed until a span is inspected.
"""


from __future__ import annotations

from collections.abc import Iterator
from typing import Any

FORMAT_NAME = "racelane"
FORMAT_VERSION = 1

HEADER = "header"
LANE = "lane"
SPANS = "spans"
OPEN = "open"
MARKS = "marks"
STATS = "stats"
END = "end"

# Column order of a row in a ``spans`` line.
SPAN_COLUMNS = ("id", "parent", "lane", "start_ns", "end_ns", "name", "cat", "error")
# Column order of a row in an ``open`` line (a span still running at flush time).
OPEN_COLUMNS = ("id", "parent", "lane", "start_ns", "name", "cat")
# Column order of a row in a ``marks`` line.
MARK_COLUMNS = ("lane", "ts_ns", "name", "cat", "span")
COLUMNS = {SPANS: SPAN_COLUMNS, OPEN: OPEN_COLUMNS, MARKS: MARK_COLUMNS}

LOCK_CATEGORY = "lock"
LOCK_WAIT = "lock.wait"
LOCK_HELD = "lock.held"

# Most rows one ``spans`` line carries; keeps lines well under readers' size cap.
ROWS_PER_LINE = 1024
# Longest line a writer produces and a reader accepts by default.
MAX_LINE_BYTES = 1 << 20


def iter_rows(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield each row of a ``spans``, ``open`` or ``marks`` record as a dict, attributes included."""
    columns = COLUMNS.get(record.get("type", ""))
    if columns is None:
        return
    rows = record.get("rows") or []
    attrs = record.get("attrs") or []
    for i, row in enumerate(rows):
        item = dict(zip(columns, row))
        item["attrs"] = attrs[i] if i < len(attrs) else None
        yield item
