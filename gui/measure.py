"""Measuring on the timeline: a time interval, and the statistics of an area (lanes by time range). No Qt here.

A *measure* is an interval dragged across the timeline; an *area* is an
interval and the lanes the drag went over. ``area_stats`` sums, per span
name, the spans of those lanes that overlap the interval: how many, their
time inside the interval (spans are cut at its edges, as Perfetto's area
aggregation does), and their whole durations. Times are ns since the
trace's start, like the timeline's x axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tracer.analysis import Trace

from .layout import LaneLayout


@dataclass(frozen=True)
class Selection:
    """A measured interval (``lanes`` empty) or an area selection, in ns since the trace's start."""

    start: float
    end: float
    lanes: tuple[int, ...] = ()
    y_top: float = 0.0  # layout px the drag covered (areas only)
    y_bottom: float = 0.0

    @classmethod
    def between(cls, t_a: float, t_b: float, lanes: tuple[int, ...] = (), y_a: float = 0.0, y_b: float = 0.0) -> Selection:
        """Return the selection between two points, in either order."""
        return cls(min(t_a, t_b), max(t_a, t_b), lanes, min(y_a, y_b), max(y_a, y_b))

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def is_area(self) -> bool:
        return bool(self.lanes)


def lanes_between(layout: LaneLayout, y_top: float, y_bottom: float) -> tuple[int, ...]:
    """Return the shown lanes that reach into ``[y_top, y_bottom]`` (layout px), top to bottom."""
    lo, hi = min(y_top, y_bottom), max(y_top, y_bottom)
    return tuple(e.lane for e in layout.entries_between(lo, hi) if e.kind == "lane" and e.y + e.height > lo and e.y <= hi)


@dataclass
class NameStats:
    """The spans of one name in an area."""

    name: str
    category: str
    count: int
    inside_ns: int  # time inside the interval, summed
    whole_ns: int  # whole durations, summed
    max_ns: int  # the longest whole duration
    open: int  # how many are unfinished

    @property
    def mean_inside_ns(self) -> float:
        return self.inside_ns / self.count if self.count else 0.0

    @property
    def mean_ns(self) -> float:
        return self.whole_ns / self.count if self.count else 0.0


@dataclass
class AreaStats:
    """Statistics of the spans of some lanes overlapping an interval; ``names`` by time inside, most first."""

    start: float
    end: float
    lanes: tuple[int, ...]
    rows: np.ndarray  # the span rows counted
    names: list[NameStats] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def inside_ns(self) -> int:
        return sum(n.inside_ns for n in self.names)


def area_rows(trace: Trace, lanes: tuple[int, ...] | list[int], start: float, end: float) -> np.ndarray:
    """Return the span rows of ``lanes`` that overlap ``[start, end]`` (ns since start; touching counts), ascending."""
    spans = trace.spans
    if not len(spans) or not len(lanes):
        return np.zeros(0, np.int64)
    lo = trace.t0_ns + int(np.floor(start))
    hi = trace.t0_ns + int(np.ceil(end))
    stop = int(np.searchsorted(spans.start_ns, hi, side="right"))  # spans are in start order
    wanted = np.zeros(len(trace.lanes), bool)
    wanted[list(lanes)] = True
    keep = wanted[spans.lane[:stop]] & (spans.end_ns[:stop] >= lo)
    return np.flatnonzero(keep).astype(np.int64)


def area_stats(trace: Trace, lanes: tuple[int, ...] | list[int], start: float, end: float) -> AreaStats:
    """Return the per-name statistics of the spans of ``lanes`` overlapping ``[start, end]``.

    Complexity: O(spans starting before ``end``), all numpy.
    """
    rows = area_rows(trace, lanes, start, end)
    stats = AreaStats(start, end, tuple(lanes), rows)
    if not len(rows):
        return stats
    spans = trace.spans
    lo = trace.t0_ns + int(np.floor(start))
    hi = trace.t0_ns + int(np.ceil(end))
    s, e = spans.start_ns[rows], spans.end_ns[rows]
    inside = np.minimum(e, hi) - np.maximum(s, lo)
    inside = np.maximum(inside, 0)
    whole = e - s
    names, which, count = np.unique(spans.name[rows], return_inverse=True, return_counts=True)
    order = np.argsort(which, kind="stable")  # rows grouped by name, each group in start order
    cuts = np.concatenate(([0], np.cumsum(count)[:-1]))
    inside_sum = np.add.reduceat(inside[order], cuts)
    whole_sum = np.add.reduceat(whole[order], cuts)
    longest = np.maximum.reduceat(whole[order], cuts)
    opened = np.add.reduceat(spans.open[rows][order].astype(np.int64), cuts)
    first = rows[order][cuts]  # the first span of each name: its category
    for k in np.lexsort((names, -inside_sum)).tolist():
        stats.names.append(NameStats(trace.names[int(names[k])], trace.cats[int(spans.cat[first[k]])], int(count[k]),
                                     int(inside_sum[k]), int(whole_sum[k]), int(longest[k]), int(opened[k])))
    return stats

