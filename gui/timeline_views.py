"""The timeline's views of the loaded data: filters, pivot, search outlines, measuring.

``TimelineViews`` is a part of ``gui.timeline.Timeline`` (it is mixed into
it and uses its view box, layout and span item). It shows the loaded data
(``root``) through a ``ViewFilter``: hiding lanes lays the lanes out again,
hiding categories or pivoting swaps in a derived view (``gui.filters``)
while the time range stays. It outlines the matches of a search (made on
the loaded trace, placed in the view shown), walks them, and keeps the
measured interval or the area selected by a Shift+ or Ctrl+drag. The
computations are Qt-free (``gui.filters``, ``gui.pivot``, ``gui.search``,
``gui.measure``); this module binds them to the widget.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6 import QtCore, QtWidgets

from tracer.analysis.search import SearchHits, search

from .data import ViewerData
from .filters import ViewFilter, derive
from .layout import Entry, LaneLayout
from .measure import Selection, area_rows, lanes_between
from .overlay import MatchOutlines, SelectionOverlay
from .pivot import PivotKey, PivotValues, attribute_keys
from .plain import one_line
from .search import MARK, Matches
from .spans_item import SpanItem

ASYNC_SEARCH_ROWS = 200_000  # spans and marks: bigger traces are searched in a worker thread (up to 0.65 s at 1M)


class TimelineViews:
    """Filters, pivot, search and measuring of a ``Timeline``; see the module docstring."""

    # Provided by ``Timeline``: its widgets and state, its signals, its navigation.
    data: ViewerData
    lanes: LaneLayout
    collapsed: set[tuple[int, ...]]
    vb: Any
    spans: SpanItem
    bands: Any
    lane_axis: Any
    theme: Any
    viewChanged: Any
    selectionChanged: Any
    matchesChanged: Any
    searchRequested: Any
    spanClicked: Any
    markClicked: Any

    # --- filters and pivot ------------------------------------------------------------------
    def _lanes_init(self, data: ViewerData) -> None:
        """Set up what ``set_filter``, search and selections need (called once from ``__init__``)."""
        self.root = data  # the loaded data; ``self.data`` is what is shown (it, or a view derived from it)
        self.view_filter = ViewFilter()
        self._collapsed_other: set[tuple[int, ...]] = set()  # the collapsed groups of the other mode (pivot or not)
        self._pivot_values: dict[tuple[str, ...], PivotValues] = {}
        self._pivot_keys: list[PivotKey] | None = None
        self._hits: tuple[str, SearchHits] | None = None
        self.matches: Matches | None = None
        self.searching: str | None = None  # the query a worker thread is searching for (big traces)
        self._search_generation = 0  # bumped by every search and clear: older results are dropped
        self._pending_step: bool | None = None  # a step asked for while searching: taken when the hits arrive
        self.search_error = ""  # why the last search found nothing, when it failed
        self._searcher: ThreadPoolExecutor | None = None
        self.selection: Selection | None = None
        self.outlines = MatchOutlines(data.duration_ns, self.lanes, self.theme)
        self.overlay = SelectionOverlay(data.duration_ns, self.lanes, self.theme)
        for item in (self.outlines, self.overlay):
            self.vb.addItem(item)
        self.lane_axis.on_menu = self._lane_menu
        self.vb.sigSelecting.connect(self._on_selecting)

    def set_filter(self, view_filter: ViewFilter) -> None:
        """Show the loaded data through ``view_filter`` (hidden categories, hosts, lanes; a pivot).

        The time range stays; a derived view is built only when the
        categories or the pivot change (see ``gui.filters``).
        """
        old, self.view_filter = self.view_filter, view_filter
        if view_filter.data_key() != old.data_key():
            if view_filter.pivot != old.pivot:
                self.collapsed, self._collapsed_other = (self._collapsed_other, self.collapsed) \
                    if bool(view_filter.pivot) != bool(old.pivot) else (set(), self._collapsed_other)
            values = self.pivot_values(view_filter.pivot) if view_filter.pivot else None
            QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
            try:
                view = derive(self.root, view_filter, values)
            finally:
                QtWidgets.QApplication.restoreOverrideCursor()
            self._show_view(view)
        else:
            self.relayout()
        self._update_matches()
        self.viewChanged.emit()

    def _show_view(self, view: ViewerData) -> None:
        """Draw ``view`` instead of the current data, keeping the selected span and hazard."""
        selected = self.bands.selected_span
        base_row = self.data.origin(selected)[1] if selected >= 0 else -1
        hazard = self.bands.selected
        self.data = view
        self.lanes = self._layout()
        self.vb.removeItem(self.spans)
        self.spans = SpanItem(view, self.lanes, self.theme)
        self.spans.ticks = self._major_ticks
        self.vb.addItem(self.spans)
        self.bands = self.spans.bands
        self.bands.selected = hazard
        if base_row >= 0:
            rows = view.view_rows(np.array([base_row]))
            self.bands.selected_span = int(rows[0]) if len(rows) else -1
        if self.selection is not None and self.selection.is_area:  # its lanes were the old view's
            self.set_selection(None)
        self._place_layout()

    def _layout(self) -> LaneLayout:
        return LaneLayout(self.data.trace, self.data.index, frozenset(self.collapsed), self.view_filter.hidden_in(self.data))

    def relayout(self) -> None:
        """Lay the lanes out again (after a collapse, an expand, or lanes hidden or shown)."""
        self.lanes = self._layout()
        self._place_layout()

    def _place_layout(self) -> None:
        for part in (self.spans, self.lane_axis, self.outlines, self.overlay):
            part.set_layout(self.lanes)
        self.vb.set_content_height(self.lanes.height)

    def set_hidden_categories(self, cats: set[int] | frozenset[int]) -> None:
        """Hide the spans and marks of categories ``cats`` (indices into ``Trace.cats``)."""
        self.set_filter(replace(self.view_filter, hidden_cats=frozenset(cats)))

    def set_hidden_lanes(self, lanes: set[int] | frozenset[int]) -> None:
        """Hide lanes of the loaded trace (its hosts' and processes' lanes, for a host or process)."""
        self.set_filter(replace(self.view_filter, hidden_lanes=frozenset(lanes)))

    def hide_lanes(self, lanes: list[int]) -> None:
        """Hide lanes of the view shown (thread lanes, or a pivot's value lanes)."""
        vf = self.view_filter
        if vf.pivot:
            labels = self.data.trace.lanes.label
            self.set_filter(replace(vf, hidden_values=vf.hidden_values | {labels[la] for la in lanes}))
        else:
            self.set_filter(replace(vf, hidden_lanes=vf.hidden_lanes | set(lanes)))

    def show_all_lanes(self) -> None:
        """Show every lane again (hidden hosts, processes and lanes; a pivot's hidden values)."""
        self.set_filter(replace(self.view_filter, hidden_lanes=frozenset(), hidden_values=frozenset()))

    def hidden_lane_count(self) -> int:
        """Return how many lanes of the view shown are hidden."""
        return len(self.view_filter.hidden_in(self.data)) + (len(self.view_filter.hidden_lanes) if self.view_filter.pivot else 0)

    def pivot_keys(self) -> list[PivotKey]:
        """Return the attribute keys the loaded spans can be pivoted by (computed once)."""
        if self._pivot_keys is None:
            self._pivot_keys = attribute_keys(self.root.trace)
        return self._pivot_keys

    def pivot_values(self, keys: tuple[str, ...]) -> PivotValues:
        """Return every span's and mark's values of ``keys`` (read once per choice)."""
        found = self._pivot_values.get(keys)
        if found is None:
            QtWidgets.QApplication.setOverrideCursor(QtCore.Qt.CursorShape.WaitCursor)
            try:
                found = self._pivot_values[keys] = PivotValues.read(self.root.trace, keys)
            finally:
                QtWidgets.QApplication.restoreOverrideCursor()
        return found

    def set_pivot(self, keys: tuple[str, ...] | list[str]) -> None:
        """Show one lane per value of the attribute ``keys`` (empty: the thread lanes again)."""
        self.set_filter(replace(self.view_filter, pivot=tuple(keys), hidden_values=frozenset()))

    def _reveal_lane(self, lane: int) -> None:
        """Expand the collapsed groups holding ``lane`` of the view shown."""
        lanes = self.data.trace.lanes
        host = int(lanes.host[lane])
        keys = {(host,), (host, int(lanes.file[lane]))}
        if keys & self.collapsed:
            self.collapsed -= keys
            self.relayout()

    # --- lane tree menu -----------------------------------------------------------------------
    def lane_menu(self, entry: Entry | None) -> QtWidgets.QMenu:
        """Return the context menu of a line of the lane tree (None: below the lanes)."""
        menu = QtWidgets.QMenu(self)
        lanes = self.data.trace.lanes
        pivot = bool(self.view_filter.pivot)
        if entry is not None and entry.kind == "lane":
            name = one_line(entry.label, 60)
            menu.addAction(f"Hide lane “{name}”", lambda: self.hide_lanes([entry.lane]))
            others = [e.lane for e in self.lanes.entries if e.kind == "lane" and e.lane != entry.lane]
            hide_others = menu.addAction("Hide the other lanes", lambda: self.hide_lanes(others))
            hide_others.setEnabled(bool(others))
            if pivot:
                value = lanes.label[entry.lane]
                menu.addAction(f"Search for “{one_line(value, 60)}”", lambda: self.searchRequested.emit(value))
        elif entry is not None and not pivot:
            host = entry.key[0]
            if entry.kind == "host":
                group = [la for la in range(len(lanes)) if int(lanes.host[la]) == host]
            else:
                group = [la for la in range(len(lanes)) if int(lanes.host[la]) == host and int(lanes.file[la]) == entry.key[1]]
            what = "host" if entry.kind == "host" else "process"
            menu.addAction(f"Hide {what} “{one_line(entry.label, 60)}”", lambda: self.hide_lanes(group))
        if entry is not None and entry.kind != "lane":
            menu.addAction("Expand" if entry.collapsed else "Collapse", lambda: self.toggle(entry.key))
        menu.addSeparator()
        hidden = self.hidden_lane_count()
        show = menu.addAction(f"Show all lanes ({hidden} hidden)" if hidden else "Show all lanes", self.show_all_lanes)
        show.setEnabled(bool(hidden))
        if pivot:
            menu.addAction("Back to thread lanes", lambda: self.set_pivot(()))
        return menu

    def _lane_menu(self, entry: Entry | None, screen_pos: QtCore.QPointF) -> None:
        self.lane_menu(entry).exec(screen_pos.toPoint())

    # --- search ---------------------------------------------------------------------------------
    def search(self, query: str) -> Matches | None:
        """Find ``query`` (see ``tracer.analysis.search``) in the loaded trace and outline the matches shown.

        Returns the matches, or None when the trace is big enough
        (``ASYNC_SEARCH_ROWS``) to be searched in a worker thread: the window
        stays responsive while typing, ``searching`` holds the query, and
        ``matchesChanged`` is emitted when the matches arrive (a step asked
        for meanwhile is taken then). A newer search or a clear drops the
        result of an older one.
        """
        self._drop_search()
        trace = self.root.trace
        cached = self._hits is not None and self._hits[0] == query
        if cached or len(trace.spans) + len(trace.marks) < ASYNC_SEARCH_ROWS:
            if not cached:
                self._hits = (query, search(trace, query))
            self._update_matches()
            return self.matches
        if self._searcher is None:
            self._searcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="racelane-search")
        self.searching = query
        self._searcher.submit(self._search_in_worker, self._search_generation, trace, query)
        self.matchesChanged.emit()
        return None

    def _search_in_worker(self, generation: int, trace: Any, query: str) -> None:
        """Search on the worker thread and hand the hits (or the error) to the GUI thread through a queued signal."""
        if generation != self._search_generation:
            return  # a newer query was typed while this one waited
        try:
            result: SearchHits | Exception = search(trace, query)
        except Exception as err:  # reported in the search bar, never lost in a thread
            result = err
        try:
            self.searchFinished.emit(generation, trace, query, result)
        except RuntimeError:  # the timeline was closed meanwhile
            pass

    def _search_finished(self, generation: int, trace: Any, query: str, result: object) -> None:
        """Take a worker's hits if they are still wanted (on the GUI thread)."""
        if generation != self._search_generation:
            return
        step, self._pending_step = self._pending_step, None
        if trace is not self.root.trace:  # new data arrived meanwhile (live following): search it instead
            self.search(query)
            self._take_step(step)
            return
        self.searching = None
        if isinstance(result, Exception):
            self._hits = None
            self.search_error = f"search failed: {result}"
            self._update_matches()
            return
        assert isinstance(result, SearchHits)
        self._hits = (query, result)
        self._update_matches()
        self._take_step(step)

    def _take_step(self, step: bool | None) -> None:
        """Take a step asked for while searching (``step_match`` keeps it again if a search is still under way)."""
        if step is not None:
            self.step_match(step)

    def _drop_search(self) -> None:
        """Drop the search under way, if any (its result will be ignored), with its pending step and error."""
        self._search_generation += 1
        self.searching = None
        self._pending_step = None
        self.search_error = ""

    def clear_search(self) -> None:
        """Forget the search: no outlines (a search under way is dropped)."""
        self._drop_search()
        self._hits = None
        self._update_matches()

    def _update_matches(self) -> None:
        """Place the search hits in the view shown (after a search, a filter or a pivot)."""
        if self._hits is None:
            self.matches = None
        else:
            query, hits = self._hits
            self.matches = Matches(query, hits, self.data, self.view_filter.hidden_in(self.data))
        self.outlines.set_matches(self.matches)
        self.matchesChanged.emit()

    def step_match(self, forward: bool = True) -> int:
        """Go to the next (or previous) match: zoom to it, select it; return its position or -1.

        While a worker searches, the step waits for its matches.
        """
        if self.searching is not None:
            self._pending_step = forward
            return -1
        m = self.matches
        if m is None or not len(m):
            return -1
        k = m.step(forward, self.x_range()[0])
        row, lane = int(m.row[k]), int(m.lane[k])
        self._reveal_lane(lane)
        self.show_interval(float(m.time[k]), float(m.end[k]), [lane])
        if m.kind[k] == MARK:
            self.bands.select_span(-1)
            self.markClicked.emit(row)
        else:
            self.bands.select_span(row)
            self.spanClicked.emit(row)
        self.matchesChanged.emit()
        return k

    # --- measuring ------------------------------------------------------------------------------
    def _on_selecting(self, mode: str, t_a: float, t_b: float, y_a: float, y_b: float, finished: bool) -> None:
        ns_per_px = (self.x_range()[1] - self.x_range()[0]) / max(self.vb.width(), 1.0)
        if finished and abs(t_b - t_a) < 2 * ns_per_px:  # a click, not a drag: nothing to measure
            self.clear_selection()
            return
        if mode == "zoom":  # rubber band: show the range while dragging, zoom to it on release
            if finished:
                self.set_selection(None, emit=False)
                self.set_x_range(min(t_a, t_b), max(t_a, t_b))
            else:
                self.set_selection(Selection.between(t_a, t_b, (), y_a, y_b), emit=False)
            return
        lanes = lanes_between(self.lanes, y_a, y_b) if mode == "area" else ()
        if mode == "area" and not lanes:
            return
        self.set_selection(Selection.between(t_a, t_b, lanes, y_a, y_b), emit=finished)

    def set_selection(self, selection: Selection | None, emit: bool = True) -> None:
        """Show a measured interval or an area selection (None: none); ``selectionChanged`` tells the window."""
        self.selection = selection
        note = ""
        if selection is not None and selection.is_area and emit:
            count = len(area_rows(self.data.trace, selection.lanes, selection.start, selection.end))
            note = f"{count:,} spans in {len(selection.lanes)} lane{'s' if len(selection.lanes) != 1 else ''}"
        self.overlay.set_selection(selection, note)
        if emit:
            self.selectionChanged.emit(selection)

    def clear_selection(self) -> bool:
        """Drop the measured interval or area selection and the selected span; return whether there was one."""
        had = self.selection is not None or self.bands.selected_span >= 0
        if self.selection is not None:
            self.set_selection(None)
        if self.bands.selected_span >= 0:
            self.bands.select_span(-1)
        return had

    def fit_selection(self) -> bool:
        """Fit the view to the measured interval or area, else to the selected span; return whether there was one."""
        if self.selection is not None:
            sel = self.selection
            margin = sel.duration * 0.05  # the view box keeps at least its narrowest range
            self.set_x_range(sel.start - margin, sel.end + margin)
            return True
        row = self.bands.selected_span
        if 0 <= row < len(self.data.trace.spans):
            spans, t0 = self.data.trace.spans, self.data.trace.t0_ns
            start, end = float(spans.start_ns[row] - t0), float(spans.end_ns[row] - t0)
            margin = (end - start) * 0.1
            self.set_x_range(start - margin, end + margin)
            return True
        return False
