"""Light and dark themes: the palettes, following the system, switching at run time, screenshots."""

from __future__ import annotations

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from gui import theme as themes
from gui.layout import LANE_PAD
from gui.settings import Settings
from gui.window import MainWindow
from tracer.cli.main import main


@pytest.fixture(autouse=True)
def system_theme_after(qapp):
    """Give the application back the system's style and palette after each test."""
    yield
    themes.apply_to_application(qapp, "system")


def _luma(rgb) -> float:
    r, g, b = rgb[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def _pixel(image: QtGui.QImage, x: int, y: int) -> tuple[int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def _lane_gap_point(win) -> QtCore.QPoint:
    """A point of the timeline in a lane's top padding, before any span: only the background shows there."""
    tl = win.timeline
    lane = 0  # host1's audit lane: it starts with spans at ~0 ms; the view's left margin is empty
    y = float(tl.lanes.lane_y[lane]) + LANE_PAD / 2
    x0, _ = tl.x_range()
    scene = tl.vb.mapViewToScene(QtCore.QPointF(x0 + 1.0, y))
    return tl.plot.mapFromScene(scene) + QtCore.QPoint(2, 0)


def test_palettes_share_one_shape_for_viewer_and_export():
    """palette(name) gives light and dark themes with the same fields; light is gui.colors unchanged."""
    from gui import colors

    light, dark = themes.palette("light"), themes.palette("dark")
    assert light.background == colors.BACKGROUND and light.hazard["confirmed"] == colors.HAZARD_STYLE["confirmed"]
    assert light.category("audit") == colors.category_color("audit")
    assert light.category("some-new-category") == colors.category_color("some-new-category")
    assert set(light.hazard) == set(dark.hazard) == {"confirmed", "unprotected", "potential", "uncertain", "serialized"}
    assert dark.dark and not light.dark
    with pytest.raises(KeyError):
        themes.palette("sepia")


def test_dark_theme_is_readable():
    """Dark: light text on a dark background, every category and hazard outline well away from the background."""
    dark = themes.palette("dark")
    assert _luma(dark.background) < 50 < 180 < _luma(dark.text)
    for name in ("audit", "evacuation", "db", "lock", "pci", "service", "rpc", "work", "unknown-cat"):
        assert _luma(dark.category(name)) >= 115, name
    for name, (_fill, line, style) in dark.hazard.items():
        if style != "none":
            assert _luma(line) > _luma(dark.background) + 60, name
    # The same hue stays recognisable: the darkest known colour is lifted, not replaced.
    r, g, b = dark.category("audit")
    assert b > g > r


def test_system_choice_follows_the_color_scheme():
    """'system' resolves to dark when the platform's colour scheme is dark, and to light otherwise."""

    class Hints:
        def __init__(self, scheme):
            self.scheme = scheme

        def colorScheme(self):
            return self.scheme

    class App:
        def __init__(self, scheme):
            self.hints = Hints(scheme)

        def styleHints(self):
            return self.hints

    assert themes.resolve("system", App(QtCore.Qt.ColorScheme.Dark)) is themes.DARK
    assert themes.resolve("system", App(QtCore.Qt.ColorScheme.Light)) is themes.LIGHT
    assert themes.resolve("dark", App(QtCore.Qt.ColorScheme.Light)) is themes.DARK
    assert themes.resolve("nonsense", App(QtCore.Qt.ColorScheme.Light)) is themes.LIGHT


def test_theme_switch_changes_the_background(buggy_data, qtbot):
    """View > Theme > Dark repaints the timeline, the lane tree and Qt's widgets dark; Light brings them back."""
    win = MainWindow(buggy_data, settings=Settings())
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    point = _lane_gap_point(win)
    light = win.timeline.plot.grab().toImage()
    assert _pixel(light, point.x(), point.y()) == themes.LIGHT.background
    win.theme_actions["dark"].trigger()
    assert win.theme is themes.DARK and win.settings.theme() == "dark"
    dark = win.timeline.plot.grab().toImage()
    assert _pixel(dark, point.x(), point.y()) == themes.DARK.background
    axis = win.timeline.lane_axis
    tree = win.timeline.plot.grab(win.timeline.plot.mapFromScene(axis.sceneBoundingRect()).boundingRect()).toImage()
    assert _luma(_pixel(tree, tree.width() // 2, tree.height() - 3)) < 60  # the lane tree's background
    window_colour = QtWidgets.QApplication.palette().color(QtGui.QPalette.ColorRole.Window)
    assert window_colour.lightness() < 110
    assert win.legend.theme is themes.DARK and win.hazards.model.theme is themes.DARK
    win.set_theme_choice("light")
    again = win.timeline.plot.grab().toImage()
    assert _pixel(again, point.x(), point.y()) == themes.LIGHT.background


def test_system_choice_tracks_a_scheme_change(buggy_data, qtbot, monkeypatch):
    """With 'system', a change of the desktop's scheme re-themes the window."""
    win = MainWindow(buggy_data, settings=Settings(), theme="system")
    qtbot.addWidget(win)
    monkeypatch.setattr(themes, "system_is_dark", lambda app=None: True)
    win._system_scheme_changed()
    assert win.theme is themes.DARK
    assert win.timeline.theme is themes.DARK


def test_screenshot_in_the_dark_theme(tmp_path, qapp, buggy_path):
    """racelane view --theme dark --screenshot renders a dark window; --theme light a light one."""
    for name, dark in (("dark", True), ("light", False)):
        out = tmp_path / f"{name}.png"
        assert main(["view", str(buggy_path), "--hazard", "1", "--theme", name, "--screenshot", str(out),
                     "--size", "900x600"]) == 0
        image = QtGui.QImage(str(out))
        lumas = [_luma(_pixel(image, x, y)) for x in range(0, 900, 30) for y in range(0, 600, 30)]
        median = sorted(lumas)[len(lumas) // 2]
        assert (median < 80) if dark else (median > 180), (name, median)
