"""What a follower hands the live trace: the rows one read added to one process, and span id lookups.

``SegmentRows`` is what ``FileParser.take`` pointed at, copied before the
parser reuses its columns; ``IdIndex`` finds the entry of a span id within one
process as ids arrive (the recorder numbers spans one after another, so a
table over their range does, where ids are scattered a dict does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tracer.record.format import MARK_COLUMNS, OPEN_COLUMNS, SPAN_COLUMNS

from ._buffer import Columns
from ._columns import RowTable
from ._file import FileData, LaneInfo, Sinks
from .report import FileReport

SPAN_DTYPES = RowTable.dtypes(SPAN_COLUMNS)
OPEN_DTYPES = RowTable.dtypes(OPEN_COLUMNS)
MARK_DTYPES = RowTable.dtypes(MARK_COLUMNS)


def _empty(dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
    """Return empty read-only columns, shared by the reads without rows of that kind (most hold no unfinished spans or marks)."""
    columns = {name: np.zeros(0, dtype) for name, dtype in dtypes.items()}
    for column in columns.values():
        column.flags.writeable = False
    return columns


_NO_SPANS, _NO_OPENS, _NO_MARKS = _empty(SPAN_DTYPES), _empty(OPEN_DTYPES), _empty(MARK_DTYPES)


@dataclass
class SegmentRows:
    """The rows one read added to one process of a followed file, and that process's facts so far.

    Columns are copies (``RowTable.dtypes`` of the format's columns, plus
    ``attrs_ref``); times are on the process's own clock. ``span_errors``
    maps positions in ``spans`` to their ``(type, message)``.
    """

    source: int  # the followed file, by its place in the follower's order
    path: str
    report: FileReport  # the segment's report, kept up to date by its parser
    header: dict[str, Any]
    clock_offset_ns: int
    clock_source: str
    lanes: dict[int, LaneInfo]
    end_ns: int | None
    spans: dict[str, np.ndarray]
    span_errors: dict[int, tuple[str, str]]
    opens: dict[str, np.ndarray]
    marks: dict[str, np.ndarray]
    settled: bool = True  # the read ended at the end of a line (nothing of this process is half read)

    @classmethod
    def copy_of(cls, source: int, path: str, data: FileData, sinks: Sinks, settled: bool = True) -> SegmentRows:
        """Copy the rows ``data`` points at in ``sinks`` (before the parser reuses them)."""
        def cut(columns: Columns, rows: tuple[int, int], empty: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            if rows[0] == rows[1]:
                return empty
            return {name: columns[name][rows[0] : rows[1]].copy() for name in empty}

        first = data.spans[0]
        return cls(
            source=source, path=path, report=data.report, header=data.header, clock_offset_ns=data.clock_offset_ns,
            clock_source=data.clock_source, lanes=_copy_lanes(data.lanes), end_ns=data.end_ns,
            spans=cut(sinks.spans, data.spans, _NO_SPANS),
            span_errors={row - first: error for row, error in data.span_errors.items()},
            opens=cut(sinks.opens, data.opens, _NO_OPENS), marks=cut(sinks.marks, data.marks, _NO_MARKS),
            settled=settled,
        )


class IdIndex:
    """Span id -> uid within one process: a table over the id range (recorder ids are consecutive), else a dict."""

    DENSE = 4

    def __init__(self) -> None:
        self.low = 0
        self.table: np.ndarray | None = None
        self.count = 0
        self.high = 0  # the highest id added
        self.ids: dict[int, int] | None = None  # when ids are too sparse for a table

    def all_new(self, ids: np.ndarray) -> bool:
        """Return True when every id is above those added so far (so unknown): a recorder numbers spans upwards.

        A quick test for the usual case (``lookup`` settles the others).
        """
        return self.count == 0 or int(ids.min()) > self.high

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Return the uid of each id (uint64), -1 when unknown (0 is never a span)."""
        if len(ids) == 0:
            return np.zeros(0, np.int64)
        if self.ids is not None:
            get = self.ids.get
            return np.fromiter((get(i, -1) for i in ids.tolist()), np.int64, len(ids))
        if self.table is None:
            return np.full(len(ids), -1, np.int64)
        offset = ids - np.uint64(self.low)  # wraps below ``low``: out of range like ids above
        inside = (offset < np.uint64(len(self.table))) & (ids != 0)
        found = self.table[np.where(inside, offset, 0).astype(np.int64)]
        return np.where(inside, found, -1)

    def add(self, ids: np.ndarray, uids: np.ndarray) -> None:
        """Map new ids (unique, not yet known) to ``uids``."""
        if len(ids) == 0:
            return
        self.count += len(ids)
        self.high = max(self.high, int(ids.max()))
        if self.ids is None:
            low, high = int(ids.min()), int(ids.max())
            if self.table is not None:
                low, high = min(low, self.low), max(high, self.low + len(self.table) - 1)
            if high - low >= self.DENSE * self.count + 65536:
                self.ids = {}
                if self.table is not None:
                    known = np.flatnonzero(self.table >= 0)
                    self.ids.update(zip((known + self.low).tolist(), self.table[known].tolist()))
                    self.table = None
            else:
                if self.table is None or low < self.low or high >= self.low + len(self.table):
                    size = high - low + 1
                    grown = np.full(size + size // 2 + 1024, -1, np.int64)
                    if self.table is not None:
                        grown[self.low - low : self.low - low + len(self.table)] = self.table
                    self.table, self.low = grown, low
                self.table[(ids - np.uint64(self.low)).astype(np.int64)] = uids
                return
        self.ids.update(zip(ids.tolist(), uids.tolist()))



def _copy_lanes(lanes: dict[int, LaneInfo]) -> dict[int, LaneInfo]:
    return {k: LaneInfo(v.kind, v.name, v.native_id, v.spawned_by) for k, v in lanes.items()}
