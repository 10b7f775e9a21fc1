"""The filter panel: which lanes the timeline has (threads, or one per attribute value), and what it shows.

A combo box chooses the lanes: the recorded threads, or a pivot by one of
the attribute keys the spans carry. Below it a tree of check boxes: the
categories (with their colours and span counts), and the hosts, processes
and thread lanes (a host's box checks or clears all its lanes). Unchecked
ones vanish from the timeline. The panel holds no state of its own:
``sync`` shows a timeline's ``ViewFilter``, and a change asks the timeline
for a new one. Every name is plain text in an item.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from .layout import lane_name
from .painting import qcolor
from .plain import one_line
from .theme import LIGHT, Theme

Checked = QtCore.Qt.CheckState.Checked
Unchecked = QtCore.Qt.CheckState.Unchecked
_CAT_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
_LANE_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2


class FilterPanel(QtWidgets.QWidget):
    """See the module docstring."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, theme: Theme | None = None) -> None:
        super().__init__(parent)
        self.theme = theme or LIGHT
        self.timeline = None
        self.pivot = QtWidgets.QComboBox()
        self.pivot.setToolTip("Thread lanes, or one lane per value of an attribute: to follow one instance across hosts")
        self.pivot.activated.connect(self._pivot_chosen)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.itemChanged.connect(self._item_changed)
        show_all = QtWidgets.QPushButton("Show everything")
        show_all.clicked.connect(self.show_everything)
        self.note = QtWidgets.QLabel("")
        self.note.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        form = QtWidgets.QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        lanes_label = QtWidgets.QLabel("Lanes:")
        lanes_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        form.addRow(lanes_label, self.pivot)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(form)
        box.addWidget(self.tree)
        box.addWidget(self.note)
        box.addWidget(show_all)
        self._syncing = False
        self._built = False
        self._choices: list[tuple[str, ...]] = [()]
        self._cats: QtWidgets.QTreeWidgetItem | None = None
        self._lanes: QtWidgets.QTreeWidgetItem | None = None

    # --- building -----------------------------------------------------------------------------
    def attach(self, timeline: object | None) -> None:
        """Show the categories, lanes and pivot choices of ``timeline``'s loaded data (None: empty).

        The lists are built when the panel is first shown: finding the
        attribute keys to offer decodes a sample of the attributes, which
        the first frame of a large trace should not wait for.
        """
        self.timeline = timeline
        self._built = False
        self._syncing = True
        try:
            self.tree.clear()
            self.pivot.clear()
            self._choices = [()]
            self._cats = self._lanes = None
        finally:
            self._syncing = False
        if self.isVisible():
            self.build()

    def build(self) -> None:
        """Fill the lists for the attached timeline, if not done yet."""
        if self._built or self.timeline is None:
            return
        self._built = True
        self._syncing = True
        try:
            self._build(self.timeline)
        finally:
            self._syncing = False
        self.sync()

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        self.build()
        super().showEvent(event)

    def _build(self, timeline: object) -> None:
        trace = timeline.root.trace  # type: ignore[attr-defined]
        self.pivot.addItem("threads (as recorded)")
        for choice in timeline.pivot_keys():  # type: ignore[attr-defined]
            self._choices.append(choice.keys)
            self.pivot.addItem(f"by {choice.label}" + ("" if choice.sampled else f"  ({choice.rows:,} spans and marks)"))
        spans, marks = trace.spans, trace.marks
        counts = np.bincount(spans.cat, minlength=len(trace.cats)) + np.bincount(marks.cat, minlength=len(trace.cats))
        self._cats = QtWidgets.QTreeWidgetItem(self.tree, ["Categories"])
        self._cats.setFlags(self._cats.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable | QtCore.Qt.ItemFlag.ItemIsAutoTristate)
        for cat, name in enumerate(trace.cats):
            if not counts[cat]:
                continue
            item = QtWidgets.QTreeWidgetItem(self._cats, [f"{one_line(name or '(none)', 80)}  ({int(counts[cat]):,})"])
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setData(0, _CAT_ROLE, cat)
            item.setIcon(0, self._swatch(self.theme.category(name)))
            item.setCheckState(0, Checked)
        self._lanes = QtWidgets.QTreeWidgetItem(self.tree, ["Hosts and lanes"])
        flags = QtCore.Qt.ItemFlag.ItemIsUserCheckable | QtCore.Qt.ItemFlag.ItemIsAutoTristate
        self._lanes.setFlags(self._lanes.flags() | flags)
        per_lane = np.bincount(spans.lane, minlength=len(trace.lanes))
        for host, processes in trace.lane_groups():
            host_item = QtWidgets.QTreeWidgetItem(self._lanes, [one_line(host, 80)])
            host_item.setFlags(host_item.flags() | flags)
            for process, lanes in processes:
                parent = host_item
                if len(processes) > 1:
                    parent = QtWidgets.QTreeWidgetItem(host_item, [one_line(process, 80)])
                    parent.setFlags(parent.flags() | flags)
                for lane in lanes:
                    label = lane_name(trace, lane).partition(" · ")[2] or lane_name(trace, lane)
                    item = QtWidgets.QTreeWidgetItem(parent, [f"{one_line(label, 80)}  ({int(per_lane[lane]):,})"])
                    item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
                    item.setData(0, _LANE_ROLE, lane)
                    item.setCheckState(0, Checked)
        self.tree.expandToDepth(1)

    @staticmethod
    def _swatch(rgb: tuple[int, int, int]) -> QtGui.QIcon:
        pixmap = QtGui.QPixmap(12, 12)
        pixmap.fill(qcolor(rgb))
        return QtGui.QIcon(pixmap)

    # --- state ---------------------------------------------------------------------------------
    def _leaves(self, top: QtWidgets.QTreeWidgetItem | None, role: int) -> list[QtWidgets.QTreeWidgetItem]:
        out = []
        stack = [top] if top is not None else []
        while stack:
            item = stack.pop()
            if item.data(0, role) is not None:
                out.append(item)
            stack.extend(item.child(k) for k in range(item.childCount()))
        return out

    def sync(self) -> None:
        """Show the timeline's current filter (without asking it for anything)."""
        tl = self.timeline
        if tl is None or not self._built:
            return
        vf = tl.view_filter  # type: ignore[attr-defined]
        self._syncing = True
        try:
            for item in self._leaves(self._cats, _CAT_ROLE):
                item.setCheckState(0, Unchecked if item.data(0, _CAT_ROLE) in vf.hidden_cats else Checked)
            for item in self._leaves(self._lanes, _LANE_ROLE):
                item.setCheckState(0, Unchecked if item.data(0, _LANE_ROLE) in vf.hidden_lanes else Checked)
            if vf.pivot not in self._choices:  # a pivot asked for by keys the list did not offer
                self._choices.append(vf.pivot)
                self.pivot.addItem(f"by {' / '.join(vf.pivot)}")
            self.pivot.setCurrentIndex(self._choices.index(vf.pivot))
            hidden_values = len(vf.hidden_values)
            self.note.setText(f"{hidden_values} value lane{'s' if hidden_values != 1 else ''} hidden "
                              "(right-click a lane name to show them all)" if hidden_values else "")
        finally:
            self._syncing = False

    def hidden(self) -> tuple[frozenset[int], frozenset[int]]:
        """Return the (categories, lanes) unchecked."""
        cats = frozenset(int(i.data(0, _CAT_ROLE)) for i in self._leaves(self._cats, _CAT_ROLE) if i.checkState(0) != Checked)
        lanes = frozenset(int(i.data(0, _LANE_ROLE)) for i in self._leaves(self._lanes, _LANE_ROLE)
                          if i.checkState(0) != Checked)
        return cats, lanes

    def _item_changed(self, item: QtWidgets.QTreeWidgetItem, column: int) -> None:
        if self._syncing or self.timeline is None:
            return
        if item.data(0, _CAT_ROLE) is None and item.data(0, _LANE_ROLE) is None:
            return  # a group box: Qt checks its children, each of which comes here
        self._apply_later()

    def _apply_later(self) -> None:
        # A group's box changes many children, one signal each: apply once they are all done.
        QtCore.QTimer.singleShot(0, self.apply)

    def apply(self) -> None:
        """Ask the timeline to show what is checked."""
        tl = self.timeline
        if tl is None:
            return
        cats, lanes = self.hidden()
        vf = tl.view_filter  # type: ignore[attr-defined]
        if (cats, lanes) != (vf.hidden_cats, vf.hidden_lanes):
            tl.set_filter(replace(vf, hidden_cats=cats, hidden_lanes=lanes))  # type: ignore[attr-defined]

    def _pivot_chosen(self, index: int) -> None:
        if self.timeline is not None and not self._syncing:
            self.timeline.set_pivot(self._choices[index])  # type: ignore[attr-defined]

    def show_everything(self) -> None:
        """Check every category and lane, and show a pivot's hidden values."""
        if self.timeline is not None:
            vf = self.timeline.view_filter  # type: ignore[attr-defined]
            self.timeline.set_filter(replace(vf, hidden_cats=frozenset(), hidden_lanes=frozenset(),  # type: ignore[attr-defined]
                                             hidden_values=frozenset()))

    def set_theme(self, theme: Theme) -> None:
        """Draw the category swatches in ``theme``'s colours."""
        self.theme = theme
        if self.timeline is not None:
            trace = self.timeline.root.trace  # type: ignore[attr-defined]
            for item in self._leaves(self._cats, _CAT_ROLE):
                item.setIcon(0, self._swatch(theme.category(trace.cats[int(item.data(0, _CAT_ROLE))])))
