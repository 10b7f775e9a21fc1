"""What the viewer shows, gathered from the analysis core (no Qt here).

``ViewerData`` holds a loaded trace, its load report and the hazard analysis,
plus the viewer's own indexes (``RowIndex``). ``HazardList`` reads the
analysis' hazard table as columns: class, times, title and the lanes each
hazard's windows ran on; a hazard's full description (explanation, spans) is
asked of the analysis only when it is shown, and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tracer.analysis import LoadResult, Trace
from tracer.analysis.hazards import CLASS_NAMES, Analysis

from .rows import RowIndex


class HazardList:
    """The hazards of an analysis, as columns the viewer draws and lists."""

    def __init__(self, analysis: Analysis | None, t0_ns: int) -> None:
        self.analysis = analysis
        table = analysis.table if analysis is not None else None
        n = len(table) if table is not None else 0
        self.count = n
        self.cls = table.cls.astype(np.int64) if table is not None else np.zeros(0, np.int64)
        self.start = (table.start_ns - t0_ns) if table is not None else np.zeros(0, np.int64)
        self.end = (table.end_ns - t0_ns) if table is not None else np.zeros(0, np.int64)
        self.lane_a = np.full(n, -1, np.int64)
        self.lane_b = np.full(n, -1, np.int64)
        # What to show when a hazard is selected: both windows whole (the straddle
        # is the story), unless they dwarf the overlap itself.
        self.view_start = self.start.copy()
        self.view_end = self.end.copy()
        self.titles: list[str] = []
        self._described: dict[int, dict[str, Any]] = {}
        if analysis is None or table is None:
            return
        rules = analysis.rules
        n_overlap = len(rules.hazards)
        titles = [h.title for h in rules.hazards] + [d.title for d in rules.disciplines]
        self.titles = [titles[int(r)] for r in table.rule.tolist()]
        for r in np.unique(table.rule).tolist():
            sel = np.flatnonzero(table.rule == r)
            if r < n_overlap:
                wa, wb = (analysis.windows[w] for w in rules.hazards[r].windows)
                self.lane_a[sel] = wa.lane[table.a[sel]]
                self.lane_b[sel] = wb.lane[table.b[sel]]
                lo = np.minimum(wa.start_ns[table.a[sel]], wb.start_ns[table.b[sel]]) - t0_ns
                hi = np.maximum(wa.end_ns[table.a[sel]], wb.end_ns[table.b[sel]]) - t0_ns
                overlap = np.maximum(self.end[sel] - self.start[sel], 1)
                fits = (hi - lo) <= 50 * overlap
                self.view_start[sel] = np.where(fits, lo, self.start[sel])
                self.view_end[sel] = np.where(fits, hi, self.end[sel])
            else:
                wset = analysis.windows[rules.disciplines[r - n_overlap].window]
                self.lane_a[sel] = wset.lane[table.a[sel]]

    def __len__(self) -> int:
        return self.count

    def class_name(self, i: int) -> str:
        """Return the class of hazard ``i`` (confirmed, unprotected, potential, uncertain, serialized)."""
        return CLASS_NAMES[int(self.cls[i])]

    def lanes(self, i: int) -> list[int]:
        """Return the lanes hazard ``i`` involves (one or two)."""
        return sorted({int(x) for x in (self.lane_a[i], self.lane_b[i]) if x >= 0})

    def describe(self, i: int) -> dict[str, Any]:
        """Return the analysis' description of hazard ``i`` (computed once)."""
        found = self._described.get(i)
        if found is None and self.analysis is not None:
            found = self.analysis.hazard(i)
            self._described[i] = found
        return found or {}


@dataclass
class ViewerData:
    """A loaded trace and everything derived from it that the viewer draws."""

    result: LoadResult
    analysis: Analysis | None = None
    sources: list[str] = field(default_factory=list)
    rules_name: str = ""
    # A view derived from loaded data (categories hidden, or pivoted by an attribute; see ``gui.filters``):
    # the data it came from, and the row there of each of its spans and marks.
    base: ViewerData | None = None
    base_row: np.ndarray | None = None
    base_mark_row: np.ndarray | None = None
    # The trace's row index when already built (a followed trace's, derived from the last update's); None: build it.
    row_index: RowIndex | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.trace: Trace = self.result.trace
        self.report = self.result.report
        self.index = self.row_index if self.row_index is not None else RowIndex(self.trace)
        self.row_index = None  # ``index`` holds it; a derived view builds its own
        self.hazards = HazardList(self.analysis, self.trace.t0_ns)
        self.open_by_pos = self.index.open_by_pos
        marks = self.trace.marks
        self.mark_ts = marks.ts_ns - self.trace.t0_ns
        self.mark_lane = marks.lane.astype(np.int64)

    def set_analysis(self, analysis: Analysis, rules_name: str) -> None:
        """Attach the hazard analysis (done after the first frame, so spans show first)."""
        self.analysis = analysis
        self.rules_name = rules_name
        self.hazards = HazardList(analysis, self.trace.t0_ns)

    def set_analysis_pending(self) -> None:
        """Drop the hazards: a new analysis (another rule set) is on its way."""
        self.analysis = None
        self.rules_name = ""
        self.hazards = HazardList(None, self.trace.t0_ns)

    def origin(self, row: int) -> tuple[ViewerData, int]:
        """Return the loaded data, and the span row there, that span ``row`` of this view shows."""
        if self.base is None or self.base_row is None:
            return self, row
        return self.base.origin(int(self.base_row[row]))

    def origin_mark(self, row: int) -> tuple[ViewerData, int]:
        """Return the loaded data, and the mark row there, that mark ``row`` of this view shows."""
        if self.base is None or self.base_mark_row is None:
            return self, row
        return self.base.origin_mark(int(self.base_mark_row[row]))

    def view_rows(self, base_rows: np.ndarray) -> np.ndarray:
        """Return the span rows of this view that show any of ``base_rows`` (rows of the loaded data), ascending."""
        rows = np.asarray(base_rows, np.int64)
        if self.base is None or self.base_row is None:
            return rows
        return np.flatnonzero(np.isin(self.base_row, self.base.view_rows(rows)))

    def view_marks(self, base_rows: np.ndarray) -> np.ndarray:
        """Return the mark rows of this view that show any of ``base_rows``, ascending."""
        rows = np.asarray(base_rows, np.int64)
        if self.base is None or self.base_mark_row is None:
            return rows
        return np.flatnonzero(np.isin(self.base_mark_row, self.base.view_marks(rows)))

    @property
    def root(self) -> ViewerData:
        """Return the loaded data this view derives from (itself when loaded)."""
        return self if self.base is None else self.base.root

    @property
    def duration_ns(self) -> int:
        """Return the span of the trace in ns (at least 1)."""
        return self.index.duration_ns
