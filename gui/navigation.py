"""The window's search, filters, pivot and selection statistics: bars, docks and View menu entries.

``NavigationActions`` is made once per window and follows the timeline it
shows (``attach``): the search bar (Ctrl+F; F3 and Shift+F3 walk the
matches) searches the loaded trace and outlines the matches; the Filters
dock hides categories, hosts and lanes and chooses the lanes (threads, or a
pivot by attribute); a tab beside the details shows an area selection's
statistics.
The View menu reaches all of them. The timeline does the work; this module
only binds widgets to it.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from .filter_panel import FilterPanel
from .filters import ViewFilter
from .layout import lane_name
from .measure import Selection, area_stats
from .plain import format_duration, format_offset, one_line
from .search_bar import SearchBar
from .stats_panel import StatsPanel


class NavigationActions(QtCore.QObject):
    """See the module docstring."""

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.timeline: Any = None
        self.search_bar = SearchBar(window)
        window.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.search_bar)
        self.search_bar.hide()
        self.search_bar.searchRequested.connect(self.search)
        self.search_bar.stepRequested.connect(self.step)
        self.search_bar.closed.connect(self._search_closed)
        self.filters = FilterPanel()
        self.filter_dock = self._dock("Filters", "filtersDock", self.filters)
        self.stats = StatsPanel()
        self.tabs: QtWidgets.QTabWidget | None = None
        self.pivot_menu: QtWidgets.QMenu | None = None
        self.view_label = QtWidgets.QLabel("")
        self.view_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        window.statusBar().addPermanentWidget(self.view_label)

    def bottom_tabs(self, details: QtWidgets.QWidget) -> QtWidgets.QTabWidget:
        """Return the tabs that hold ``details`` and the area statistics (one set per trace shown)."""
        self.stats = StatsPanel()
        title = getattr(details, "title", None)
        if title is not None:
            title.hide()  # the tab names it
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(details, "Details")
        self.tabs.addTab(self.stats, "Selection statistics")
        return self.tabs

    def show_stats_tab(self) -> None:
        """Bring the area statistics to the front."""
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.stats)

    def _show_details_tab(self, *_: object) -> None:
        if self.tabs is not None:
            self.tabs.setCurrentIndex(0)

    def _dock(self, title: str, name: str, widget: QtWidgets.QWidget,
              area: QtCore.Qt.DockWidgetArea = QtCore.Qt.DockWidgetArea.RightDockWidgetArea) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setAllowedAreas(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea | QtCore.Qt.DockWidgetArea.RightDockWidgetArea
                             | QtCore.Qt.DockWidgetArea.BottomDockWidgetArea)
        self.window.addDockWidget(area, dock)
        dock.hide()
        return dock

    def install(self, menu: QtWidgets.QMenu) -> None:
        """Add Find, Filters, Pivot and lane entries to the View menu ``menu``."""
        menu.addSeparator()
        find = menu.addAction("&Find…", lambda: self.search_bar.open())
        find.setShortcut(QtGui.QKeySequence.StandardKey.Find)
        after = menu.addAction("Find &next", lambda: self.step(True))
        after.setShortcuts([QtGui.QKeySequence(QtCore.Qt.Key.Key_F3)])
        before = menu.addAction("Find &previous", lambda: self.step(False))
        before.setShortcuts([QtGui.QKeySequence(QtCore.Qt.Modifier.SHIFT | QtCore.Qt.Key.Key_F3)])
        menu.addSeparator()
        toggle = self.filter_dock.toggleViewAction()
        toggle.setText("&Filters (categories, hosts, lanes)")
        toggle.setShortcut(QtGui.QKeySequence("Ctrl+Shift+L"))
        menu.addAction(toggle)
        self.pivot_menu = menu.addMenu("&Pivot by attribute")
        self.pivot_menu.aboutToShow.connect(self._fill_pivot_menu)
        menu.addAction("Thread &lanes (no pivot)", lambda: self.timeline and self.timeline.set_pivot(()))
        menu.addAction("Show &all lanes", lambda: self.timeline and self.timeline.show_all_lanes())
        menu.addAction("Selection &statistics", self.show_stats_tab)

    def _fill_pivot_menu(self) -> None:
        menu = self.pivot_menu
        assert menu is not None
        menu.clear()
        tl = self.timeline
        if tl is None:
            menu.addAction("(no trace open)").setEnabled(False)
            return
        current = tl.view_filter.pivot
        threads = menu.addAction("Threads (as recorded)", lambda: tl.set_pivot(()))
        threads.setCheckable(True)
        threads.setChecked(not current)
        menu.addSeparator()
        choices = tl.pivot_keys()
        if not choices:
            menu.addAction("(the spans carry no attributes)").setEnabled(False)
        for choice in choices[:40]:
            action = menu.addAction(choice.label, lambda keys=choice.keys: tl.set_pivot(keys))
            action.setCheckable(True)
            action.setChecked(choice.keys == current)
            if not choice.sampled:
                action.setToolTip(f"{choice.rows:,} spans and marks carry a value")

    # --- following the timeline ---------------------------------------------------------------------
    def attach(self, timeline: Any) -> None:
        """Follow ``timeline`` (a new trace shown; None: none).

        When it shows the same files as before (a reload, new clock offsets,
        another rule set), it keeps the categories and lanes hidden and the
        pivot, matched by name.
        """
        carried = _carry(self.timeline)
        self.timeline = timeline
        self.filters.attach(timeline)
        self.search_bar.forget()
        self.view_label.setText("")
        if timeline is None:
            self.search_bar.show_status("")
            return
        timeline.viewChanged.connect(self.filters.sync)
        timeline.viewChanged.connect(self._view_changed)
        timeline.matchesChanged.connect(self._matches_changed)
        timeline.selectionChanged.connect(self._selection_changed)
        timeline.searchRequested.connect(lambda text: self.search_bar.open(text))
        timeline.spanClicked.connect(self._show_details_tab)
        timeline.markClicked.connect(self._show_details_tab)
        if carried is not None and carried[0] == list(timeline.root.sources):
            timeline.set_filter(_restore(timeline, carried[1]))
        if self.search_bar.isVisible() and self.search_bar.query().strip():
            self.search_bar.search_now()

    def _view_changed(self) -> None:
        self.view_label.setText(describe_view(self.timeline) if self.timeline is not None else "")

    def search(self, query: str) -> None:
        """Search the trace shown for ``query``; an empty query clears the outlines."""
        if self.timeline is None:
            return
        if not query.strip():
            self.timeline.clear_search()
            return
        self.timeline.search(query)

    def step(self, forward: bool) -> None:
        """Go to the next (or previous) match, opening the bar if it is closed."""
        if self.timeline is None:
            return
        if not self.search_bar.isVisible():
            self.search_bar.open()
            return
        self.search_bar.search_now()
        self.timeline.step_match(forward)

    def _search_closed(self) -> None:
        if self.timeline is not None:
            self.timeline.clear_search()
        self.search_bar.show_status("")

    def _matches_changed(self) -> None:
        tl = self.timeline
        if tl is not None and tl.searching is not None:
            self.search_bar.show_status("searching…")
            return
        if tl is not None and tl.search_error:
            self.search_bar.show_status(tl.search_error)
            return
        m = tl.matches if tl is not None else None
        self.search_bar.show_status(m.status() if m is not None else "")

    def _selection_changed(self, selection: Selection | None) -> None:
        tl = self.timeline
        if selection is None or tl is None:
            self.stats.show_stats(None)
            return
        status = self.window.statusBar()
        if not selection.is_area:
            status.showMessage(f"measured {format_duration(selection.duration)}: {format_offset(selection.start)} .. "
                               f"{format_offset(selection.end)} (F fits it, Escape clears it)", 15000)
            return
        self.stats.show_stats(area_stats(tl.data.trace, selection.lanes, selection.start, selection.end))
        self.show_stats_tab()
        status.showMessage("area selected: its statistics are in the Selection statistics tab (F fits it, Escape "
                           "clears it)", 15000)

    def set_theme(self, theme: Any) -> None:
        self.filters.set_theme(theme)


def describe_view(timeline: Any) -> str:
    """Return one line saying what the timeline leaves out or pivots by ('' when it shows everything)."""
    vf = timeline.view_filter
    parts = []
    if vf.pivot:
        n = len(timeline.data.trace.lanes)
        parts.append(f"by {' / '.join(vf.pivot)}: {n} lane{'s' if n != 1 else ''}")
    if vf.hidden_cats:
        cats = timeline.root.trace.cats
        names = ", ".join(one_line(cats[c] or "(none)", 30) for c in sorted(vf.hidden_cats)[:4])
        parts.append(f"hidden {names}" + ("…" if len(vf.hidden_cats) > 4 else ""))
    hidden = timeline.hidden_lane_count()
    if hidden:
        parts.append(f"{hidden} lane{'s' if hidden != 1 else ''} hidden")
    return "view: " + " · ".join(parts) if parts else ""


def _carry(timeline: Any) -> tuple[list[str], tuple[Any, ...]] | None:
    """Return what to keep of ``timeline``'s filter for the same files reloaded: (sources, names), or None."""
    if timeline is None or timeline.view_filter == ViewFilter():
        return None
    vf, trace = timeline.view_filter, timeline.root.trace
    cats = {trace.cats[c] for c in vf.hidden_cats}
    lanes = {lane_name(trace, la) for la in vf.hidden_lanes}
    return list(timeline.root.sources), (cats, lanes, vf.pivot, vf.hidden_values)


def _restore(timeline: Any, names: tuple[Any, ...]) -> ViewFilter:
    """Return the filter hiding, in ``timeline``'s trace, the categories and lanes of those names."""
    cats, lanes, pivot, values = names
    trace = timeline.root.trace
    return ViewFilter(hidden_cats=frozenset(k for k, c in enumerate(trace.cats) if c in cats),
                      hidden_lanes=frozenset(la for la in range(len(trace.lanes)) if lane_name(trace, la) in lanes),
                      pivot=pivot, hidden_values=values)
