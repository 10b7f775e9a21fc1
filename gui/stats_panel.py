"""The statistics of an area selection: one row per span name, sortable, copyable as tab-separated text.

Columns: name, category, count, time inside the selection (summed and mean;
spans are cut at its edges) and whole durations (mean and longest). The
numbers come from ``gui.measure.area_stats``; this panel only shows them.
Names are plain text in the model.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from .measure import AreaStats
from .plain import format_duration, format_offset, one_line

COLUMNS = ("name", "category", "count", "time inside", "mean inside", "mean duration", "longest")
_SORT = QtCore.Qt.ItemDataRole.UserRole


class StatsModel(QtCore.QAbstractTableModel):
    """The per-name rows of an ``AreaStats``."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: AreaStats | None = None

    def set_stats(self, stats: AreaStats | None) -> None:
        self.beginResetModel()
        self.stats = stats
        self.endResetModel()

    def rowCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        if (parent is not None and parent.isValid()) or self.stats is None:
            return 0
        return len(self.stats.names)

    def columnCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: QtCore.Qt.Orientation, role: int = 0) -> Any:
        if orientation == QtCore.Qt.Orientation.Horizontal and role == QtCore.Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def value(self, row: int, col: int) -> Any:
        """Return the raw value of a cell (str, int ns or float ns)."""
        assert self.stats is not None
        n = self.stats.names[row]
        return (n.name, n.category, n.count, n.inside_ns, n.mean_inside_ns, n.mean_ns, n.max_ns)[col]

    def text(self, row: int, col: int) -> str:
        value = self.value(row, col)
        if col < 2:
            return one_line(value)
        if col == 2:
            return f"{value:,}"
        return format_duration(value)

    def data(self, index: QtCore.QModelIndex, role: int = 0) -> Any:
        if self.stats is None or not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self.text(row, col)
        if role == _SORT:
            value = self.value(row, col)
            return value.lower() if isinstance(value, str) else float(value)
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        if role == QtCore.Qt.ItemDataRole.ToolTipRole and col == 3 and self.stats.names[row].open:
            return f"{self.stats.names[row].open} of them unfinished (running when the trace ends)"
        return None


class StatsPanel(QtWidgets.QWidget):
    """A summary line over the table of an area's statistics."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QtWidgets.QLabel("Ctrl+drag across the lanes to select an area and see its statistics.")
        self.summary.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.model = StatsModel()
        self.proxy = QtCore.QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(_SORT)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(3, QtCore.Qt.SortOrder.DescendingOrder)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        for col, width in enumerate((230, 75, 50, 80, 80, 85)):
            self.table.setColumnWidth(col, width)
        copy = QtWidgets.QPushButton("Copy as text")
        copy.setToolTip("Copy the table as tab-separated text (times in ns)")
        copy.clicked.connect(self.copy)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(copy)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(self.table)

    def show_stats(self, stats: AreaStats | None) -> None:
        """Show ``stats`` (None: the hint on how to select an area)."""
        self.model.set_stats(stats)
        if stats is None:
            self.summary.setText("Ctrl+drag across the lanes to select an area and see its statistics.")
            return
        lanes = len(stats.lanes)
        self.summary.setText(
            f"{format_offset(stats.start)} .. {format_offset(stats.end)} ({format_duration(stats.end - stats.start)}), "
            f"{lanes} lane{'s' if lanes != 1 else ''}: {stats.count:,} spans of {len(stats.names):,} names, "
            f"{format_duration(stats.inside_ns)} inside the selection")

    def as_text(self) -> str:
        """Return the table, in its current order, as tab-separated lines (durations in ns)."""
        lines = ["\t".join(COLUMNS)]
        for r in range(self.proxy.rowCount()):
            row = self.proxy.mapToSource(self.proxy.index(r, 0)).row()
            cells = [self.model.value(row, c) for c in range(len(COLUMNS))]
            lines.append("\t".join(one_line(v) if isinstance(v, str) else str(round(v)) for v in cells))
        return "\n".join(lines)

    def copy(self) -> None:
        QtGui.QGuiApplication.clipboard().setText(self.as_text())
