"""Names and numbers of the racelane trace format (see docs/FORMAT.md).

A trace file is JSON Lines. The first line is a ``header``; after it come
``lane``, ``spans``, ``open``, ``marks`` and ``stats`` lines in any order, and
an ``end`` line when the process stopped recording cleanly. Spans and marks
travel in batches (``rows``), one JSON array per span, so that one
``orjson.dumps`` call serializes many spans.
"""

from __future__ import annotations

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
SPAN_COLUMNS = ("id", "parent", "lane", "start_ns", "end_ns", "name", "cat", "attrs", "error")
# Column order of a row in an ``open`` line (a span still running at flush time).
OPEN_COLUMNS = ("id", "parent", "lane", "start_ns", "name", "cat", "attrs")
# Column order of a row in a ``marks`` line.
MARK_COLUMNS = ("lane", "ts_ns", "name", "cat", "attrs", "span")

LOCK_CATEGORY = "lock"
LOCK_WAIT = "lock.wait"
LOCK_HELD = "lock.held"

# Most rows one ``spans`` line carries; keeps lines well under readers' size cap.
ROWS_PER_LINE = 1024
