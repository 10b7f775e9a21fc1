"""What the viewer remembers (QSettings), always in a temporary location in these tests."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtCore

from gui.settings import MAX_RECENT, MemoryStore, Settings, user_store
from gui.window import MainWindow


def _ini(path: Path) -> Settings:
    return Settings(QtCore.QSettings(str(path), QtCore.QSettings.Format.IniFormat))


def test_tests_never_touch_the_users_settings(private_settings):
    """The user's QSettings and RACELANE_SETTINGS both point into this session's temporary directory."""
    native = QtCore.QSettings("racelane", "racelane")
    assert native.fileName().startswith(str(private_settings))
    assert Path(os.environ["RACELANE_SETTINGS"]).parent == private_settings
    assert user_store().fileName() == os.environ["RACELANE_SETTINGS"]
    assert Settings.for_user().persistent
    assert not Settings().persistent


def test_settings_round_trip_through_a_file(tmp_path):
    """Theme, recent files and splitter sizes written by one Settings are read back by another."""
    path = tmp_path / "racelane.ini"
    first = _ini(path)
    first.set_theme("dark")
    first.add_recent(["/traces/a.jsonl"])
    first.add_recent(["/traces/b.jsonl", "/traces/c.jsonl"])
    first.set_splitter_sizes("main", [500, 200])
    first.set_last_directory("/traces")
    first.sync()
    second = _ini(path)
    assert second.theme() == "dark"
    assert second.recent() == [["/traces/b.jsonl", "/traces/c.jsonl"], ["/traces/a.jsonl"]]
    assert second.splitter_sizes("main") == [500, 200]
    assert second.last_directory() == "/traces"


def test_recent_files_are_bounded_and_deduplicated():
    """Reopening a set moves it first; the list keeps the newest ten; clear empties it."""
    settings = Settings(MemoryStore())
    for n in range(MAX_RECENT + 3):
        settings.add_recent([f"/t/{n}.jsonl"])
    settings.add_recent(["/t/5.jsonl"])
    recent = settings.recent()
    assert len(recent) == MAX_RECENT
    assert recent[0] == ["/t/5.jsonl"] and recent.count(["/t/5.jsonl"]) == 1
    assert recent[1] == [f"/t/{MAX_RECENT + 2}.jsonl"]
    settings.remove_recent(["/t/5.jsonl"])
    assert ["/t/5.jsonl"] not in settings.recent()
    settings.clear_recent()
    assert settings.recent() == []


def test_garbled_values_fall_back_to_defaults(tmp_path):
    """A hand-edited file with wrong types or bad JSON never breaks the viewer."""
    path = tmp_path / "racelane.ini"
    path.write_text("[view]\ntheme=purple\n[files]\nrecent=not json\n[window]\nsplitter\\main=\"[1, -2]\"\n"
                    "geometry=garbage\n")
    settings = _ini(path)
    assert settings.theme() == "system"
    assert settings.recent() == []
    assert settings.splitter_sizes("main") is None
    store = MemoryStore()
    store.setValue("files/recent", '[["ok.jsonl"], [3], "x", []]')
    assert Settings(store).recent() == [["ok.jsonl"]]


def test_window_geometry_state_and_splitters_are_remembered(buggy_data, qtbot, tmp_path):
    """Closing a window saves its geometry, toolbars and splitter sizes; the next window restores them."""
    path = tmp_path / "racelane.ini"
    first = MainWindow(buggy_data, settings=_ini(path))
    qtbot.addWidget(first)
    first.resize(720, 540)
    first.show()
    qtbot.waitExposed(first)
    first.split.setSizes([330, 150])
    first.bottom.setSizes([250, 450])
    sizes = first.split.sizes(), first.bottom.sizes()
    first.close()
    settings = _ini(path)
    assert settings.splitter_sizes("main") == sizes[0]
    assert settings.splitter_sizes("bottom") == sizes[1]
    second = MainWindow(buggy_data, settings=settings)
    qtbot.addWidget(second)
    assert settings.restore_window(second)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (720, 540)
    assert second.bottom.sizes() == sizes[1]


def test_theme_choice_is_remembered_by_the_window(buggy_data, qtbot, tmp_path, qapp):
    """Choosing a theme in the menu stores it; a new window starts with it."""
    from gui import theme as themes

    path = tmp_path / "racelane.ini"
    win = MainWindow(buggy_data, settings=_ini(path))
    qtbot.addWidget(win)
    try:
        win.set_theme_choice("dark")
        again = MainWindow(buggy_data, settings=_ini(path))
        qtbot.addWidget(again)
        assert again.theme_choice == "dark" and again.theme is themes.DARK
        assert again.theme_actions["dark"].isChecked()
    finally:
        themes.apply_to_application(qapp, "system")


def test_a_window_without_settings_writes_nothing(buggy_data, qtbot, private_settings):
    """Windows opened by tests and screenshots keep their settings in memory."""
    before = sorted(p.name for p in private_settings.iterdir())
    win = MainWindow(buggy_data)
    qtbot.addWidget(win)
    win.set_theme_choice("light")
    win.close()
    assert sorted(p.name for p in private_settings.iterdir()) == before
    assert not win.settings.persistent
