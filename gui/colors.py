"""Colours: one per span category (the same in every trace), one per hazard class.

Categories the Nova rules use have fixed colours; any other category takes a
palette entry chosen by a hash of its name, so it keeps its colour across
traces and runs. The palette avoids the reds, oranges and ambers that mark
hazards. Colours are RGB tuples here; widgets turn them into ``QColor``.
"""

from __future__ import annotations

import zlib

RGB = tuple[int, int, int]

KNOWN: dict[str, RGB] = {
    "audit": (78, 121, 167),  # steel blue
    "evacuation": (89, 161, 79),  # green
    "db": (133, 188, 184),  # teal, light
    "lock": (176, 122, 161),  # mauve: holds solid, waits hatched
    "pci": (156, 117, 95),  # brown
    "service": (150, 150, 160),  # grey
    "rpc": (111, 170, 220),  # sky
    "work": (160, 203, 232),  # pale blue
}
PALETTE: tuple[RGB, ...] = (
    (78, 121, 167), (89, 161, 79), (133, 188, 184), (176, 122, 161), (156, 117, 95), (111, 170, 220),
    (23, 168, 190), (152, 200, 120), (197, 176, 213), (140, 140, 200), (120, 160, 140), (196, 156, 148),
    (158, 218, 229), (100, 120, 130), (181, 207, 107), (214, 170, 210),
)

BACKGROUND: RGB = (255, 255, 255)
LANE_STRIPE: RGB = (246, 247, 249)
GROUP_ROW: RGB = (232, 235, 240)
GRID: RGB = (225, 228, 232)
TEXT: RGB = (30, 30, 30)
MARK: RGB = (40, 40, 60)
OPEN_END: RGB = (200, 30, 30)
HIGHLIGHT: RGB = (20, 20, 20)
SELECTED: RGB = (0, 90, 200)

# Hazard classes, by CLASS_NAMES order: fill (RGBA), outline (RGB), outline style.
HAZARD_STYLE: dict[str, tuple[tuple[int, int, int, int], RGB, str]] = {
    "confirmed": ((230, 0, 20, 80), (200, 0, 20), "solid"),
    "unprotected": ((255, 120, 0, 80), (230, 100, 0), "solid"),
    "potential": ((255, 190, 0, 30), (235, 165, 0), "solid"),
    "uncertain": ((140, 90, 200, 30), (120, 70, 180), "dash"),
    "serialized": ((128, 128, 128, 28), (160, 160, 160), "none"),
}


def category_color(name: str) -> RGB:
    """Return the colour of category ``name``: fixed for known ones, else a stable pick from the palette."""
    known = KNOWN.get(name)
    if known is not None:
        return known
    return PALETTE[zlib.crc32(name.encode("utf-8", "replace")) % len(PALETTE)]


def text_on(rgb: RGB) -> RGB:
    """Return black or white, whichever reads better on ``rgb``."""
    r, g, b = rgb
    return (20, 20, 20) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def blend(top: tuple[int, int, int, int], under: RGB) -> RGB:
    """Return ``top`` (RGBA) composited over the opaque ``under``."""
    a = top[3] / 255
    return tuple(round(t * a + u * (1 - a)) for t, u in zip(top[:3], under, strict=True))  # type: ignore[return-value]
