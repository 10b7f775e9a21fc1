"""Following traces in the viewer: new spans and hazards show as they are written; the view keeps up, or pauses."""

from __future__ import annotations

import os

import orjson
import pytest

from tests.gui.conftest import BUGGY

MONO = 5_000_000_000


@pytest.fixture
def follow(qtbot):
    """Return ``start(paths, **options) -> (window, controller)``: a window following ``paths`` (polling fast)."""
    made = []

    def start(paths, **options):
        from gui.follow import FollowController
        from gui.window import MainWindow

        window = MainWindow(None)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        controller = FollowController(window, [str(p) for p in paths], poll_s=0.02, coalesce_ms=10, **options)
        made.append(controller)
        return window, controller

    yield start
    for controller in made:
        controller.stop()


def spans_in(controller) -> int:
    trace = controller.trace()
    return len(trace.spans) if trace is not None else 0


def test_appended_spans_and_the_hazard_appear(tmp_path, qtbot, follow):
    """Appending to a followed file: the spans show, the confirmed hazard is listed, a notice says so."""
    lines = BUGGY.read_bytes().splitlines(keepends=True)
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"".join(lines[:8]))  # host1's process, host2's header: its flush is still to come
    window, controller = follow([path])
    found = []
    controller.hazardFound.connect(found.append)
    qtbot.waitUntil(lambda: spans_in(controller) == 11, timeout=5000)
    timeline = window.timeline
    assert window.hazards.model.rowCount() == 0
    with open(path, "ab") as out:
        out.write(b"".join(lines[8:]))
    qtbot.waitUntil(lambda: len(found) == 2 and window.hazards.model.rowCount() == 2, timeout=5000)
    assert window.timeline is timeline  # updated in place, not rebuilt
    assert [window.data.hazards.class_name(i) for i in range(2)] == ["confirmed", "potential"]
    assert [h.class_name for h in found] == ["confirmed", "potential"]
    assert controller.notice.isVisible()
    assert "CONFIRMED" in controller.notice.title.text()
    assert "51 spans" in window.counts.text()


def test_the_notice_jumps_to_the_hazard(tmp_path, qtbot, follow):
    """Show on the notice selects the hazard in the list, zooms to it, and pauses following."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(BUGGY.read_bytes())
    window, controller = follow([path])
    qtbot.waitUntil(lambda: controller.notice.isVisible(), timeout=5000)
    controller.notice.show_button.click()
    assert window.hazards.table.currentIndex().row() == 0
    assert window.timeline.bands.selected == 0
    assert not controller.following and not controller.action.isChecked()
    assert not controller.notice.isVisible()


def stream(lane_count: int, first_s: int, seconds: int) -> bytes:
    """Spans of 0.5 s, one after another in each lane, from ``first_s`` for ``seconds``."""
    rows = []
    for s in range(first_s * 2, (first_s + seconds) * 2):
        for lane in range(lane_count):
            start = MONO + s * 500_000_000
            rows.append([10_000 + s * lane_count + lane, 0, lane, start, start + 400_000_000, f"work.{lane}", "db", None])
    return orjson.dumps({"type": "spans", "rows": rows, "attrs": [None] * len(rows)}) + b"\n"


def header() -> bytes:
    return orjson.dumps({"type": "header", "format": "racelane", "version": 1, "host": "h1", "pid": 1, "process": "p",
                         "clock": {"monotonic_ns": MONO, "wall_ns": 1_795_000_000_000_000_000}}) + b"\n"


def test_following_keeps_the_newest_in_sight_panning_pauses_end_resumes(tmp_path, qtbot, follow):
    """While following, the view ends at the newest span; a pan pauses it; End brings it back."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(header() + stream(2, 0, 10))
    window, controller = follow([path])
    qtbot.waitUntil(lambda: spans_in(controller) == 40, timeout=5000)
    x0, x1 = window.timeline.x_range()
    assert x0 <= 0 and x1 >= 9.9e9  # a short trace: all of it
    with open(path, "ab") as out:
        out.write(stream(2, 10, 50))  # a minute: the last 30 s are followed
    qtbot.waitUntil(lambda: spans_in(controller) == 240, timeout=5000)
    end = float(controller.trace().end_ns - controller.trace().t0_ns)
    x0, x1 = window.timeline.x_range()
    assert x1 >= end and x1 - x0 == pytest.approx(30e9, rel=0.05)
    window.timeline.pan(-0.5)  # the user looks back
    assert not controller.following and not controller.action.isChecked()
    assert "paused" in controller.rate_label.text()
    before = window.timeline.x_range()
    with open(path, "ab") as out:
        out.write(stream(2, 60, 5))
    qtbot.waitUntil(lambda: spans_in(controller) == 260, timeout=5000)
    assert window.timeline.x_range() == pytest.approx(before)  # paused: the view stays
    controller.end_shortcut.activated.emit()
    end = float(controller.trace().end_ns - controller.trace().t0_ns)
    x0, x1 = window.timeline.x_range()
    assert controller.following and controller.action.isChecked()
    assert x0 < end <= x1


