"""The main window: legend and timeline above, hazards and details below, counts in the status bar.

It binds the parts together and owns no data: selecting a hazard zooms the
timeline to it and outlines its spans; clicking a span or mark fills the
details panel. Navigation keys (see ``gui.timeline``) work wherever the
focus is in the window. A window without data shows why (an unreadable
file, nothing opened yet) instead.

Files are read in the background (``gui.files``, ``gui.loading``): the
window stays usable, with a progress bar and Cancel in the status bar, and
the trace shown stays until the new one is ready. Files and directories
dropped on the window open the same way. Search (Ctrl+F), the Filters dock,
the pivot by attribute and the area statistics are ``gui.navigation``'s. The theme follows the system
unless View > Theme says otherwise; with ``Settings.for_user()`` the window
remembers it, the recent files, and its geometry and splitter sizes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from . import theme as themes
from .data import ViewerData
from .describe import hazard_text, mark_details, span_details
from .export_dialog import ExportActions
from .files import FileActions
from .follow import install_follow_action
from .navigation import NavigationActions
from .panels import DetailsPanel, HazardPanel, LegendBar
from .plain import format_duration, format_offset, one_line, tooltip
from .settings import Settings
from .timeline import Timeline

FIRST_FRAME_WAIT_MS = 1000


class MainWindow(QtWidgets.QMainWindow):
    """See the module docstring. ``dataShown`` fires once a trace's first frame is drawn, ``hazardsShown``
    once its hazards are listed (the analysis runs after the first frame)."""

    dataShown = QtCore.Signal()
    hazardsShown = QtCore.Signal()

    def __init__(self, data: ViewerData | None = None, error: str | None = None, *, rules: Any = "nova",
                 settings: Settings | None = None, theme: str | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.theme_choice = theme or self.settings.theme()
        self.theme = themes.resolve(self.theme_choice)
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
        self.split: QtWidgets.QSplitter | None = None
        self.bottom: QtWidgets.QSplitter | None = None
        self._first_frame_pending: Callable[[], None] | None = None
        self.files = FileActions(self, self.settings, rules)
        self.notices = self.files.notices
        self._menus()
        self.setAcceptDrops(True)
        self.resize(1400, 860)
        if data is not None:
            self.show_data(data)
        else:
            self.show_message(error or "No trace open. Use File > Open, drop trace files here, or run: racelane view TRACE.jsonl", error is not None)

    @staticmethod
    def _status_label() -> QtWidgets.QLabel:
        label = QtWidgets.QLabel()
        label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        return label

    def _menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.files.install(file_menu)
        self.exports = ExportActions(self)  # Export image… (Ctrl+E), Copy image (Ctrl+Shift+C)
        self.exports.install(file_menu)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QtGui.QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        view_menu = self.menuBar().addMenu("&View")
        for text, key in (("Zoom in\tW", QtCore.Qt.Key.Key_W), ("Zoom out\tS", QtCore.Qt.Key.Key_S),
                          ("Pan left\tA", QtCore.Qt.Key.Key_A), ("Pan right\tD", QtCore.Qt.Key.Key_D),
                          ("Fit all\tHome", QtCore.Qt.Key.Key_Home), ("Fit selection\tF", QtCore.Qt.Key.Key_F),
                          ("Back\tAlt+Left", QtCore.Qt.Key.Key_Backspace)):
            action = view_menu.addAction(text)
            action.triggered.connect(lambda _=False, k=key: self.timeline and self.timeline.handle_key(k, QtCore.Qt.KeyboardModifier.NoModifier))
        view_menu.addSeparator()
        offsets = view_menu.addAction("Clock &offsets…")
        offsets.setStatusTip("Shift a host's clock and check the rules again")
        offsets.triggered.connect(self.files.offsets_dialog)
        self._theme_menu(view_menu.addMenu("&Theme"))
        self.navigation = NavigationActions(self)
        self.navigation.install(view_menu)
        install_follow_action(self, view_menu)  # View > Follow: the files as they grow (``gui.follow``)
        self.files.install_rules_menu(self.menuBar().addMenu("&Rules"))  # the rule set the hazards come from

    def _theme_menu(self, menu: QtWidgets.QMenu) -> None:
        group = QtGui.QActionGroup(menu)
        self.theme_actions: dict[str, QtGui.QAction] = {}
        for choice, text in (("system", "&System"), ("light", "&Light"), ("dark", "&Dark")):
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(choice == self.theme_choice)
            action.triggered.connect(lambda _=False, c=choice: self.set_theme_choice(c))
            group.addAction(action)
            self.theme_actions[choice] = action
        hints = QtGui.QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._system_scheme_changed)

    # --- content ----------------------------------------------------------------------------
    def show_message(self, text: str, is_error: bool = False) -> None:
        """Replace the content with a plain-text message (an error, or how to open a trace)."""
        self._remember_splitters()
        self.split = self.bottom = None
        self.message = QtWidgets.QLabel(text)
        self.message.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        self.message.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.message.setMargin(40)
        if is_error:
            self.message.setStyleSheet("color: #{:02x}{:02x}{:02x}; font-size: 11pt;".format(*self.theme.error))
        self.setCentralWidget(self.message)
        self.data = self.timeline = self.hazards = self.details = None
        self.navigation.attach(None)
        self.counts.setText("")
        self.statusBar().showMessage(one_line(text, 200))
        self.setWindowTitle("racelane")

    def show_data(self, data: ViewerData) -> None:
        """Show a loaded trace and its hazards."""
        self._remember_splitters()
        self.message = None
        self.data = data
        self.timeline = Timeline(data, theme=self.theme)
        self.details = DetailsPanel()
        top = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(top)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        self.legend = LegendBar(data.trace.cats, sorted(set(data.trace.spans.cat.tolist())), theme=self.theme)
        box.addWidget(self.legend)
        box.addWidget(self.timeline)
        self.bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.bottom.addWidget(QtWidgets.QWidget())  # the hazard panel's place (show_hazards)
        self.bottom.addWidget(self.navigation.bottom_tabs(self.details))
        self.bottom.setSizes(self.settings.splitter_sizes("bottom") or [700, 500])
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        wanted = int(self.timeline.lanes.height) + 80  # lanes, time axis, legend
        split.setSizes(self.settings.splitter_sizes("main") or [max(260, min(wanted, 620)), 260])
        self.split = split
        self.setCentralWidget(split)
        self.timeline.spanClicked.connect(self._span_clicked)
        self.timeline.markClicked.connect(self._mark_clicked)
        self.timeline.cursorMoved.connect(self._cursor_moved)
        self.timeline.vb.sigXRangeChanged.connect(lambda *_: self._range_changed())
        for widget in (self.timeline.plot, self.timeline.plot.viewport(), self.details.text):
            widget.installEventFilter(self)
        self.navigation.attach(self.timeline)
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
        panel = HazardPanel(data.hazards, lambda i: hazard_text(data, i), pending=data.analysis is None, theme=self.theme)
        old = self.bottom.replaceWidget(0, panel)
        if old is not None:
            old.deleteLater()
        self.hazards = panel
        panel.hazardSelected.connect(self.select_hazard)
        for widget in (panel.table, panel.text):
            widget.installEventFilter(self)
        if data.analysis is not None:
            self.statusBar().showMessage(f"{data.hazards.count} hazards ({data.rules_name} rules)", 8000)
            self.hazardsShown.emit()

    def first_frame(self, then: Callable[[], None] | None = None, wait: bool = True) -> None:
        """Announce ``dataShown`` once the trace just shown is painted, then call ``then`` (the analysis).

        Without ``wait``, or when the window is not on screen, at once.
        """
        def shown() -> None:
            if self._first_frame_pending is not shown:
                return  # another trace was shown since
            self._first_frame_pending = None
            self.dataShown.emit()
            if then is not None:
                then()

        self._first_frame_pending = shown
        if not wait or not self.isVisible() or self.timeline is None:
            shown()
            return
        self.timeline.spans.on_painted = shown
        QtCore.QTimer.singleShot(FIRST_FRAME_WAIT_MS, shown)  # not exposed (minimized, another desktop): go on

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
        self.timeline.show_interval(float(hz.view_start[i]), float(hz.view_end[i]), self.timeline.data.hazards.lanes(i))

    def _span_clicked(self, row: int) -> None:
        if self.details is not None and self.timeline is not None:
            self.details.show_text(span_details(*self.timeline.data.origin(row)) if row >= 0 else "")

    def _mark_clicked(self, row: int) -> None:
        if self.details is not None and self.timeline is not None:
            self.details.show_text(mark_details(*self.timeline.data.origin_mark(row)))

    def _cursor_moved(self, t: float) -> None:
        self.cursor.setText("" if math.isnan(t) else f"cursor {format_offset(t)}")

    def _range_changed(self) -> None:
        if self.timeline is not None:
            x0, x1 = self.timeline.x_range()
            self.visible.setText(f"view {format_offset(x0)} .. {format_offset(x1)} ({format_duration(x1 - x0)})")

    # --- files --------------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        """Ask for trace files and open them (merged; errors are shown in the window)."""
        self.files.open_dialog()

    def open_paths(self, paths: list[str], add: bool = False) -> None:
        """Open trace files and directories in the background (with ``add``: merged with those shown)."""
        self.files.open_paths(paths, add=add)

    def load_paths(self, paths: list[str]) -> None:
        """Load ``paths`` and check the rules before returning; show the trace, or the error in the window."""
        self.files.open_paths(paths, background=False)

    def set_offsets(self, offsets_ns: dict[str, int], background: bool = True) -> None:
        """Set per-host clock offsets (ns, absolute) and check the rules again."""
        self.files.set_offsets(offsets_ns, background)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if not self.files.accepts(event):
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QtGui.QDragMoveEvent) -> None:
        if not self.files.accepts(event):
            super().dragMoveEvent(event)

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        if not self.files.drop(event):
            super().dropEvent(event)

    # --- theme and settings ---------------------------------------------------------------------
    def set_theme_choice(self, choice: str) -> None:
        """Use the theme ``choice`` (``system``, ``light`` or ``dark``) and remember it."""
        self.theme_choice = choice if choice in themes.CHOICES else "system"
        self.settings.set_theme(self.theme_choice)
        action = getattr(self, "theme_actions", {}).get(self.theme_choice)
        if action is not None:
            action.setChecked(True)
        self.apply_theme(themes.apply_to_application(QtWidgets.QApplication.instance(), self.theme_choice))

    def apply_theme(self, theme: themes.Theme) -> None:
        """Draw the window's own parts (timeline, legend, hazard list, notices) in ``theme``."""
        self.theme = theme
        if self.timeline is not None:
            self.timeline.set_theme(theme)
        if getattr(self, "legend", None) is not None and self.data is not None:
            self.legend.set_theme(theme)
        if self.hazards is not None:
            self.hazards.set_theme(theme)
        self.notices.set_theme(theme)
        self.navigation.set_theme(theme)
        if self.message is not None and self.message.styleSheet():
            self.message.setStyleSheet("color: #{:02x}{:02x}{:02x}; font-size: 11pt;".format(*theme.error))

    def _system_scheme_changed(self, *_: object) -> None:
        if self.theme_choice == "system":
            self.apply_theme(themes.apply_to_application(QtWidgets.QApplication.instance(), "system"))

    def _remember_splitters(self) -> None:
        for name, splitter in (("main", self.split), ("bottom", self.bottom)):
            try:
                if splitter is not None and any(splitter.sizes()):
                    self.settings.set_splitter_sizes(name, splitter.sizes())
            except RuntimeError:
                pass  # the splitter was deleted with the content it held

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.files.runner.cancel_all()
        if self.settings.persistent:
            self._remember_splitters()
            self.settings.save_window(self)
        super().closeEvent(event)

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
