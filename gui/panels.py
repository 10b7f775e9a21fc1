"""Side panels: the hazard list, the details text, and the legend of colours.

All text from a trace is shown as plain text: the hazard list returns plain
strings for the display role and escaped text for tooltips, the details
panel is a read-only ``QPlainTextEdit``, and the legend paints with
``drawText``.
"""

from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from .data import HazardList
from .painting import qcolor, ui_font
from .plain import format_duration, format_offset, one_line, tooltip
from .theme import LIGHT, Theme

_COLUMNS = ("#", "class", "start", "length", "title", "explanation")


class HazardModel(QtCore.QAbstractTableModel):
    """The hazards as a table; explanations are asked of the analysis only for the rows shown."""

    def __init__(self, hazards: HazardList, explain: Any, theme: Theme | None = None) -> None:
        super().__init__()
        self.hazards = hazards
        self.explain = explain  # i -> plain text (everything about hazard i)
        self.theme = theme or LIGHT

    def set_theme(self, theme: Theme) -> None:
        """Colour the class swatches for ``theme``."""
        self.theme = theme
        if len(self.hazards):
            self.dataChanged.emit(self.index(0, 1), self.index(len(self.hazards) - 1, 1))

    def rowCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.hazards)

    def columnCount(self, parent: QtCore.QModelIndex | None = None) -> int:
        return len(_COLUMNS)

    def headerData(self, section: int, orientation: QtCore.Qt.Orientation, role: int = 0) -> Any:
        if orientation == QtCore.Qt.Orientation.Horizontal and role == QtCore.Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        return None

    def data(self, index: QtCore.QModelIndex, role: int = 0) -> Any:
        i, col = index.row(), index.column()
        h = self.hazards
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return str(i + 1)
            if col == 1:
                return h.class_name(i)
            if col == 2:
                return format_offset(int(h.start[i]))
            if col == 3:
                return format_duration(int(h.end[i] - h.start[i]))
            if col == 4:
                return one_line(h.titles[i])
            return one_line(h.describe(i).get("explanation", ""), 300)
        if role == QtCore.Qt.ItemDataRole.DecorationRole and col == 1:
            _, line, _ = self.theme.hazard[h.class_name(i)]
            return qcolor(line)
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return tooltip(self.explain(i))
        return None


class HazardPanel(QtWidgets.QWidget):
    """The hazard list above the selected hazard's explanation. ``hazardSelected`` carries the index."""

    hazardSelected = QtCore.Signal(int)

    def __init__(self, hazards: HazardList, explain: Any, pending: bool = False,
                 parent: QtWidgets.QWidget | None = None, theme: Theme | None = None) -> None:
        super().__init__(parent)
        self.explain = explain
        self.model = HazardModel(hazards, explain, theme)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        for col, width in enumerate((32, 110, 90, 70, 330)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._selected(cur.row()))
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("Select a hazard to zoom to it and read its explanation.")
        count = len(hazards)
        title = QtWidgets.QLabel("Hazards: checking the rules…" if pending else f"Hazards ({count})" if count
                                 else "Hazards: none found by the rules")
        title.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.text)
        split.setSizes([160, 140])
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(title)
        box.addWidget(split)

    def set_theme(self, theme: Theme) -> None:
        """Colour the class swatches for ``theme``."""
        self.model.set_theme(theme)

    def select(self, i: int) -> None:
        """Select hazard ``i`` (0-based) in the list, which shows and emits it."""
        self.table.selectRow(i)
        self.table.setCurrentIndex(self.model.index(i, 0))

    def _selected(self, i: int) -> None:
        if i < 0:
            return
        self.text.setPlainText(self.explain(i))
        self.hazardSelected.emit(i)


class DetailsPanel(QtWidgets.QWidget):
    """Plain text about the span or mark last clicked."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QtWidgets.QLabel("Details")
        self.title.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlaceholderText("Click a span or a mark to see its attributes.")
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.title)
        box.addWidget(self.text)

    def show_text(self, text: str) -> None:
        """Show ``text`` (plain)."""
        self.text.setPlainText(text)


class LegendBar(QtWidgets.QWidget):
    """One line of colour swatches: categories, lock waits and holds, hazard classes, unfinished spans."""

    def __init__(self, cats: list[str], used: list[int], parent: QtWidgets.QWidget | None = None,
                 theme: Theme | None = None) -> None:
        super().__init__(parent)
        self.theme = theme or LIGHT
        self.all_cats = cats
        self.used = used
        self.cats = [one_line(cats[c], 24) for c in used]
        self.rgb = [self.theme.category(cats[c]) for c in used]
        self.font = ui_font(8.5)
        self.setFixedHeight(22)
        names = ", ".join(self.cats)
        self.setToolTip(tooltip(f"span categories: {names}"))

    def set_theme(self, theme: Theme) -> None:
        """Paint the swatches and text in ``theme``'s colours."""
        self.theme = theme
        self.rgb = [theme.category(self.all_cats[c]) for c in self.used]
        self.update()

    def entries(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """Return (kind, text, colour) of each swatch, in order."""
        theme = self.theme
        out: list[tuple[str, str, tuple[int, ...]]] = [("solid", c, rgb) for c, rgb in zip(self.cats, self.rgb, strict=True)]
        lock = theme.category("lock")
        out += [("hatch", "lock wait", lock), ("solid", "lock held", lock), ("open", "unfinished", theme.open_end)]
        for name, (fill, line, _) in theme.hazard.items():
            out.append(("band", name, fill + line))
        return out

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        try:
            p.setFont(self.font)
            metrics = QtGui.QFontMetricsF(self.font)
            x, h = 6.0, float(self.height())
            for kind, text, rgb in self.entries():
                width = metrics.horizontalAdvance(text)
                if x + 18 + width > self.width() - 4:
                    p.setPen(qcolor(self.theme.text))
                    p.drawText(QtCore.QPointF(x, h / 2 + metrics.ascent() / 2 - 1), "…")
                    break
                swatch = QtCore.QRectF(x, h / 2 - 6, 14, 12)
                self._swatch(p, kind, rgb, swatch)
                p.setPen(qcolor(self.theme.text))
                p.drawText(QtCore.QPointF(x + 18, h / 2 + metrics.ascent() / 2 - 1), text)
                x += 18 + width + 14
        finally:
            p.end()

    def _swatch(self, p: QtGui.QPainter, kind: str, rgb: tuple[int, ...], rect: QtCore.QRectF) -> None:
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        if kind == "hatch":
            p.fillRect(rect, qcolor(self.theme.tint(rgb)))  # type: ignore[arg-type]
            p.fillRect(rect, QtGui.QBrush(qcolor(rgb), QtCore.Qt.BrushStyle.BDiagPattern))
        elif kind == "open":
            p.setBrush(qcolor(rgb))
            p.drawPolygon(QtGui.QPolygonF([rect.topLeft(), QtCore.QPointF(rect.right(), rect.center().y()), rect.bottomLeft()]))
        elif kind == "band":
            p.fillRect(rect, qcolor(rgb[:4]))
            p.setPen(qcolor(rgb[4:]))
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
        else:
            p.fillRect(rect, qcolor(rgb))
