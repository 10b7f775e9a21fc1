"""Opening files: worker loads with progress and Cancel, several files merged, drops, corrupt files, reload, recent."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from gui import files as gui_files
from gui.loading import Cancelled, LoadRequest, Task, read_traces
from gui.settings import Settings
from gui.window import MainWindow

SAMPLES = Path(__file__).resolve().parents[2] / "sample_traces"
BUGGY = SAMPLES / "nova-1896463-buggy.jsonl"
FIXED = SAMPLES / "nova-1896463-fixed.jsonl"
SKEW = SAMPLES / "multi-host-skew"
HOST1 = SKEW / "host1-nova-compute-3117.jsonl"
HOST2 = SKEW / "host2-nova-compute-4242.jsonl"
WAIT_MS = 20_000


@pytest.fixture
def window(qtbot):
    """An empty main window, shown offscreen, with settings in memory."""
    win = MainWindow(settings=Settings())
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    return win


def _hazard_classes(win) -> list[str]:
    return [win.hazards.model.index(i, 1).data() for i in range(win.hazards.model.rowCount())]


def _gated(monkeypatch, gate: threading.Event, seen: dict):
    """Make the window's load job report half its bytes read, then wait for ``gate`` (or a cancel) first."""
    real = gui_files.read_traces

    def job(request, task):
        seen["thread"] = threading.current_thread()
        task.progress(500, 1000)
        while not gate.is_set():
            task.check()  # raises Cancelled once the user cancels
            time.sleep(0.005)
        return real(request, task)

    monkeypatch.setattr(gui_files, "read_traces", job)


def test_worker_load_shows_the_same_lanes_and_hazards_as_a_direct_load(window, qtbot, buggy_data, open_window,
                                                                         monkeypatch):
    """A background load (in another thread) ends with the lanes and hazard classes of load_data's."""
    seen: dict = {}
    gate = threading.Event()
    gate.set()
    _gated(monkeypatch, gate, seen)
    with qtbot.waitSignal(window.hazardsShown, timeout=WAIT_MS):
        window.open_paths([str(BUGGY)])
    assert seen["thread"] is not threading.main_thread()
    direct = open_window(buggy_data)
    assert window.timeline.lane_names() == direct.timeline.lane_names()
    assert _hazard_classes(window) == _hazard_classes(direct) == ["confirmed", "potential"]
    assert len(window.data.trace.spans) == len(buggy_data.trace.spans)
    assert not window.files.progress.isVisible()


def test_progress_bar_shows_bytes_read_and_the_window_stays_responsive(window, qtbot, monkeypatch):
    """While a load runs, the status bar shows bytes read of the total; the trace shown still navigates."""
    window.load_paths([str(BUGGY)])
    gate = threading.Event()
    _gated(monkeypatch, gate, {})
    window.open_paths([str(FIXED)])
    box = window.files.progress
    qtbot.waitUntil(lambda: box.isVisible() and box.bar.maximum() == 1000 and box.bar.value() == 500, timeout=WAIT_MS)
    assert "Reading nova-1896463-fixed.jsonl" in box.label.text()
    assert "of" in box.bar.format()
    before = window.timeline.x_range()
    qtbot.keyClick(window.timeline.plot, QtCore.Qt.Key.Key_W)  # the event loop runs: the UI answers
    after = window.timeline.x_range()
    assert after[1] - after[0] == pytest.approx((before[1] - before[0]) / 2, rel=1e-6)
    with qtbot.waitSignal(window.dataShown, timeout=WAIT_MS):
        gate.set()
    assert window.data.sources == [str(FIXED)]


