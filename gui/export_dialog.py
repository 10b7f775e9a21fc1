"""File > Export image… (Ctrl+E) and Copy image (Ctrl+Shift+C): the viewer's way to ``gui.export``.

The dialog asks for the format (PNG, SVG, PDF), what to show (the current
view, the whole trace, or the selected hazard with a margin), the size (a
width in pixels, or the window's size) and scale, the theme (light by
default: images end up in documents) and whether to add the caption; then
where to save. The image is what the timeline shows: its lanes (collapsed
groups, filters and pivot included), its time range, its selected hazard.
Copy image puts the current view on the clipboard at the screen's pixel
ratio, the selected hazard's caption included.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from PySide6 import QtGui, QtWidgets

from .export import Exported, ExportError, export_image, render_image, whole_range
from .plain import one_line

FORMATS = (("png", "PNG image (*.png)"), ("svg", "SVG vector image (*.svg)"), ("pdf", "PDF document (*.pdf)"))
WHAT = (("view", "The current view"), ("trace", "The whole trace"), ("hazard", "The selected hazard, with a margin"))


@dataclass(frozen=True)
class ExportChoice:
    """What the dialog asked for."""

    fmt: str = "png"
    what: str = "view"  # view, trace or hazard
    width: int = 1920
    window_size: bool = False  # the window's width and height instead of ``width``
    scale: float = 1.0
    theme: str = "light"
    caption: bool = True


class ExportDialog(QtWidgets.QDialog):
    """The options of an export; ``choice()`` reads them."""

    def __init__(self, choice: ExportChoice, *, has_hazard: bool, window_size: tuple[int, int],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export image")
        self.format = QtWidgets.QComboBox()
        for code, text in FORMATS:
            self.format.addItem(text.split(" (")[0], code)
        self.format.setCurrentIndex([c for c, _ in FORMATS].index(choice.fmt))
        self.what: dict[str, QtWidgets.QRadioButton] = {}
        what_box = QtWidgets.QVBoxLayout()
        for code, text in WHAT:
            button = QtWidgets.QRadioButton(text)
            self.what[code] = button
            what_box.addWidget(button)
        self.what["hazard"].setEnabled(has_hazard)
        if not has_hazard:
            self.what["hazard"].setToolTip("Select a hazard in the list first")
        wanted = choice.what if (choice.what != "hazard" or has_hazard) else "view"
        self.what[wanted].setChecked(True)
        self.by_width = QtWidgets.QRadioButton("Width")
        self.width = QtWidgets.QSpinBox()
        self.width.setRange(320, 16000)
        self.width.setSingleStep(160)
        self.width.setSuffix(" px")
        self.width.setValue(choice.width)
        self.by_window = QtWidgets.QRadioButton(f"The window's size ({window_size[0]}×{window_size[1]} px)")
        (self.by_window if choice.window_size else self.by_width).setChecked(True)
        self.width.setEnabled(not choice.window_size)
        self.by_width.toggled.connect(self.width.setEnabled)
        self.scale = QtWidgets.QComboBox()
        for value in (1.0, 1.5, 2.0, 3.0):
            self.scale.addItem(f"{value:g}×", value)
        self.scale.setCurrentIndex(max(0, self.scale.findData(choice.scale)))
        self.scale.setToolTip("Device pixels per pixel in a PNG (2× for HiDPI screens); SVG and PDF are vector")
        self.theme = QtWidgets.QComboBox()
        self.theme.addItem("Light (for documents)", "light")
        self.theme.addItem("Dark", "dark")
        self.theme.setCurrentIndex(max(0, self.theme.findData(choice.theme)))
        self.caption = QtWidgets.QCheckBox("Add the hazard's explanation below the timeline")
        self.caption.setChecked(choice.caption)
        self.caption.setToolTip("The selected hazard's, or those in view when none is selected")
        self.format.currentIndexChanged.connect(self._format_changed)
        self._format_changed()

        size_box = QtWidgets.QGridLayout()
        size_box.addWidget(self.by_width, 0, 0)
        size_box.addWidget(self.width, 0, 1)
        size_box.addWidget(self.by_window, 1, 0, 1, 2)
        form = QtWidgets.QFormLayout()
        form.addRow("Format:", self.format)
        form.addRow("Show:", what_box)
        form.addRow("Size:", size_box)
        form.addRow("Scale:", self.scale)
        form.addRow("Theme:", self.theme)
        form.addRow("", self.caption)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Save
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Save).setText("Export…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box = QtWidgets.QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(buttons)

    def _format_changed(self) -> None:
        self.scale.setEnabled(self.format.currentData() == "png")

    def choice(self) -> ExportChoice:
        """Return the options as set."""
        what = next(code for code, button in self.what.items() if button.isChecked())
        return ExportChoice(fmt=self.format.currentData(), what=what, width=self.width.value(),
                            window_size=self.by_window.isChecked(), scale=float(self.scale.currentData()),
                            theme=self.theme.currentData(), caption=self.caption.isChecked())


class ExportActions:
    """The window's export actions: ``install`` adds them to a menu; see the module docstring."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.last = ExportChoice()
        self.last_dir = ""
        self.export_action: QtGui.QAction | None = None
        self.copy_action: QtGui.QAction | None = None

    def install(self, menu: QtWidgets.QMenu) -> None:
        """Add Export image… (Ctrl+E) and Copy image (Ctrl+Shift+C) to ``menu`` (the File menu)."""
        menu.addSeparator()
        self.export_action = menu.addAction("&Export image…", self.export_dialog)
        self.export_action.setShortcut(QtGui.QKeySequence("Ctrl+E"))
        self.export_action.setStatusTip("Save the timeline as PNG, SVG or PDF, for a bug report")
        self.copy_action = menu.addAction("&Copy image", self.copy_image)
        self.copy_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+C"))
        self.copy_action.setStatusTip("Put the current view on the clipboard as an image")
        menu.aboutToShow.connect(self._update_enabled)
        self._update_enabled()

    def _update_enabled(self) -> None:
        shown = self._timeline() is not None
        for action in (self.export_action, self.copy_action):
            if action is not None:
                action.setEnabled(True)  # shortcuts stay live; without a trace they say so
                action.setToolTip("" if shown else "Open a trace first")

    def _timeline(self) -> Any:
        return getattr(self.window, "timeline", None)

    def _selected(self) -> int:
        """Return the selected hazard of the timeline (0-based), -1 for none."""
        timeline = self._timeline()
        if timeline is None:
            return -1
        i = int(getattr(timeline.bands, "selected", -1))
        return i if 0 <= i < len(timeline.data.hazards) else -1

    # --- the two actions -------------------------------------------------------------------------------
    def export_dialog(self) -> Exported | None:
        """Ask what to export and where, then write the file; say how it went in the status bar."""
        timeline = self._timeline()
        if timeline is None:
            self._say("Open a trace first: there is nothing to export")
            return None
        dialog = ExportDialog(self.last, has_hazard=self._selected() >= 0,
                              window_size=(self.window.width(), self.window.height()), parent=self.window)
        if dialog.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return None
        choice = dialog.choice()
        self.last = replace(choice, what="view" if choice.what == "hazard" else choice.what)
        suffix = choice.fmt
        filters = ";;".join(text for code, text in FORMATS if code == suffix)
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Export image",
                                                        os.path.join(self.last_dir, self.suggested_name(choice)),
                                                        filters)
        if not path:
            return None
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        confirmed = True  # the file dialog asked before replacing the file it returned
        if ext in (code for code, _ in FORMATS):
            choice = replace(choice, fmt=ext)  # a name typed with another format's extension wins
        else:
            path += "." + suffix
            confirmed = not os.path.exists(path)
        if not confirmed:
            answer = QtWidgets.QMessageBox.question(self.window, "Export image",
                                                    f"{os.path.basename(path)} exists. Replace it?")
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return None
        self.last_dir = os.path.dirname(path)
        return self.export_to(path, choice, force=True)

    def export_to(self, path: str, choice: ExportChoice, force: bool = False) -> Exported | None:
        """Write what ``choice`` asks for to ``path``; errors go to a message box, not the caller."""
        try:
            done = export_image(self._data(), path, fmt=choice.fmt, force=force, **self.options(choice))
        except ExportError as err:
            QtWidgets.QMessageBox.warning(self.window, "Export image", one_line(str(err), 400))
            return None
        self._say(f"Exported {done.summary()}")
        return done

    def copy_image(self) -> QtGui.QImage | None:
        """Put the current view (as the dialog's "current view", at the screen's pixel ratio) on the clipboard."""
        if self._timeline() is None:
            self._say("Open a trace first: there is nothing to copy")
            return None
        choice = replace(self.last, what="view", fmt="png", scale=float(self.window.devicePixelRatioF()),
                         caption=self.last.caption and self._selected() >= 0)
        try:
            image = render_image(self._data(), **self.options(choice))
        except ExportError as err:
            QtWidgets.QMessageBox.warning(self.window, "Copy image", one_line(str(err), 400))
            return None
        QtWidgets.QApplication.clipboard().setImage(image)
        self._say(f"Copied a {image.width()}×{image.height()} image of the view to the clipboard")
        return image

    # --- what the timeline shows, as export options ------------------------------------------------------
    def _data(self) -> Any:
        return self._timeline().data

    def options(self, choice: ExportChoice) -> dict[str, Any]:
        """Return ``export_image``'s keyword options for ``choice`` and what the timeline shows now."""
        timeline = self._timeline()
        selected = self._selected()
        options: dict[str, Any] = {"layout": timeline.lanes, "theme": choice.theme, "caption": choice.caption,
                                   "hazard": selected + 1 if selected >= 0 else None}
        if choice.fmt == "png":
            options["scale"] = choice.scale
        if choice.window_size:
            options["width"], options["height"] = self.window.width(), self.window.height()
            options["y_top"] = float(timeline.vb.top)
        else:
            options["width"] = choice.width
        if choice.what == "view":
            options["t_range"] = timeline.x_range()
        elif choice.what == "trace":
            options["t_range"] = whole_range(timeline.data)
        elif selected < 0:
            raise ExportError("no hazard is selected: select one in the list, or export the view")
        return options

    def suggested_name(self, choice: ExportChoice) -> str:
        """Return a file name for ``choice``: the first trace's name, and the hazard or ``view``."""
        sources = getattr(self._data(), "sources", None) or ["trace"]
        base = os.path.splitext(os.path.basename(sources[0]))[0] or "trace"
        selected = self._selected()
        tail = f"hazard{selected + 1}" if choice.what == "hazard" and selected >= 0 else choice.what
        return f"{base}-{tail}.{choice.fmt}"

    def _say(self, text: str) -> None:
        bar = getattr(self.window, "statusBar", None)
        if bar is not None:
            bar().showMessage(text, 10000)
