"""The notice a followed trace raises over the window when a new hazard is decided (``gui.follow``)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from tracer.analysis.follow_hazards import LiveHazard

from .plain import format_offset, one_line

NOTICE_MS = 15000  # a notice hides itself after this long


class HazardNotice(QtWidgets.QFrame):
    """A notice over the window's top right corner: the newest hazard found, a button to see it, and close.

    Non-modal: it takes no focus and hides itself after ``NOTICE_MS``.
    ``showRequested`` carries the hazard's index in the hazard list.
    """

    showRequested = QtCore.Signal(int)

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("racelane-hazard-notice")
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.setStyleSheet("#racelane-hazard-notice { background: #fff4e5; border: 2px solid #d9480f; border-radius: 6px; }"
                           " QLabel { color: #5c1a00; }")
        self.title = QtWidgets.QLabel()
        self.title.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.text = QtWidgets.QLabel()
        self.text.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.show_button = QtWidgets.QPushButton("Show")
        self.show_button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.show_button.clicked.connect(self._show_clicked)
        close = QtWidgets.QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        close.clicked.connect(self.hide)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(close)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.text, 1)
        bottom.addWidget(self.show_button)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(10, 6, 6, 8)
        box.addLayout(top)
        box.addLayout(bottom)
        self.setFixedWidth(420)
        self.index = -1
        self.pending = 0
        self._hide = QtCore.QTimer(self)
        self._hide.setSingleShot(True)
        self._hide.timeout.connect(self.hide)
        self.hide()

    def add(self, index: int, hazard: LiveHazard, t0_ns: int) -> None:
        """Show hazard ``index`` (newer notices replace older ones, which are counted)."""
        self.pending = self.pending + 1 if self.isVisible() else 0
        self.index = index
        more = f"  (+{self.pending} more)" if self.pending else ""
        self.title.setText(f"New {hazard.class_name.upper()} hazard{more}")
        d = hazard.description
        self.text.setText(one_line(f"{d.get('title', hazard.title)} — {d.get('host', '')}, at "
                                   f"{format_offset(hazard.start_ns - t0_ns)}", 160))
        self.adjustSize()
        self.place()
        QtCore.QTimer.singleShot(0, self.place)  # once the window's layout settled (a trace just shown)
        self.show()
        self.raise_()
        self._hide.start(NOTICE_MS)

    def place(self) -> None:
        """Sit at the top right of the timeline (below the legend), or of the window's content."""
        window = self.window_
        timeline = getattr(window, "timeline", None)
        if timeline is not None:
            top = timeline.mapTo(window, QtCore.QPoint(0, 0)).y()
        else:
            central = window.centralWidget()
            top = central.geometry().top() if central is not None else 0
        self.move(max(0, window.width() - self.width() - 16), top + 8)

    def _show_clicked(self) -> None:
        self.hide()
        self.showRequested.emit(self.index)
