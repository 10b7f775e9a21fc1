"""Record into memory inside tests.

    from tracer.testing import capture

    with capture() as records:
        run_code_under_test()
    assert any(r["name"] == "db.Migration.save" for r in records.spans)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from .record.api import start
from .record.sink import MemorySink


class Captured:
    """What a ``capture()`` block recorded, decoded into plain dicts."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.sink = MemorySink()

    def _load(self) -> None:
        self.records = [orjson.loads(line) for line in self.sink.lines()]

    @property
    def header(self) -> dict[str, Any]:
        """The header record."""
        return self.records[0]

    @property
    def spans(self) -> list[dict[str, Any]]:
        """Every finished span as a dict with the format's column names and ``attrs``."""
        return self._rows("spans")

    @property
    def open_spans(self) -> list[dict[str, Any]]:
        """Spans still open when their batch was written."""
        return self._rows("open")

    @property
    def marks(self) -> list[dict[str, Any]]:
        """Every mark as a dict."""
        return self._rows("marks")

    def _rows(self, kind: str) -> list[dict[str, Any]]:
        from .record.format import iter_rows

        return [row for r in self.records if r["type"] == kind for row in iter_rows(r)]

    @property
    def lanes(self) -> dict[int, dict[str, Any]]:
        """Lane records by lane id (the last record of a lane wins)."""
        return {r["lane"]: r for r in self.records if r["type"] == "lane"}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


@contextmanager
def capture(**options: Any) -> Iterator[Captured]:
    """Record everything inside the block into memory; decode it when the block ends."""
    captured = Captured()
    options.setdefault("handle_sigterm", False)
    recording = start(sink=captured.sink, **options)
    try:
        yield captured
    finally:
        recording.stop()
        captured._load()
