"""The main window: legend and timeline above, hazards and details below, counts in the status bar.

It binds the parts together and owns no data: selecting a hazard zooms the
timeline to it and outlines its spans; clicking a span or mark fills the
details panel. Navigation keys (see ``gui.timeline``) work wherever the
focus is in the window. A window without data shows why (an unreadable
file, nothing opened yet) instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets

from .data import ViewerData
from .describe import hazard_text, mark_details, span_details
from .panels import DetailsPanel, HazardPanel, LegendBar
from .plain import format_duration, format_offset, one_line, tooltip
from .timeline import Timeline

Loader = Callable[[list[str]], ViewerData]


class MainWindow(QtWidgets.QMainWindow):
    """See the module docstring."""

    def __init__(self, data: ViewerData | None = None, error: str | None = None, loader: Loader | None = None) -> None:
        super().__init__()
        self.loader = loader
        self.data: ViewerData | None = None
        self.timeline: Timeline | None = None
        self.hazards: HazardPanel | None = None
        self.details: DetailsPanel | None = None
        self.message: QtWidgets.QLabel | None = None
        self.counts = self._status_label()
        self.cursor = self._status_label()
        self.visible = self._status_label()
        for label in (self.counts, self.visible, self.cursor):
            self.statusBar().addPermanentWidget(label)
        self._menus()
        self.resize(1400, 860)
        if data is not None:
            self.show_data(data)
        else:
            self.show_message(error or "No trace open. Use File > Open, or: racelane view TRACE.jsonl", error is not None)

    @staticmethod
    def _status_label() -> QtWidgets.QLabel:
        label = QtWidgets.QLabel()
        label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        return label

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = file_menu.addAction("&Open traces…")
        open_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self.open_dialog)
        open_action.setEnabled(self.loader is not None)
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        view_menu = self.menuBar().addMenu("&View")
        for text, key in (("Zoom in\tW", QtCore.Qt.Key.Key_W), ("Zoom out\tS", QtCore.Qt.Key.Key_S),
                          ("Pan left\tA", QtCore.Qt.Key.Key_A), ("Pan right\tD", QtCore.Qt.Key.Key_D),
                          ("Fit all\tF", QtCore.Qt.Key.Key_F), ("Back\tAlt+Left", QtCore.Qt.Key.Key_Backspace)):
            action = view_menu.addAction(text)
            action.triggered.connect(lambda _=False, k=key: self.timeline and self.timeline.handle_key(k, QtCore.Qt.KeyboardModifier.NoModifier))

    # --- content ----------------------------------------------------------------------------
    def show_message(self, text: str, is_error: bool = False) -> None:
        """Replace the content with a plain-text message (an error, or how to open a trace)."""
        self.message = QtWidgets.QLabel(text)
        self.message.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setMargin(40)
        if is_error:
            self.message.setStyleSheet("color: #a00000; font-size: 11pt;")
        self.setCentralWidget(self.message)
        self.data = self.timeline = self.hazards = self.details = None
        self.counts.setText("")
        self.statusBar().showMessage(one_line(text, 200))
        self.setWindowTitle("racelane")

    def show_data(self, data: ViewerData) -> None:
        """Show a loaded trace and its hazards."""
        self.message = None
        self.data = data
        self.timeline = Timeline(data)
        self.details = DetailsPanel()
        top = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(top)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(LegendBar(data.trace.cats, sorted(set(data.trace.spans.cat.tolist()))))
        box.addWidget(self.timeline)
        self.bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.bottom.addWidget(QtWidgets.QWidget())  # the hazard panel's place (show_hazards)
        self.bottom.addWidget(self.details)
        self.bottom.setSizes([700, 500])
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        wanted = int(self.timeline.lanes.height) + 80  # lanes, time axis, legend
        split.setSizes([max(260, min(wanted, 620)), 260])
        self.setCentralWidget(split)
        self.timeline.spanClicked.connect(self._span_clicked)
        self.timeline.markClicked.connect(self._mark_clicked)
        self.timeline.cursorMoved.connect(self._cursor_moved)
        self.timeline.vb.sigXRangeChanged.connect(lambda *_: self._range_changed())
        for widget in (self.timeline.plot, self.timeline.plot.viewport(), self.details.text):
            widget.installEventFilter(self)
        self.show_hazards()
        report = data.report
        self.counts.setText(f"{len(data.trace.spans):,} spans · {len(data.trace.marks):,} marks · "
                            f"{len(data.trace.lanes)} lanes · {len(data.trace.hosts)} hosts · "
                            f"{report.skipped_lines} skipped lines")
        if report.problems:
            self.counts.setToolTip(tooltip("\n".join(report.problems)))
        names = ", ".join(os.path.basename(s) for s in data.sources[:3]) + ("…" if len(data.sources) > 3 else "")
        self.setWindowTitle(f"racelane — {one_line(names, 120)}")
        self._range_changed()

    def show_hazards(self) -> None:
        """(Re)build the hazard list and bands from the data's analysis (which may arrive after the first frame)."""
        data, timeline = self.data, self.timeline
        if data is None or timeline is None:
            return
        timeline.refresh_hazards()
        panel = HazardPanel(data.hazards, lambda i: hazard_text(data, i), pending=data.analysis is None)
        old = self.bottom.replaceWidget(0, panel)
        if old is not None:
            old.deleteLater()
        self.hazards = panel
        panel.hazardSelected.connect(self.select_hazard)
        for widget in (panel.table, panel.text):
            widget.installEventFilter(self)
        if data.analysis is not None:
            self.statusBar().showMessage(f"{data.hazards.count} hazards ({data.rules_name} rules)", 8000)

    # --- reactions ------------------------------------------------------------------------------
    def select_hazard(self, i: int) -> None:
        """Zoom to hazard ``i`` (0-based) with a margin and outline its spans."""
        if self.data is None or self.timeline is None or not 0 <= i < len(self.data.hazards):
            return
        if self.hazards is not None and self.hazards.table.currentIndex().row() != i:
            self.hazards.select(i)  # selects the row, whose signal comes back here
            return
        hz = self.data.hazards
        self.timeline.bands.select(i)
        self.timeline.show_interval(float(hz.view_start[i]), float(hz.view_end[i]), hz.lanes(i))

    def _span_clicked(self, row: int) -> None:
        if self.details is not None and self.data is not None:
            self.details.show_text(span_details(self.data, row) if row >= 0 else "")

    def _mark_clicked(self, row: int) -> None:
        if self.details is not None and self.data is not None:
            self.details.show_text(mark_details(self.data, row))

    def _cursor_moved(self, t: float) -> None:
        self.cursor.setText("" if math.isnan(t) else f"cursor {format_offset(t)}")

    def _range_changed(self) -> None:
        if self.timeline is not None:
            x0, x1 = self.timeline.x_range()
            self.visible.setText(f"view {format_offset(x0)} .. {format_offset(x1)} ({format_duration(x1 - x0)})")

    def open_dialog(self) -> None:
        """Ask for trace files and show them (errors are shown in the window)."""
        if self.loader is None:
            return
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(self, "Open traces", "", "racelane traces (*.jsonl *.json);;All files (*)")
        if paths:
            self.load_paths(paths)

    def load_paths(self, paths: list[str]) -> None:
        """Load ``paths`` with the window's loader; show the trace, or the error in the window."""
        from tracer.record.errors import RacelaneError

        assert self.loader is not None
        try:
            self.show_data(self.loader(paths))
        except (RacelaneError, OSError, ValueError) as err:
            self.show_message(f"Could not open {', '.join(paths)}:\n{err}", True)

    # --- keys -------------------------------------------------------------------------------------
    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.KeyPress and self.timeline is not None:
            key_event = event  # QKeyEvent
            if self.timeline.handle_key(key_event.key(), key_event.modifiers()):  # type: ignore[attr-defined]
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if self.timeline is not None and self.timeline.handle_key(event.key(), event.modifiers()):
            event.accept()
            return
        super().keyPressEvent(event)
