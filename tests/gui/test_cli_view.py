"""``racelane view``: screenshots of the requested size, clear errors for unreadable input."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6 import QtGui

from tracer.cli.main import main


def test_screenshot_writes_a_png_of_the_requested_size(tmp_path, qapp, buggy_path):
    """--screenshot with --hazard and --size saves a PNG exactly that big and exits 0."""
    out = tmp_path / "buggy.png"
    code = main(["view", str(buggy_path), "--screenshot", str(out), "--hazard", "1", "--size", "900x600"])
    assert code == 0
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (900, 600)
    colours = {image.pixel(x, y) for x in range(0, 900, 15) for y in range(0, 600, 15)}
    assert len(colours) > 20  # a real picture, not a blank canvas


def test_missing_hazard_is_a_usage_error(tmp_path, qapp, capsys, buggy_path):
    """--hazard beyond the hazards found exits 2 and says how many there are."""
    code = main(["view", str(buggy_path), "--screenshot", str(tmp_path / "x.png"), "--hazard", "9"])
    assert code == 2
    assert "has 2 hazard(s)" in capsys.readouterr().err


def test_corrupt_trace_exits_2_with_one_line_on_stderr(tmp_path):
    """A file that is not a trace gives exit code 2 and a message naming it, never a traceback."""
    bad = tmp_path / "corrupt.jsonl"
    bad.write_bytes(b"{\"type\": \"header\", \"format\": \"racelane\", \"version\": 1\n\x00\xff garbage\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "view", str(bad), "--screenshot",
                           str(tmp_path / "x.png")], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "corrupt.jsonl" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_qt_debug_messages_at_exit_do_not_crash_the_viewer(tmp_path, buggy_path):
    """With ``QT_DEBUG_PLUGINS=1`` Qt logs while the process exits, after Python is gone: no crash, exit 0."""
    out = tmp_path / "x.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_DEBUG_PLUGINS": "1"}
    proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "view", str(buggy_path), "--screenshot", str(out)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "unloaded library" in proc.stderr  # Qt's exit-time messages still reach stderr
    assert out.exists()
