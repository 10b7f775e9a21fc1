"""View > Clock offsets…: one row per host with its clock offset in milliseconds.

An offset moves every span and mark of the host by that much (positive:
later), on top of its files' clock anchors; offsets are absolute, so
setting 0 puts a host back where its files say. Applying re-runs the hazard
analysis on the shifted trace: an overlap across hosts can appear,
disappear, or change class (for example from uncertain to unprotected once
the overlap is longer than the skew tolerance). ``racelane view --offset
host1=-3.5`` sets the same offsets from the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6 import QtCore, QtWidgets

from .plain import one_line

LIMIT_MS = 86_400_000.0  # a day either way: more is a wrong anchor, not skew
DECIMALS = 3  # µs resolution


def ms_to_ns(ms: float) -> int:
    """Return ``ms`` milliseconds as integer ns (rounded to the µs the spin boxes show)."""
    return round(round(ms, DECIMALS) * 1_000_000)


class OffsetsDialog(QtWidgets.QDialog):
    """Edit the per-host clock offsets; ``apply`` is called with ``{host: ns}`` on OK or Apply."""

    def __init__(self, hosts: list[str], offsets_ns: Mapping[str, int], apply: Callable[[dict[str, int]], None],
                 lanes_per_host: Mapping[str, int] | None = None, skew_ms: float | None = None,
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Clock offsets")
        self.apply_offsets = apply
        self.hosts = list(hosts)
        intro = QtWidgets.QLabel(
            "Shift a host's clock to line its spans up with the others (positive: later). "
            "The hazard analysis runs again on the shifted trace."
            + (f" Overlaps across hosts shorter than {skew_ms:g} ms are reported as uncertain." if skew_ms else ""))
        intro.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        intro.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(len(self.hosts), 3)
        self.table.setHorizontalHeaderLabels(["host", "lanes", "offset"])
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.spins: dict[str, QtWidgets.QDoubleSpinBox] = {}
        for row, host in enumerate(self.hosts):
            name = QtWidgets.QTableWidgetItem(one_line(host, 80))
            name.setToolTip(one_line(host, 400))
            self.table.setItem(row, 0, name)
            count = QtWidgets.QTableWidgetItem(str((lanes_per_host or {}).get(host, "")))
            count.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, 1, count)
            spin = QtWidgets.QDoubleSpinBox()
            spin.setDecimals(DECIMALS)
            spin.setRange(-LIMIT_MS, LIMIT_MS)
            spin.setSingleStep(0.5)
            spin.setSuffix(" ms")
            spin.setAccelerated(True)
            spin.setValue(offsets_ns.get(host, 0) / 1e6)
            spin.setToolTip(f"clock offset of {one_line(host, 80)}: positive moves its spans later")
            self.table.setCellWidget(row, 2, spin)
            self.spins[host] = spin
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnWidth(2, 150)
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Apply
            | QtWidgets.QDialogButtonBox.StandardButton.Reset | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Reset).setText("All zero")
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Reset).clicked.connect(self.reset)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply).clicked.connect(self._apply)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(intro)
        box.addWidget(self.table)
        box.addWidget(buttons)
        self.resize(460, min(520, 150 + 32 * len(self.hosts)))

    def offsets_ns(self) -> dict[str, int]:
        """Return the offsets as edited, in ns, for every host."""
        return {host: ms_to_ns(spin.value()) for host, spin in self.spins.items()}

    def set_offset_ms(self, host: str, ms: float) -> None:
        """Set one host's offset in the dialog (not applied yet)."""
        self.spins[host].setValue(ms)

    def reset(self) -> None:
        """Set every offset to zero (not applied yet)."""
        for spin in self.spins.values():
            spin.setValue(0.0)

    def _apply(self) -> None:
        self.apply_offsets(self.offsets_ns())

    def _accept(self) -> None:
        self._apply()
        self.accept()
