"""The search bar (Ctrl+F): a query field, how many matches, previous and next.

Typing searches after a short pause (``DEBOUNCE_MS``); Enter goes to the
next match (searching first if the text changed), Shift+Enter to the
previous one, Escape closes the bar and drops the outlines. The count is
plain text. The bar only asks: ``searchRequested`` carries the query,
``stepRequested`` the direction, ``closed`` says it went away.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

DEBOUNCE_MS = 300
PLACEHOLDER = "span name or attribute value (an instance uuid…); key=value for one attribute"


class SearchField(QtWidgets.QLineEdit):
    """A line edit that tells Enter, Shift+Enter and Escape apart."""

    entered = QtCore.Signal(bool)  # forward
    escaped = QtCore.Signal()

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            self.entered.emit(not bool(event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier))
            event.accept()
            return
        if event.key() == QtCore.Qt.Key.Key_Escape:
            self.escaped.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class SearchBar(QtWidgets.QToolBar):
    """See the module docstring."""

    searchRequested = QtCore.Signal(str)
    stepRequested = QtCore.Signal(bool)  # forward
    closed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Search", parent)
        self.setObjectName("searchBar")
        self.setMovable(False)
        self.setFloatable(False)
        title = QtWidgets.QLabel(" Find ")
        title.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.field = SearchField()
        self.field.setPlaceholderText(PLACEHOLDER)
        self.field.setClearButtonEnabled(True)
        self.field.setMinimumWidth(420)
        self.field.setMaximumWidth(700)
        self.count = QtWidgets.QLabel("")
        self.count.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.count.setMinimumWidth(200)
        self.count.setContentsMargins(8, 0, 8, 0)
        self.addWidget(title)
        self.addWidget(self.field)
        self.previous = self.addAction("▲", lambda: self._step(False))
        self.previous.setToolTip("Previous match (Shift+Enter, Shift+F3)")
        self.next = self.addAction("▼", lambda: self._step(True))
        self.next.setToolTip("Next match (Enter, F3)")
        self.addWidget(self.count)
        spacer = QtWidgets.QWidget()
        spacer.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        self.addWidget(spacer)
        close = self.addAction("✕", self.close_bar)
        close.setToolTip("Close the search (Escape)")
        self._searched: str | None = None
        self._pending = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._pending.timeout.connect(self.search_now)
        self.field.textChanged.connect(lambda _text: self._pending.start())
        self.field.entered.connect(self._step)
        self.field.escaped.connect(self.close_bar)

    def open(self, text: str | None = None) -> None:
        """Show the bar and put the focus in the field (with ``text`` in it, searched at once)."""
        self.show()
        if text is not None:
            self.field.setText(text)
            self.search_now()
        self.field.setFocus(QtCore.Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def query(self) -> str:
        return self.field.text()

    def search_now(self) -> None:
        """Search for the field's text now (if it changed since the last search)."""
        self._pending.stop()
        text = self.field.text()
        if text != self._searched:
            self._searched = text
            self.searchRequested.emit(text)

    def forget(self) -> None:
        """Search again on the next request even if the text is the same (new data)."""
        self._searched = None

    def _step(self, forward: bool) -> None:
        self.search_now()
        self.stepRequested.emit(forward)

    def show_status(self, text: str) -> None:
        self.count.setText(text)

    def close_bar(self) -> None:
        """Hide the bar; the outlines go with it."""
        self._pending.stop()
        self.hide()
        self._searched = None
        self.closed.emit()
