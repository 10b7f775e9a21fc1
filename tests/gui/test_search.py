"""Search (Ctrl+F): matches found in names and attribute values, outlined, walked with Enter and F3."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from gui.overlay import search_color
from gui.search import Matches, outline_rects
from tracer.analysis.search import SearchHits, search

Key = QtCore.Qt.Key
UUID = "5f8d2a64-7c1e-4b39-9a0e-3d6b1c2f4e71"


def _open_search(window, qtbot, text):
    window.activateWindow()
    qtbot.keyClick(window.timeline.plot, Key.Key_F, QtCore.Qt.KeyboardModifier.ControlModifier)
    bar = window.navigation.search_bar
    assert bar.isVisible() and bar.field.hasFocus()
    bar.field.setText(text)
    qtbot.keyClick(bar.field, Key.Key_Return)
    return bar


def test_search_finds_an_instance_uuid_in_the_buggy_sample(buggy_data, open_window, qtbot):
    """Ctrl+F, the uuid, Enter: every span carrying it matches, the first is zoomed to and shown in the details."""
    window = open_window(buggy_data)
    tl = window.timeline
    trace = buggy_data.trace
    bar = _open_search(window, qtbot, UUID[:8])
    carrying = [i for i in range(len(trace.spans)) if UUID in repr(trace.attrs(i)) or UUID[:8] in trace.span_name(i)]
    assert len(carrying) > 5
    m = tl.matches
    assert sorted(m.span_rows.tolist()) == carrying
    assert m.current == 0 and bar.count.text() == f"1 of {len(m)}"
    row = int(m.row[0])
    x0, x1 = tl.x_range()
    start = float(trace.spans.start_ns[row] - trace.t0_ns)
    assert x0 <= start <= x1 and x1 - x0 < buggy_data.duration_ns / 4  # zoomed in, onto the match
    assert tl.bands.selected_span == row
    assert window.details.text.toPlainText().startswith(trace.span_name(row))


def test_enter_shift_enter_and_f3_walk_the_matches_in_time_order(buggy_data, open_window, qtbot):
    """Enter goes forward, Shift+Enter back, F3 and Shift+F3 too; matches are in time order and wrap around."""
    window = open_window(buggy_data)
    tl = window.timeline
    bar = _open_search(window, qtbot, "db.")
    m = tl.matches
    assert np.all(np.diff(m.time) >= 0)
    assert m.current == 0
    qtbot.keyClick(bar.field, Key.Key_Return)
    assert m.current == 1
    qtbot.keyClick(bar.field, Key.Key_Return, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert m.current == 0
    qtbot.keyClick(bar.field, Key.Key_Return, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert m.current == len(m) - 1  # wrapped to the last
    qtbot.keyClick(window.timeline.plot, Key.Key_F3)
    assert m.current == 0
    qtbot.keyClick(window.timeline.plot, Key.Key_F3, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert m.current == len(m) - 1


def test_key_equals_value_finds_one_attribute(buggy_data, open_window, qtbot):
    """``migration_id=7`` finds the spans whose migration_id is 7 and no span that only names the instance."""
    window = open_window(buggy_data)
    trace = buggy_data.trace
    _open_search(window, qtbot, "migration_id=7")
    expected = [i for i in range(len(trace.spans)) if trace.attrs(i).get("migration_id") == 7]
    assert window.timeline.matches.span_rows.tolist() == expected and expected


def test_matches_are_outlined_on_the_timeline(buggy_data, open_window, qtbot):
    """The search colour is drawn around a match, and nowhere once the search is closed with Escape."""
    window = open_window(buggy_data)
    tl = window.timeline
    bar = _open_search(window, qtbot, "pci.clean_usage")
    tl.fit()
    qtbot.wait(10)

    def search_pixels():
        image = tl.plot.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        ptr = image.constBits()
        pixels = np.frombuffer(ptr, np.uint8, image.sizeInBytes()).reshape(image.height(), image.bytesPerLine() // 4, 4)
        r, g, b = search_color(tl.theme)
        return int(np.sum((pixels[..., 2] == r) & (pixels[..., 1] == g) & (pixels[..., 0] == b)))

    assert search_pixels() > 20
    qtbot.keyClick(bar.field, Key.Key_Escape)
    assert not bar.isVisible() and tl.matches is None
    assert search_pixels() == 0


def test_matches_hidden_by_filters_are_counted_apart(buggy_data, open_window, qtbot):
    """Hiding the category of some matches leaves them out of the walk and says how many are hidden."""
    window = open_window(buggy_data)
    tl = window.timeline
    bar = _open_search(window, qtbot, UUID[:8])
    total = len(tl.matches)
    db = buggy_data.trace.cats.index("db")
    tl.set_hidden_categories({db})
    m = tl.matches
    assert m.hidden > 0 and len(m) + m.hidden == total
    assert f"({m.hidden} not in this view)" in bar.count.text()
    assert all(tl.data.trace.cats[int(c)] != "db" for c in tl.data.trace.spans.cat[m.span_rows])


def test_outline_rects_merge_narrow_matches_per_row():
    """Wide matches get one rectangle each; narrow ones in one row merge when their columns touch."""
    start = np.array([0.0, 1000.0, 1001.0, 1002.0, 5000.0, 1000.0])
    end = np.array([500.0, 1000.5, 1001.5, 1002.5, 5000.0, 1000.5])
    y = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 18.0])
    rects = outline_rects(start, end, y, np.full(6, 18.0), 0.0, 6000.0, 1.0)
    assert len(rects) == 4  # the wide one, a merged run at 1000-1002, the one at 5000, the other row's
    wide = rects[rects[:, 2] >= 100]
    assert wide.tolist() == [[0.0, 0.0, 500.0, 18.0]]


def test_matches_place_hits_in_a_view_and_step_from_the_view(buggy_data):
    """Without a filter, matches are the hits; the first step goes to the first match at or after ``from_ns``."""
    hits = search(buggy_data.trace, "db.")
    m = Matches("db.", hits, buggy_data)
    assert sorted(m.span_rows.tolist()) == hits.spans.tolist() and m.hidden == 0
    middle = float(np.median(m.time))
    k = m.step(True, middle)
    assert m.time[k] >= middle and (k == 0 or m.time[k - 1] < middle)
    assert Matches("x", SearchHits(np.zeros(0, np.int64), np.zeros(0, np.int64)), buggy_data).status() == "no matches"


@pytest.mark.parametrize("query", ["<img src=x>", "<b>"])
def test_search_for_markup_finds_it_as_text(hostile_trace, open_window, qtbot, query):
    """A query that looks like HTML is text to find, and the count stays plain text."""
    from gui.app import load_data

    window = open_window(load_data([str(hostile_trace)]))
    bar = _open_search(window, qtbot, query)
    assert len(window.timeline.matches) >= 1
    assert bar.count.textFormat() == QtCore.Qt.TextFormat.PlainText


def test_big_traces_are_searched_in_a_worker_and_enter_waits_for_the_matches(buggy_data, open_window, qtbot, monkeypatch):
    """Above ``ASYNC_SEARCH_ROWS`` the search runs off the GUI thread; Enter meanwhile steps once the hits arrive."""
    import threading

    import gui.timeline_views as views

    monkeypatch.setattr(views, "ASYNC_SEARCH_ROWS", 0)
    threads = []
    real = views.search
    monkeypatch.setattr(views, "search", lambda trace, query: threads.append(threading.current_thread()) or real(trace, query))
    window = open_window(buggy_data)
    tl = window.timeline
    bar = _open_search(window, qtbot, UUID[:8])  # Enter: search, then a step, before the hits exist
    assert tl.searching == UUID[:8] and bar.count.text() == "searching…"
    qtbot.waitUntil(lambda: tl.searching is None, timeout=5000)
    assert threads and threads[0] is not threading.main_thread()
    m = tl.matches
    assert len(m) > 5 and m.current == 0  # the step asked for while searching was taken
    assert bar.count.text() == f"1 of {len(m)}"
    assert tl.bands.selected_span == int(m.row[0])


def test_a_newer_query_or_a_clear_drops_the_result_of_an_older_search(buggy_data, open_window, qtbot, monkeypatch):
    """Typing on while a worker searches keeps only the last query's matches; Escape keeps none."""
    import gui.timeline_views as views

    monkeypatch.setattr(views, "ASYNC_SEARCH_ROWS", 0)
    window = open_window(buggy_data)
    tl = window.timeline
    assert tl.search("db.") is None and tl.search("pci.clean_usage") is None
    qtbot.waitUntil(lambda: tl.searching is None, timeout=5000)
    qtbot.wait(50)  # the first search's result, had it been kept, would have arrived too
    names = {buggy_data.trace.span_name(int(r)) for r in tl.matches.span_rows}
    assert names == {"pci.clean_usage"}
    tl.search(UUID[:8])
    tl.clear_search()
    qtbot.wait(300)
    assert tl.matches is None and tl.searching is None


def test_a_search_that_fails_in_the_worker_says_so_in_the_bar(buggy_data, open_window, qtbot, monkeypatch):
    """An error in the worker is shown in the search bar, never lost in a thread."""
    import gui.timeline_views as views

    def broken(trace, query):
        raise MemoryError("out of memory")

    monkeypatch.setattr(views, "ASYNC_SEARCH_ROWS", 0)
    monkeypatch.setattr(views, "search", broken)
    window = open_window(buggy_data)
    bar = _open_search(window, qtbot, "db.")
    qtbot.waitUntil(lambda: window.timeline.searching is None, timeout=5000)
    assert bar.count.text() == "search failed: out of memory"
    assert window.timeline.matches is None
