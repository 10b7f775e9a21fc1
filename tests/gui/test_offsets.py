"""Per-host clock offsets: the dialog, the spans it moves, and the hazards it re-classifies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtWidgets

from gui.offsets import OffsetsDialog, ms_to_ns
from gui.settings import Settings
from gui.window import MainWindow

SKEW = Path(__file__).resolve().parents[2] / "sample_traces" / "multi-host-skew"
WAIT_MS = 20_000

# The source node's audit must not run while its instance is rebuilt on another host: a rule
# across hosts, so moving host1's clock decides whether (and how long) the two windows overlap.
CROSS_HOST_RULES = """
[ruleset]
name = "cross-host"
skew_ms = 5

[[window]]
id = "audit"
span = "rt._update_available_resource"
keys = { node = "span.node" }

[[window]]
id = "rebuild"
span = "compute.rebuild_instance"
keys = { node = "span.source_node" }

[[hazard]]
id = "source-audit-during-evacuation"
title = "the source node's audit runs while its instance is rebuilt elsewhere"
windows = ["audit", "rebuild"]
join = ["node"]
"""


def _window(qtbot, rules="nova"):
    win = MainWindow(rules=rules, settings=Settings())
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.load_paths([str(SKEW)])
    return win


def _classes(win) -> list[str]:
    return [win.data.hazards.class_name(i) for i in range(len(win.data.hazards))]


def _starts_by_host(data) -> dict[str, np.ndarray]:
    """Return each host's span start times (absolute ns), sorted."""
    trace = data.trace
    host_of_span = trace.lanes.host[trace.spans.lane]
    return {h: np.sort(trace.spans.start_ns[host_of_span == k]) for k, h in enumerate(trace.hosts)}


def test_offset_moves_one_hosts_spans_and_nothing_else(qtbot):
    """host1's clock runs 3.5 ms ahead: -3.5 ms moves each host1 span 3.5 ms earlier on screen, host2's stay."""
    win = _window(qtbot)
    before = _starts_by_host(win.data)
    t0 = win.data.trace.t0_ns
    first_host1 = float(before["host1"][0] - t0)
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        win.set_offsets({"host1": -3_500_000})
    after = _starts_by_host(win.data)
    assert np.array_equal(after["host1"], before["host1"] - 3_500_000)
    assert np.array_equal(after["host2"], before["host2"])
    assert win.data.trace.host_offsets_ns == {"host1": -3_500_000}
    # On screen (ns since the trace's start, which moved with host1's first span): host2 moved right by 3.5 ms.
    t0_new = win.data.trace.t0_ns
    assert float(after["host1"][0] - t0_new) == pytest.approx(first_host1)
    assert float(after["host2"][0] - t0_new) == pytest.approx(float(before["host2"][0] - t0) + 3.5e6)
    # The sample's verdict (README): the race is within host2, so the correction keeps it.
    assert _classes(win) == ["confirmed", "potential"]


def test_offset_change_reclassifies_a_hazard_across_hosts(qtbot, tmp_path):
    """Moving host1 makes its audit overlap host2's rebuild: none, then uncertain (< skew), then unprotected."""
    rules = tmp_path / "cross.toml"
    rules.write_text(CROSS_HOST_RULES)
    win = _window(qtbot, str(rules))
    assert _classes(win) == []
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        win.set_offsets({"host1": 298_000_000})  # overlaps the rebuild's last 3.75 ms: within the 5 ms skew
    assert _classes(win) == ["uncertain"]
    assert win.hazards.model.rowCount() == 1
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        win.set_offsets({"host1": 290_000_000})  # the whole 6.1 ms audit inside the rebuild
    assert _classes(win) == ["unprotected"]
    assert win.hazards.model.index(0, 1).data() == "unprotected"
    win.set_offsets({"host1": 0}, background=False)
    assert _classes(win) == []


def test_offsets_survive_a_reload(qtbot):
    """Reload reads the files again with the offsets in force."""
    win = _window(qtbot)
    win.set_offsets({"host1": -3_500_000}, background=False)
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        win.files.reload()
    assert win.data.trace.host_offsets_ns == {"host1": -3_500_000}


def test_dialog_lists_every_host_and_applies_milliseconds(qtbot):
    """View > Clock offsets shows one spin box per host (in ms); OK applies them in ns to the window."""
    win = _window(qtbot)
    dialog = win.files.offsets_dialog()
    qtbot.addWidget(dialog)
    assert list(dialog.spins) == ["host1", "host2"]
    assert dialog.table.item(0, 1).text() == "1" and dialog.table.item(1, 1).text() == "2"  # lanes per host
    assert dialog.spins["host1"].suffix() == " ms"
    dialog.set_offset_ms("host1", -3.5)
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).click()
    assert win.data.trace.host_offsets_ns == {"host1": -3_500_000, "host2": 0}
    again = win.files.offsets_dialog()
    qtbot.addWidget(again)
    assert again.spins["host1"].value() == pytest.approx(-3.5)
    assert again.spins["host2"].value() == 0.0


def test_dialog_reset_and_apply_without_closing(qtbot):
    """All zero then Apply puts every host back on its files' clock, and the dialog stays open."""
    applied = []
    dialog = OffsetsDialog(["a", "b"], {"a": 1_250_000}, applied.append)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.offsets_ns() == {"a": 1_250_000, "b": 0}
    dialog.reset()
    dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply).click()
    assert applied == [{"a": 0, "b": 0}]
    assert dialog.isVisible()


def test_milliseconds_round_to_whole_microseconds():
    """The spin boxes show µs; the offsets applied are exactly those µs in ns."""
    assert ms_to_ns(-3.5) == -3_500_000
    assert ms_to_ns(0.0004) == 0
    assert ms_to_ns(12.3456789) == 12_346_000
