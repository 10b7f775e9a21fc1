"""Search results as the timeline shows them: matches in time order, a cursor to walk them, and their outlines.

``tracer.analysis.search`` finds the rows of the loaded trace a query
matches. ``Matches`` places them in the view the timeline shows (a filtered
or pivoted view has its own rows; a span in two pivot lanes matches twice),
leaves out those in hidden lanes (counted apart), and orders spans and
marks together by time. ``outline_rects`` turns the matches in a range into
rectangles: one per match at least two pixels wide, and one per run of
touching pixel columns of a row for the narrower ones, so a million
matches zoomed out still draw as a few thousand rectangles; ``mark_points``
places the marks that match. No Qt here.
"""

from __future__ import annotations

import numpy as np

from tracer.analysis.search import SearchHits

from .data import ViewerData
from .layout import ROW_H, LaneLayout

SPAN, MARK = 0, 1
MIN_PX = 3.0  # a match is never drawn narrower than this


class Matches:
    """The matches of one query in one view, in time order, with the current one; see the module docstring."""

    def __init__(self, query: str, hits: SearchHits, view: ViewerData, hidden_lanes: frozenset[int] = frozenset()) -> None:
        self.query = query
        self.total = len(hits)  # matches in the loaded trace
        trace = view.trace
        t0 = trace.t0_ns
        spans = view.view_rows(hits.spans)
        marks = view.view_marks(hits.marks)
        if hidden_lanes:
            gone = np.zeros(len(trace.lanes), bool)
            gone[sorted(hidden_lanes)] = True
            spans = spans[~gone[trace.spans.lane[spans]]]
            marks = marks[~gone[trace.marks.lane[marks]]]
        shown_base = len(np.unique(view.base_row[spans])) if view.base_row is not None else len(spans)
        shown_base += len(np.unique(view.base_mark_row[marks])) if view.base_mark_row is not None else len(marks)
        self.hidden = self.total - shown_base  # matches left out by the filters
        time = np.concatenate((trace.spans.start_ns[spans] - t0, trace.marks.ts_ns[marks] - t0)).astype(np.float64)
        order = np.argsort(time, kind="stable")
        self.time = time[order]
        self.kind = np.concatenate((np.full(len(spans), SPAN, np.int8), np.full(len(marks), MARK, np.int8)))[order]
        self.row = np.concatenate((spans, marks)).astype(np.int64)[order]
        self.end = np.concatenate((trace.spans.end_ns[spans] - t0, trace.marks.ts_ns[marks] - t0)).astype(np.float64)[order]
        self.lane = np.concatenate((trace.spans.lane[spans], trace.marks.lane[marks])).astype(np.int64)[order]
        self.span_rows = spans  # ascending
        self.mark_rows = marks
        self._draw_row = view.index.span_row[spans].astype(np.int64) if len(spans) else np.zeros(0, np.int64)
        self._span_start = (trace.spans.start_ns[spans] - t0).astype(np.float64)
        self._span_end = (trace.spans.end_ns[spans] - t0).astype(np.float64)
        self._mark_time = (trace.marks.ts_ns[marks] - t0).astype(np.float64)
        self._mark_lane = trace.marks.lane[marks].astype(np.int64)
        self.current = -1

    def __len__(self) -> int:
        return len(self.row)

    def step(self, forward: bool, from_ns: float | None = None) -> int:
        """Move to the next (or previous) match and return its position, -1 when there is none.

        Before the first step, the walk starts at the first match at or after
        ``from_ns`` (the last one before it going backwards); after the last
        match it wraps around.
        """
        n = len(self)
        if n == 0:
            self.current = -1
        elif self.current < 0:
            at = int(np.searchsorted(self.time, -np.inf if from_ns is None else from_ns, side="left"))
            self.current = (at if forward else at - 1) % n
        else:
            self.current = (self.current + (1 if forward else -1)) % n
        return self.current

    def status(self) -> str:
        """Return how many matches there are and which one is current: ``3 of 17 (2 not in this view)``."""
        if not self.query.strip():
            return ""
        hidden = f" ({self.hidden:,} not in this view)" if self.hidden else ""
        if not len(self):
            return f"no matches{hidden}"
        where = f"{self.current + 1} of {len(self):,}" if self.current >= 0 else f"{len(self):,} matches"
        return where + hidden

    def outline_rects(self, layout: LaneLayout, t_lo: float, t_hi: float, ns_per_px: float) -> np.ndarray:
        """Return (n, 4) rectangles (x in columns of ``ns_per_px`` from 0, y in layout px) around span matches in range."""
        if not len(self._draw_row):
            return np.zeros((0, 4))
        y = layout.row_y[self._draw_row]
        keep = np.isfinite(y) & (self._span_end >= t_lo) & (self._span_start <= t_hi)
        return outline_rects(self._span_start[keep], self._span_end[keep], y[keep], np.full(int(keep.sum()), ROW_H),
                             t_lo, t_hi, ns_per_px)

    def mark_points(self, layout: LaneLayout, t_lo: float, t_hi: float, ns_per_px: float) -> np.ndarray:
        """Return (n, 2) (column, lane top in layout px) of the mark matches in range, one per column and lane."""
        if not len(self._mark_time):
            return np.zeros((0, 2))
        top = layout.lane_y[self._mark_lane]
        keep = (top >= 0) & (self._mark_time >= t_lo) & (self._mark_time <= t_hi)
        points = np.column_stack((np.floor(self._mark_time[keep] / ns_per_px), top[keep]))
        return np.unique(points, axis=0) if len(points) else points


def outline_rects(start: np.ndarray, end: np.ndarray, y: np.ndarray, height: np.ndarray, t_lo: float, t_hi: float,
                  ns_per_px: float) -> np.ndarray:
    """Return (x, y, w, h) rectangles, x in columns (``t / ns_per_px``), for items ``[start, end]`` at ``y``.

    Items at least two columns wide get their own rectangle (clipped a little
    outside ``[t_lo, t_hi]``); narrower ones become ``MIN_PX`` wide and those
    of one ``y`` whose columns touch are merged.
    """
    if not len(start):
        return np.zeros((0, 4))
    c0 = start / ns_per_px
    c1 = end / ns_per_px
    lo, hi = t_lo / ns_per_px - 4.0, t_hi / ns_per_px + 4.0
    wide = (c1 - c0) >= 2.0
    x0 = np.maximum(c0[wide], lo)
    x1 = np.minimum(c1[wide], hi)
    out = [np.column_stack((x0, y[wide], x1 - x0, height[wide]))]
    if (~wide).any():
        centre = np.floor((c0[~wide] + c1[~wide]) / 2)
        ny, nh = y[~wide], height[~wide]
        order = np.lexsort((centre, ny))
        centre, ny, nh = centre[order], ny[order], nh[order]
        # A new run starts where the row changes or the next centre is more than MIN_PX columns on.
        new = np.ones(len(centre), bool)
        new[1:] = (ny[1:] != ny[:-1]) | (centre[1:] - centre[:-1] > MIN_PX)
        first = np.flatnonzero(new)
        last = np.append(first[1:], len(centre)) - 1
        left = centre[first] - MIN_PX // 2
        right = centre[last] + MIN_PX // 2 + 1
        out.append(np.column_stack((left, ny[first], right - left, nh[first])))
    return np.concatenate(out)
