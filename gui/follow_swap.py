"""Put a new update of a followed trace in the window in place of the one shown (``gui.follow``).

The timeline keeps its widgets, view range, scroll, filter and pivot; only
the data it draws changes, so new spans appear without the window being
rebuilt (no flicker, nothing the user set is lost).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import ViewerData
from .panels import LegendBar


def swap(window: Any, timeline: Any, data: ViewerData) -> None:
    """Show ``data`` in ``timeline`` in place of the trace it shows (the filter, pivot, collapsed groups kept).

    Raises AttributeError when the timeline is not the shape expected: the
    caller then shows the data whole.
    """
    from .filters import derive

    window.data = data
    selected_span = _span_identity(timeline)
    timeline.root = data
    for cache, empty in (("_pivot_values", {}), ("_pivot_keys", None), ("_hits", None)):
        setattr(timeline, cache, empty)
    view_filter = timeline.view_filter
    view = data
    if view_filter.derived:
        values = timeline.pivot_values(view_filter.pivot) if view_filter.pivot else None
        view = derive(data, view_filter, values)
    timeline.bands.selected_span = -1  # rows moved: found again below by span id
    timeline._show_view(view)
    duration = float(view.duration_ns)
    pad = max(duration * 0.02, (50.0 - duration) / 2)
    timeline.vb.setLimits(xMin=-pad, xMax=duration + pad, maxXRange=duration + 2 * pad)
    timeline._fit_pad = max(duration * 0.01, (50.0 - duration) / 2)
    for item in (getattr(timeline, "outlines", None), getattr(timeline, "overlay", None)):
        if item is not None:
            item.prepareGeometryChange()
            item.duration = max(duration, 1.0)
    if selected_span is not None:
        row = window_span_row(data, *selected_span)
        rows = view.view_rows([row]) if row >= 0 else []
        timeline.bands.selected_span = int(rows[0]) if len(rows) else -1
    if getattr(timeline, "matches", None) is not None:
        timeline._update_matches()
    legend = getattr(window, "legend", None)
    used = np.flatnonzero(np.bincount(data.trace.spans.cat, minlength=len(data.trace.cats))).tolist()
    if legend is not None and (legend.all_cats != data.trace.cats or legend.used != used):
        fresh = LegendBar(data.trace.cats, used, theme=window.theme)
        legend.parentWidget().layout().replaceWidget(legend, fresh)
        legend.deleteLater()
        window.legend = fresh


def _span_identity(timeline: Any) -> tuple[int, int] | None:
    """Return (file, span id) of the span selected in ``timeline``, or None."""
    row = timeline.bands.selected_span
    if row < 0:
        return None
    data, base = timeline.data.origin(row)
    spans = data.trace.spans
    return int(spans.file[base]), int(spans.span_id[base])


def window_span_row(data: ViewerData, file: int, span_id: int) -> int:
    """Return the row of the span of ``file`` with ``span_id`` in ``data`` (-1: not there)."""
    spans = data.trace.spans
    rows = np.flatnonzero((spans.span_id == np.uint64(span_id)) & (spans.file == file))
    return int(rows[0]) if len(rows) else -1


def refresh_hazards(window: Any, newest: bool = False) -> None:
    """List the hazards again, keeping the one selected (without zooming to it again); ``newest``: scroll to the last."""
    selected = window.timeline.bands.selected if window.timeline is not None else -1
    window.show_hazards()
    panel = window.hazards
    if panel is not None and newest and selected < 0:
        panel.table.scrollToBottom()
    if panel is not None and 0 <= selected < panel.model.rowCount():
        panel.blockSignals(True)
        try:
            panel.select(selected)
        finally:
            panel.blockSignals(False)
        window.timeline.bands.select(selected)


def refresh_status(window: Any, data: ViewerData) -> None:
    """Show the counts of the trace in the status bar (as ``MainWindow.show_data`` does)."""
    trace, report = data.trace, data.report
    window.counts.setText(f"{len(trace.spans):,} spans · {len(trace.marks):,} marks · {len(trace.lanes)} lanes · "
                          f"{len(trace.hosts)} hosts · {report.skipped_lines} skipped lines")
