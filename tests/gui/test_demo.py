"""`racelane demo`: the Nova race, its hazard report, and (without a display) a PNG of the hazard window."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]


def test_demo_without_display_prints_the_report_and_writes_the_png(tmp_path):
    """Headless, the demo reports the confirmed hazard and saves a picture of it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = str(ROOT)
    trace = tmp_path / "demo.jsonl"
    proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "demo", "-o", str(trace)], capture_output=True,
                          text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "CONFIRMED: evacuation finish inside the audit's snapshot" in proc.stdout
    assert "POTENTIAL: evacuation finish outside compute_resources" in proc.stdout
    png = tmp_path / "demo-hazard.png"
    assert f"the hazard window is in {png}" in proc.stdout
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1600, 900)
