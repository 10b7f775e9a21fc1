"""Viewer test fixtures: the sample traces loaded once, windows opened offscreen, hostile traces."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
BUGGY = SAMPLES / "nova-1896463-buggy.jsonl"
FIXED = SAMPLES / "nova-1896463-fixed.jsonl"

HOSTILE_NAMES = ("<img src=x>", "<table><tr><td>" + "<tr><td>row</td></tr>" * 300 + "</table>", "<b>bold</b>\nsecond line")


@pytest.fixture(scope="session", autouse=True)
def private_settings(tmp_path_factory):
    """Keep every viewer test away from the user's settings: QSettings and RACELANE_SETTINGS point at a temp dir."""
    import os

    from PySide6 import QtCore

    directory = tmp_path_factory.mktemp("settings")
    for fmt in (QtCore.QSettings.Format.NativeFormat, QtCore.QSettings.Format.IniFormat):
        QtCore.QSettings.setPath(fmt, QtCore.QSettings.Scope.UserScope, str(directory))
    before = os.environ.get("RACELANE_SETTINGS")
    os.environ["RACELANE_SETTINGS"] = str(directory / "racelane.ini")
    yield directory
    if before is None:
        os.environ.pop("RACELANE_SETTINGS", None)
    else:
        os.environ["RACELANE_SETTINGS"] = before


@pytest.fixture(scope="session")
def buggy_data():
    from gui.app import load_data

    return load_data([str(BUGGY)])


@pytest.fixture(scope="session")
def fixed_data():
    from gui.app import load_data

    return load_data([str(FIXED)])


@pytest.fixture
def open_window(qtbot):
    """Return a function that shows a ``MainWindow`` on some data, sized and laid out."""

    def opener(data, width=1200, height=800):
        from gui.window import MainWindow

        window = MainWindow(data)
        qtbot.addWidget(window)
        window.resize(width, height)
        window.show()
        qtbot.waitExposed(window)
        qtbot.wait(10)
        return window

    return opener


def write_trace(path: Path, spans: list[tuple[str, str, int, int, dict]], lane_name: str = "worker",
                marks: list[tuple[str, int]] = ()) -> Path:
    """Write a minimal one-process racelane trace: ``spans`` are (name, category, start_ns, end_ns, attrs)."""
    lines = [
        {"type": "header", "format": "racelane", "version": 1, "host": "hostA", "pid": 7, "process": "svc",
         "clock": {"monotonic_ns": 0, "wall_ns": 1_790_000_000_000_000_000}},
        {"type": "lane", "lane": 1, "kind": "thread", "name": lane_name},
    ]
    rows = [[k + 1, 0, 1, s, e, name, cat, None] for k, (name, cat, s, e, _) in enumerate(spans)]
    for first in range(0, len(rows), 1024):  # lines stay under the readers' 1 MiB cap
        lines.append({"type": "spans", "rows": rows[first:first + 1024], "attrs": [a for *_, a in spans[first:first + 1024]]})
    if marks:
        lines.append({"type": "marks", "rows": [[1, ts, name, "mark", 0] for name, ts in marks], "attrs": [None] * len(marks)})
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


@pytest.fixture
def trace_writer():
    """Return ``write_trace`` (a function, for tests that build their own traces)."""
    return write_trace


@pytest.fixture
def buggy_path():
    """Return the path of the buggy sample trace."""
    return BUGGY


@pytest.fixture
def hostile_trace(tmp_path):
    """A trace whose span names, lane name and attributes are HTML."""
    spans = [(name, "db", 1_000_000 * (k + 1), 1_000_000 * (k + 1) + 800_000, {"html": name, "k": k})
             for k, name in enumerate(HOSTILE_NAMES)]
    return write_trace(tmp_path / "hostile.jsonl", spans, lane_name="<img src=lane.png>")
