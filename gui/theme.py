"""Light and dark themes: the colours of surfaces, lines, text, hazard bands and span categories.

    from gui.theme import palette
    theme = palette("dark")
    theme.background, theme.category("audit"), theme.hazard["confirmed"]

A ``Theme`` is plain data (RGB tuples, no Qt), shared by the viewer and by
image export so a picture looks like the screen. The light theme is
``gui.colors`` as it is; the dark one keeps every category's hue (a bar means
the same thing in both) and lifts the darkest ones so they stand out from
the background, brightens the hazard outlines, and gives serialized bands
enough alpha to show on dark grey.

Which theme the window uses is a *choice*: ``system`` (follow the desktop's
colour scheme, ``QStyleHints.colorScheme`` on Qt 6.5+; light when the
platform does not say), ``light`` or ``dark``. ``resolve`` turns a choice
into a theme name; ``apply_to_application`` makes Qt's own widgets (menus,
tables, text panels) match. Only those two functions import Qt.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from . import colors
from .colors import RGB

RGBA = tuple[int, int, int, int]
HazardStyle = tuple[RGBA, RGB, str]  # fill, outline, outline style ("solid", "dash", "none")

CHOICES = ("system", "light", "dark")
NAMES = ("light", "dark")


@dataclass(frozen=True)
class Theme:
    """The colours of one theme; see the module docstring."""

    name: str
    dark: bool
    background: RGB
    lane_stripe: RGB  # every other lane
    group_row: RGB  # host and process header rows
    grid: RGB  # vertical lines at the time axis' major ticks
    rule: RGB  # separators and the axis line
    text: RGB
    text_dim: RGB  # axis labels and titles, notes
    mark: RGB
    open_end: RGB  # the arrow head of an unfinished span
    strip: RGB  # a header strip (export's hazard rows)
    highlight: RGB  # outline of the selected hazard's spans
    selected: RGB  # outline of the span last clicked
    error: RGB  # text of an error message
    notice: RGB  # background of the notice bar (files left out, hosts unknown)
    hazard: MappingProxyType[str, HazardStyle] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    categories: MappingProxyType[str, RGB] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    category_palette: tuple[RGB, ...] = (colors.PALETTE[0],)

    def category(self, name: str) -> RGB:
        """Return the colour of span category ``name``: fixed for known ones, else a stable pick by its name."""
        known = self.categories.get(name)
        if known is not None:
            return known
        return self.category_palette[zlib.crc32(name.encode("utf-8", "replace")) % len(self.category_palette)]

    def tint(self, rgb: RGB, amount: float = 0.7) -> RGB:
        """Return ``rgb`` faded ``amount`` of the way into the background (under a hatch: a lock wait)."""
        return tuple(round(c + (b - c) * amount) for c, b in zip(rgb, self.background, strict=True))  # type: ignore[return-value]

    @staticmethod
    def text_on(rgb: RGB) -> RGB:
        """Return near-black or white, whichever reads better on a bar of colour ``rgb``."""
        return colors.text_on(rgb)

    def blend(self, top: RGBA, under: RGB | None = None) -> RGB:
        """Return ``top`` composited over ``under`` (default: the background)."""
        return colors.blend(top, self.background if under is None else under)


def _lift(rgb: RGB, min_luma: float = 120.0) -> RGB:
    """Return ``rgb`` mixed with white just enough that its luma reaches ``min_luma`` (its hue kept)."""
    r, g, b = rgb
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    if luma >= min_luma:
        return rgb
    k = (min_luma - luma) / (255.0 - luma)
    return (round(r + (255 - r) * k), round(g + (255 - g) * k), round(b + (255 - b) * k))


LIGHT = Theme(
    name="light",
    dark=False,
    background=colors.BACKGROUND,
    lane_stripe=colors.LANE_STRIPE,
    group_row=colors.GROUP_ROW,
    grid=colors.GRID,
    rule=(190, 195, 202),
    text=colors.TEXT,
    text_dim=(95, 100, 110),
    mark=colors.MARK,
    open_end=colors.OPEN_END,
    strip=(250, 250, 251),
    highlight=colors.HIGHLIGHT,
    selected=colors.SELECTED,
    error=(160, 0, 0),
    notice=(255, 243, 205),
    hazard=MappingProxyType(dict(colors.HAZARD_STYLE)),
    categories=MappingProxyType(dict(colors.KNOWN)),
    category_palette=colors.PALETTE,
)

DARK = Theme(
    name="dark",
    dark=True,
    background=(30, 32, 36),
    lane_stripe=(37, 40, 45),
    group_row=(48, 52, 59),
    grid=(58, 62, 69),
    rule=(84, 90, 99),
    text=(222, 225, 230),
    text_dim=(160, 166, 176),
    mark=(225, 228, 240),
    open_end=(255, 80, 80),
    strip=(34, 36, 41),
    highlight=(245, 245, 245),
    selected=(90, 170, 255),
    error=(255, 130, 120),
    notice=(84, 70, 30),
    hazard=MappingProxyType({
        "confirmed": ((255, 40, 50, 90), (255, 85, 85), "solid"),
        "unprotected": ((255, 140, 30, 90), (255, 150, 60), "solid"),
        "potential": ((255, 200, 40, 40), (250, 200, 60), "solid"),
        "uncertain": ((170, 130, 255, 45), (175, 140, 250), "dash"),
        "serialized": ((170, 170, 180, 40), (120, 120, 130), "none"),
    }),
    categories=MappingProxyType({name: _lift(rgb) for name, rgb in colors.KNOWN.items()}),
    category_palette=tuple(_lift(rgb) for rgb in colors.PALETTE),
)

THEMES: dict[str, Theme] = {t.name: t for t in (LIGHT, DARK)}


def palette(name: str) -> Theme:
    """Return the theme called ``name`` (``light`` or ``dark``).

    Raises:
        KeyError: no theme has that name.
    """
    return THEMES[name]


def resolve(choice: str, app: Any = None) -> Theme:
    """Return the theme a choice stands for: ``light``, ``dark``, or the system's for ``system``.

    Anything else counts as ``system`` (a settings file edited by hand).
    """
    if choice in THEMES:
        return THEMES[choice]
    return DARK if system_is_dark(app) else LIGHT


def system_is_dark(app: Any = None) -> bool:
    """Return whether the desktop asks for dark colours (Qt 6.5+; otherwise judged by the window colour)."""
    from PySide6 import QtCore, QtGui

    app = app or QtGui.QGuiApplication.instance()
    if app is None:
        return False
    hints = app.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else QtCore.Qt.ColorScheme.Unknown
    if scheme == QtCore.Qt.ColorScheme.Dark:
        return True
    if scheme == QtCore.Qt.ColorScheme.Light:
        return False
    original = getattr(app, "_racelane_original_palette", None) or app.palette()
    return bool(original.color(QtGui.QPalette.ColorRole.Window).lightness() < 110)


def apply_to_application(app: Any, choice: str) -> Theme:
    """Make Qt's widgets follow ``choice`` (``system``, ``light`` or ``dark``); return the theme now in use.

    ``system`` gives the platform back its own style and palette; ``light``
    and ``dark`` use the Fusion style with this theme's palette, which every
    platform honours (and tell Qt 6.8+ the scheme, for native dialogs).
    """
    from PySide6 import QtCore, QtGui, QtWidgets

    if not hasattr(app, "_racelane_original_palette"):
        app._racelane_original_palette = QtGui.QPalette(app.palette())
        app._racelane_original_style = app.style().name()
    hints = app.styleHints()
    if choice in THEMES:
        theme = THEMES[choice]
        if hasattr(hints, "setColorScheme"):
            hints.setColorScheme(QtCore.Qt.ColorScheme.Dark if theme.dark else QtCore.Qt.ColorScheme.Light)
        if app.style().name().lower() != "fusion":
            app.setStyle(QtWidgets.QStyleFactory.create("Fusion"))
        app.setPalette(qt_palette(theme))
        return theme
    if hasattr(hints, "unsetColorScheme"):
        hints.unsetColorScheme()
    if app.style().name() != app._racelane_original_style:
        app.setStyle(QtWidgets.QStyleFactory.create(app._racelane_original_style))
    app.setPalette(app._racelane_original_palette)
    theme = resolve("system", app)
    if theme.dark != (app.palette().color(QtGui.QPalette.ColorRole.Window).lightness() < 110):
        # The platform says dark but its palette is light (no platform theme): use ours.
        app.setStyle(QtWidgets.QStyleFactory.create("Fusion"))
        app.setPalette(qt_palette(theme))
    return theme


def qt_palette(theme: Theme) -> Any:
    """Return a ``QPalette`` for Qt's widgets in ``theme``'s colours."""
    from PySide6 import QtGui

    role, group = QtGui.QPalette.ColorRole, QtGui.QPalette.ColorGroup
    c = QtGui.QColor
    if theme.dark:
        window, base, alt, button = c(45, 48, 54), c(*theme.background), c(*theme.lane_stripe), c(52, 56, 63)
        text, dim, highlight = c(*theme.text), c(*theme.text_dim), c(42, 110, 190)
    else:
        window, base, alt, button = c(239, 240, 242), c(255, 255, 255), c(246, 247, 249), c(236, 237, 240)
        text, dim, highlight = c(*theme.text), c(*theme.text_dim), c(48, 120, 210)
    pal = QtGui.QPalette()
    for r, colour in ((role.Window, window), (role.Base, base), (role.AlternateBase, alt), (role.Button, button),
                      (role.WindowText, text), (role.Text, text), (role.ButtonText, text),
                      (role.ToolTipBase, base), (role.ToolTipText, text), (role.PlaceholderText, dim),
                      (role.Highlight, highlight), (role.HighlightedText, c(255, 255, 255)),
                      (role.Link, c(*theme.selected)), (role.BrightText, c(*theme.open_end)),
                      (role.Light, window.lighter(130)), (role.Midlight, window.lighter(115)),
                      (role.Mid, window.darker(130)), (role.Dark, window.darker(160)), (role.Shadow, c(0, 0, 0))):
        pal.setColor(r, colour)
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(group.Disabled, r, dim)
    return pal