def test_spans_per_second_counter(tmp_path, qtbot, follow):
    """The status bar counts the spans that arrived in the last second."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(header() + stream(3, 0, 10))
    _window, controller = follow([path])
    qtbot.waitUntil(lambda: spans_in(controller) == 60, timeout=5000)
    controller._count()  # what the one-second timer does
    assert controller.rate_label.text() == "following · 60 spans/s"
    controller._count()
    assert controller.rate_label.text() == "following · 0 spans/s"


def test_a_new_file_in_a_followed_directory_joins(tmp_path, qtbot, follow):
    """Following a directory: a process that starts later writes its own file, and its lanes appear."""
    (tmp_path / "a.jsonl").write_bytes(header() + stream(1, 0, 5))
    window, controller = follow([tmp_path])
    qtbot.waitUntil(lambda: spans_in(controller) == 10, timeout=5000)
    other = orjson.loads(header())
    other.update(host="h2", pid=2)
    (tmp_path / "b.jsonl").write_bytes(orjson.dumps(other) + b"\n" + stream(2, 0, 5))
    qtbot.waitUntil(lambda: spans_in(controller) == 30, timeout=5000)
    assert window.data.trace.hosts == ["h1", "h2"]
    assert any("h2" in name for name in window.timeline.lane_names())


def test_follow_from_the_view_menu_on_a_loaded_trace(tmp_path, qtbot):
    """View > Follow on traces opened whole starts following their files."""
    from gui.app import load_data
    from gui.window import MainWindow

    path = tmp_path / "trace.jsonl"
    path.write_bytes(header() + stream(1, 0, 5))
    window = MainWindow(load_data([str(path)]))
    qtbot.addWidget(window)
    window.show()
    window.follow_action.trigger()
    controller = window.follow_controller
    try:
        assert controller is not None and controller.following
        with open(path, "ab") as out:
            out.write(stream(1, 5, 5))
        controller.follower.wake()
        qtbot.waitUntil(lambda: spans_in(controller) == 20, timeout=5000)
        window.follow_action.trigger()  # off: the view stays, the files are still read
        assert not controller.following and window.follow_controller is controller
    finally:
        controller.stop()
    assert window.follow_controller is None


def test_closing_the_window_stops_following(tmp_path, qtbot, follow):
    """The builder thread ends with the window, and the files are closed."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(header() + stream(1, 0, 2))
    window, controller = follow([path])
    qtbot.waitUntil(lambda: spans_in(controller) == 4, timeout=5000)
    builder = controller._builder
    window.close()
    assert not builder.is_alive()
    assert controller.follower._stop.is_set() and all(tail.fd is None for tail in controller.follower._tails)


def test_view_follow_refuses_a_missing_path(tmp_path, capsys):
    """``racelane view --follow`` names a path that does not exist, exit 2, no window."""
    from tracer.cli.main import main

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    code = main(["view", "--follow", str(tmp_path / "nope")])
    assert code == 2
    assert "nope: no such file or directory" in capsys.readouterr().err


def test_view_follow_refuses_screenshot(tmp_path, capsys):
    """--follow opens a window: it does not combine with --screenshot."""
    from tracer.cli.main import main

    code = main(["view", "--follow", "--screenshot", str(tmp_path / "x.png"), str(BUGGY)])
    assert code == 2
    assert "--follow" in capsys.readouterr().err