def test_cancel_leaves_the_previous_trace_shown(window, qtbot, monkeypatch):
    """Cancel during a load: the job stops, the trace shown before stays, with its hazards and range."""
    window.load_paths([str(BUGGY)])
    shown, names, view = window.data, window.timeline.lane_names(), window.timeline.x_range()
    gate = threading.Event()
    _gated(monkeypatch, gate, {})
    window.open_paths([str(FIXED)])
    box = window.files.progress
    qtbot.waitUntil(box.isVisible, timeout=WAIT_MS)
    task = window.files.runner.running("load")
    qtbot.mouseClick(box.cancel, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(task.done, timeout=WAIT_MS)
    assert isinstance(task.future.exception(), Cancelled)
    qtbot.wait(50)  # the queued end of the task is delivered, and ignored
    assert window.data is shown
    assert window.timeline.lane_names() == names
    assert window.timeline.x_range() == pytest.approx(view)
    assert _hazard_classes(window) == ["confirmed", "potential"]
    assert not box.isVisible()
    assert "cancelled" in window.statusBar().currentMessage()


def test_a_cancelled_task_stops_inside_the_loader():
    """read_traces raises Cancelled from the loader's progress callback, in the middle of reading."""

    class CancelOnFirstChunk(Task):
        def progress(self, done: int, total: int) -> None:
            self.cancel()
            super().progress(done, total)

    task = CancelOnFirstChunk(lambda t: None)
    with pytest.raises(Cancelled):
        read_traces(LoadRequest((str(BUGGY),)), task)
    assert 0 < task.done_bytes <= task.total_bytes


def test_opening_two_files_merges_their_hosts(window, qtbot):
    """Two files picked together load as one trace: one process per file, both hosts, every lane."""
    with qtbot.waitSignal(window.hazardsShown, timeout=WAIT_MS):
        window.open_paths([str(HOST1), str(HOST2)])
    trace = window.data.trace
    assert trace.hosts == ["host1", "host2"]
    assert len(trace.files) == 2
    assert window.timeline.lane_names() == [
        "host1 · periodic update_available_resource",
        "host2 · rpc rebuild_instance 5f8d2a64",
        "host2 · periodic update_available_resource",
    ]
    assert _hazard_classes(window) == ["confirmed", "potential"]
    assert "host1-nova-compute-3117.jsonl" in window.windowTitle()


def test_add_merges_more_files_into_the_trace_shown(window, qtbot):
    """File > Add traces keeps the files shown and merges the new ones in."""
    window.load_paths([str(HOST2)])
    assert window.data.trace.hosts == ["host2"]
    with qtbot.waitSignal(window.dataShown, timeout=WAIT_MS):
        window.open_paths([str(HOST1)], add=True)
    assert window.data.trace.hosts == ["host1", "host2"]


def _drop(win, paths, modifiers=QtCore.Qt.KeyboardModifier.NoModifier):
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QtCore.QPointF(win.width() / 2, win.height() / 2)
    enter = QtGui.QDragEnterEvent(pos.toPoint(), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton, modifiers)
    QtWidgets.QApplication.sendEvent(win, enter)
    drop = QtGui.QDropEvent(pos, QtCore.Qt.DropAction.CopyAction, mime, QtCore.Qt.MouseButton.LeftButton, modifiers)
    QtWidgets.QApplication.sendEvent(win, drop)
    return enter, drop


def test_dropping_a_directory_opens_its_traces(window, qtbot):
    """A directory dropped on the window opens every trace in it, merged."""
    with qtbot.waitSignal(window.hazardsShown, timeout=WAIT_MS):
        enter, drop = _drop(window, [SKEW])
    assert enter.isAccepted() and drop.isAccepted()
    assert window.data.trace.hosts == ["host1", "host2"]
    assert sorted(window.data.sources) == [str(HOST1), str(HOST2)]


def test_a_drag_without_files_is_refused(window):
    """Text dragged over the window is not accepted."""
    mime = QtCore.QMimeData()
    mime.setText("not a file")
    event = QtGui.QDragEnterEvent(QtCore.QPoint(10, 10), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    event.setAccepted(False)
    QtWidgets.QApplication.sendEvent(window, event)
    assert not event.isAccepted()


def test_a_corrupt_file_is_explained_and_the_others_still_show(window, qtbot, tmp_path):
    """Of two files, the one that is not a trace is named with the loader's reason; the other one shows."""
    bad = tmp_path / "corrupt.jsonl"
    bad.write_bytes(b"\x00\xff garbage, not JSON\n")
    with qtbot.waitSignal(window.hazardsShown, timeout=WAIT_MS):
        window.open_paths([str(bad), str(HOST2)])
    assert window.message is None
    assert window.data.trace.hosts == ["host2"]
    assert window.notices.isVisible()
    text = window.notices.text.text()
    assert "corrupt.jsonl is not a racelane trace" in text
    assert "Traceback" not in text


def test_a_file_that_cannot_be_read_at_all_is_explained_in_the_window(window, qtbot, tmp_path):
    """When no file can be read, the window says why in plain words, never a traceback."""
    bad = tmp_path / "corrupt.jsonl"
    bad.write_bytes(b"\x89PNG not a trace\n")
    window.open_paths([str(bad)])
    qtbot.waitUntil(lambda: not window.files.runner.busy, timeout=WAIT_MS)
    qtbot.wait(20)
    assert window.timeline is None
    assert "corrupt.jsonl is not a racelane trace" in window.message.text()
    assert "Traceback" not in window.message.text()


def test_a_failed_load_keeps_the_trace_shown(window, qtbot, tmp_path):
    """Opening an unreadable file over a trace keeps the trace and says why in the notice bar."""
    window.load_paths([str(BUGGY)])
    shown = window.data
    bad = tmp_path / "empty.jsonl"
    bad.write_bytes(b"")
    window.open_paths([str(bad)])
    qtbot.waitUntil(lambda: not window.files.runner.busy, timeout=WAIT_MS)
    qtbot.wait(20)
    assert window.data is shown
    assert "empty.jsonl is empty" in window.notices.text.text()


def test_malformed_lines_are_reported_above_the_trace(window, tmp_path):
    """A trace with a bad line loads; the notice bar quotes the loader's file:line reason."""
    path = tmp_path / "torn.jsonl"
    lines = BUGGY.read_bytes().split(b"\n")
    lines.insert(5, b'{"type": "spans", "rows": "not rows"}')
    path.write_bytes(b"\n".join(lines))
    window.load_paths([str(path)])
    assert window.data is not None
    text = window.notices.text.text()
    assert "skipped 1 malformed" in text
    assert "torn.jsonl:6" in text


def test_reload_keeps_the_visible_range(window, qtbot, tmp_path):
    """F5 reads the files again and keeps the time range in view (it is still in the trace)."""
    path = tmp_path / "buggy.jsonl"
    shutil.copy(BUGGY, path)
    window.load_paths([str(path)])
    window.select_hazard(0)
    before = window.timeline.x_range()
    old = window.data
    with qtbot.waitSignal(window.dataShown, timeout=WAIT_MS):
        window.files.reload_action.trigger()
    assert window.data is not old
    assert window.timeline.x_range() == pytest.approx(before, rel=1e-9)


def test_recent_files_list_each_set_opened_newest_first(window, qtbot):
    """Each set of files opened is remembered once, newest first, and reopens from File > Open recent."""
    settings = window.settings
    window.load_paths([str(BUGGY)])
    window.load_paths([str(HOST1), str(HOST2)])
    window.load_paths([str(BUGGY)])
    assert settings.recent() == [[str(BUGGY)], [str(HOST1), str(HOST2)]]
    menu = window.files.recent
    menu.rebuild()
    entries = [a for a in menu.actions() if a.isEnabled() and not a.isSeparator()]
    assert "nova-1896463-buggy.jsonl" in entries[0].text()
    assert "host1-nova-compute-3117.jsonl, host2-nova-compute-4242.jsonl" in entries[1].text()
    with qtbot.waitSignal(window.dataShown, timeout=WAIT_MS):
        entries[1].trigger()
    assert window.data.trace.hosts == ["host1", "host2"]


def test_chrome_and_otlp_files_are_converted_on_the_way():
    """The viewer opens the buggy trace's Chrome and OTLP exports like the native file, hazards included."""
    from gui.loading import check_rules

    for name in ("nova-1896463-buggy.chrome.json", "nova-1896463-buggy.otlp.jsonl"):
        loaded = read_traces(LoadRequest((str(SAMPLES / name),)))
        assert loaded.data.sources == [str(SAMPLES / name)]
        assert len(loaded.data.trace.spans) > 40
        analysis, _ = check_rules(loaded.data, "nova")
        assert [h["class"] for h in analysis.hazards()] == ["confirmed", "potential"], name


def test_offsets_of_hosts_not_in_the_trace_are_noted_not_fatal():
    """A --offset naming a host the files do not have is said in the notices; the others apply."""
    loaded = read_traces(LoadRequest((str(SKEW),), {"host1": -3_500_000, "host9": 1_000_000}))
    assert loaded.data.trace.host_offsets_ns == {"host1": -3_500_000}
    assert any("host9" in note for note in loaded.notes)


def test_a_directory_without_traces_and_a_missing_file_say_so(tmp_path):
    """When nothing can be opened, the error names each path and why."""
    from tracer.analysis import TraceError

    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(TraceError) as err:
        read_traces(LoadRequest((str(tmp_path / "empty-dir"), str(tmp_path / "missing.jsonl"))))
    assert "no .jsonl or .json files" in str(err.value) and "missing.jsonl: no such file" in str(err.value)


def test_launch_opens_the_window_first_and_loads_into_it(qtbot):
    """racelane view's start-up: the window is up before the trace, which arrives from the worker."""
    from gui.app import launch

    _app, win = launch([str(SKEW)], offsets_ns={"host1": -3_500_000}, settings=Settings(), size=(1000, 700))
    qtbot.addWidget(win)
    assert win.isVisible() and win.data is None
    assert win.files.runner.running("load") is not None
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        pass
    assert win.data.trace.hosts == ["host1", "host2"]
    assert win.data.trace.host_offsets_ns == {"host1": -3_500_000}
    assert (win.width(), win.height()) == (1000, 700)


def test_view_refuses_a_missing_file_before_opening_a_window(capsys):
    """racelane view with a path that does not exist exits 2 and names it."""
    from tracer.cli.main import main

    assert main(["view", "/nonexistent/trace.jsonl"]) == 2
    assert "/nonexistent/trace.jsonl: no such file" in capsys.readouterr().err
