"""What the timeline shows of the loaded data: categories, hosts and lanes hidden, or a pivot by attribute.

A ``ViewFilter`` says what to leave out. Hiding lanes (one, or a host's or a
process's) is a matter of layout: the lanes leave the tree and everything
else stays. Hiding categories, or pivoting, makes a *derived view*: a
``ViewerData`` over a new ``Trace`` holding only the spans and marks shown,
with the row each came from (``ViewerData.base_row``), so search hits,
selections and the details panel map between the two. Its hazards are the
loaded data's, with their lanes moved to the view's lanes. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from tracer.analysis import LoadResult, SpanTable, Trace

from .data import HazardList, ViewerData
from .pivot import PivotValues, errors_of, pivot_trace

_CANDIDATES = 4096  # spans looked at, per hazard and lane, to place a hazard in a pivot's lanes


@dataclass(frozen=True)
class ViewFilter:
    """What to leave out of the loaded data, and the pivot (attribute keys, empty for thread lanes)."""

    hidden_cats: frozenset[int] = frozenset()  # categories (indices into Trace.cats)
    hidden_lanes: frozenset[int] = frozenset()  # lanes of the loaded trace (hiding a host hides its lanes)
    pivot: tuple[str, ...] = ()
    hidden_values: frozenset[str] = frozenset()  # pivot lanes hidden, by value

    @property
    def derived(self) -> bool:
        """Whether the view needs derived data (not only another layout)."""
        return bool(self.hidden_cats or self.pivot)

    def data_key(self) -> tuple[Any, ...]:
        """Return what the derived data depends on (equal keys: the same derived data)."""
        return (self.hidden_cats, self.pivot, self.hidden_lanes if self.pivot else frozenset())

    def hidden_in(self, view: ViewerData) -> frozenset[int]:
        """Return the lanes of ``view`` (loaded or derived by this filter) to leave out of the layout."""
        if not self.pivot:
            return self.hidden_lanes
        labels = view.trace.lanes.label
        return frozenset(k for k, label in enumerate(labels) if label in self.hidden_values)


def derive(base: ViewerData, view_filter: ViewFilter, values: PivotValues | None = None) -> ViewerData:
    """Return the data the timeline shows for ``view_filter``: ``base`` itself, or a derived view.

    ``values`` must be given when the filter pivots (``PivotValues.read`` of
    its keys). Complexity: O(spans) numpy work, plus the pivot's layout.
    """
    if not view_filter.derived:
        return base
    trace = base.trace
    keep_span = np.ones(len(trace.spans), bool)
    keep_mark = np.ones(len(trace.marks), bool)
    if view_filter.hidden_cats:
        hidden = np.zeros(len(trace.cats), bool)
        hidden[sorted(view_filter.hidden_cats)] = True
        keep_span &= ~hidden[trace.spans.cat]
        keep_mark &= ~hidden[trace.marks.cat]
    if view_filter.pivot:
        if values is None or values.keys != view_filter.pivot:
            raise ValueError(f"pivot by {view_filter.pivot} needs its values, got {values and values.keys}")
        if view_filter.hidden_lanes:
            gone = np.zeros(len(trace.lanes), bool)
            gone[sorted(view_filter.hidden_lanes)] = True
            keep_span &= ~gone[trace.spans.lane]
            keep_mark &= ~gone[trace.marks.lane]
        derived, span_rows, mark_rows = pivot_trace(trace, values, keep_span, keep_mark)
    else:
        derived, span_rows, mark_rows = subset_trace(trace, keep_span, keep_mark)
    view = ViewerData(LoadResult(derived, base.report), analysis=base.analysis, sources=base.sources,
                      rules_name=base.rules_name, base=base, base_row=span_rows, base_mark_row=mark_rows)
    view.hazards = view_hazards(view, bool(view_filter.pivot))
    return view


def subset_trace(base: Trace, keep_span: np.ndarray, keep_mark: np.ndarray) -> tuple[Trace, np.ndarray, np.ndarray]:
    """Return ``(trace, base span rows, base mark rows)``: ``base`` with only the spans and marks kept.

    Lanes stay, and spans keep their depth and sub-row, so rows do not move
    when a category is hidden; a parent link to a span left out becomes -1.
    """
    s_row = np.flatnonzero(keep_span).astype(np.int64)
    m_row = np.flatnonzero(keep_mark).astype(np.int64)
    inverse = np.full(len(base.spans), -1, np.int64)
    inverse[s_row] = np.arange(len(s_row))
    columns = {f.name: getattr(base.spans, f.name)[s_row] for f in fields(base.spans)}
    columns["parent"] = _through(columns["parent"], inverse)
    marks = replace(base.marks, **{f.name: getattr(base.marks, f.name)[m_row] for f in fields(base.marks)})
    marks = replace(marks, span=_through(marks.span, inverse))
    trace = Trace(spans=SpanTable(**columns), marks=marks, lanes=base.lanes, files=base.files, names=base.names,
                  cats=base.cats, hosts=base.hosts, store=base.store, errors=errors_of(base, s_row),
                  host_offsets_ns=base.host_offsets_ns)
    trace.t0_ns, trace.end_ns = base.t0_ns, base.end_ns  # the same time axis, whatever was left out
    return trace, s_row, m_row


def _through(rows: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    return np.where(rows >= 0, inverse[np.maximum(rows, 0)], -1).astype(np.int64) if len(rows) else rows


class ViewHazards(HazardList):
    """The loaded data's hazards in a derived view: lanes of the view, span rows of the view."""

    def __init__(self, base: HazardList, view: ViewerData, lane_a: np.ndarray, lane_b: np.ndarray) -> None:
        self.__dict__.update(base.__dict__)  # the same columns (class, times, titles)
        self.base = base
        self.view = view
        self.lane_a = lane_a
        self.lane_b = lane_b
        self._described = {}

    def describe(self, i: int) -> dict[str, Any]:
        """Return the base description with each span's row replaced by the view rows showing it."""
        found = self._described.get(i)
        if found is None:
            found = dict(self.base.describe(i))
            spans = []
            for span in found.get("spans", []):
                for row in self.view.view_rows(np.array([int(span["row"])])).tolist():
                    spans.append({**span, "row": row})
            found["spans"] = spans
            self._described[i] = found
        return found


