"""Rules > a rule set: the hazards are checked again against the rule set chosen; a bad file changes nothing."""

from __future__ import annotations

from pathlib import Path

from gui.settings import Settings
from gui.window import MainWindow

BUGGY = Path(__file__).resolve().parents[2] / "sample_traces" / "nova-1896463-buggy.jsonl"
WAIT_MS = 20_000

# A rule whose windows this trace never opens: checked against it, the trace has no hazard.
NO_HAZARDS = """
[ruleset]
name = "no-hazards"

[[window]]
id = "a"
span = "nowhere.a"

[[window]]
id = "b"
span = "nowhere.b"

[[hazard]]
id = "a-during-b"
title = "a runs during b"
windows = ["a", "b"]
"""


def _window(qtbot):
    win = MainWindow(rules="nova", settings=Settings())
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.load_paths([str(BUGGY)])
    return win


def _classes(win) -> list[str]:
    return [win.data.hazards.class_name(i) for i in range(len(win.data.hazards))]


def _rules_menu(win):
    return next(a.menu() for a in win.menuBar().actions() if a.text() == "&Rules")


def test_rules_menu_lists_builtin_sets_and_checks_the_one_in_use(qtbot):
    win = _window(qtbot)
    menu = _rules_menu(win)
    menu.aboutToShow.emit()
    texts = {a.text(): a.isChecked() for a in menu.actions() if a.text()}
    assert texts["nova (built in)"] is True
    assert "&Open rule file…" in texts


def test_choosing_another_rule_set_checks_the_trace_again(qtbot, tmp_path):
    win = _window(qtbot)
    assert _classes(win) == ["confirmed", "potential"]
    rules = tmp_path / "none.toml"
    rules.write_text(NO_HAZARDS)
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        assert win.files.set_rules(str(rules))
    assert _classes(win) == []
    assert win.data.rules_name == "no-hazards"
    menu = _rules_menu(win)
    menu.aboutToShow.emit()
    checked = [a.text() for a in menu.actions() if a.isChecked()]
    assert checked == ["none.toml"]
    nova = next(a for a in menu.actions() if a.text() == "nova (built in)")
    with qtbot.waitSignal(win.hazardsShown, timeout=WAIT_MS):
        nova.trigger()
    assert _classes(win) == ["confirmed", "potential"]


def test_a_broken_rule_file_is_reported_and_the_rules_in_use_stay(qtbot, tmp_path):
    win = _window(qtbot)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[hazard]]\nid = "x"\nwindows = ["missing"]\n')
    assert not win.files.set_rules(str(bad))
    assert win.files.rules_label() == "nova"
    assert _classes(win) == ["confirmed", "potential"]
    assert "bad.toml" in " ".join(win.notices.lines)