def view_hazards(view: ViewerData, pivot: bool) -> HazardList:
    """Return the hazards of ``view.base`` placed in ``view``'s lanes.

    Without a pivot the lanes are the same. In a pivot a hazard goes to the
    value lane holding most of the spans of its thread lane that overlap it
    (per side: the lanes of its two windows).
    """
    assert view.base is not None and view.base_row is not None
    base = view.base.hazards
    if not pivot:
        return ViewHazards(base, view, base.lane_a, base.lane_b)
    base_trace, trace = view.base.trace, view.trace
    t0 = trace.t0_ns
    start, end = trace.spans.start_ns - t0, trace.spans.end_ns - t0
    thread_lane = base_trace.spans.lane[view.base_row].astype(np.int64)
    order = np.lexsort((start, thread_lane))
    by_lane = thread_lane[order]
    ptr = np.searchsorted(by_lane, np.arange(len(base_trace.lanes) + 1))
    s_sorted, e_sorted = start[order], end[order]
    lane_of_row = trace.spans.lane.astype(np.int64)
    out = []
    for lanes in (base.lane_a, base.lane_b):
        mapped = np.full(len(lanes), -1, np.int64)
        for i, lane in enumerate(lanes.tolist()):
            if lane < 0:
                continue
            a, b = int(ptr[lane]), int(ptr[lane + 1])
            hi = a + int(np.searchsorted(s_sorted[a:b], base.end[i], side="right"))
            lo = max(a, hi - _CANDIDATES)
            hits = order[lo:hi][e_sorted[lo:hi] >= base.start[i]]
            if len(hits):
                mapped[i] = int(np.bincount(lane_of_row[hits]).argmax())
        out.append(mapped)
    return ViewHazards(base, view, out[0], out[1])
