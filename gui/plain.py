"""Plain-text helpers: every string from a trace is untrusted and shown as plain text.

Nothing here imports Qt except ``tooltip``, which needs Qt's own escaping
(``Qt.convertFromPlainText``): a tooltip is rich text whenever its first
line looks like HTML, so untrusted text must reach it escaped.
"""

from __future__ import annotations

import math
import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_LABEL_CHARS = 200
MAX_VALUE_CHARS = 600

_UNITS = ((1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "µs"), (1, "ns"))


def one_line(text: Any, limit: int = MAX_LABEL_CHARS) -> str:
    """Return ``text`` as one line of at most ``limit`` characters (control characters become spaces)."""
    s = text if isinstance(text, str) else str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return _CONTROL.sub(" ", s)


def clip(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """Return ``text`` cut to ``limit`` characters (newlines kept, other control characters replaced)."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", " ", text)


def tooltip(text: str) -> str:
    """Return plain ``text`` escaped for a Qt tooltip (which would otherwise guess rich text)."""
    from PySide6 import QtGui

    return QtGui.Qt.convertFromPlainText(clip(text, 4000), QtGui.Qt.WhiteSpaceMode.WhiteSpacePre)


def format_duration(ns: float) -> str:
    """Return a duration with a unit that suits it: ``350 ns``, ``2.50 µs``, ``1.10 ms``, ``3.20 s``."""
    ns = float(ns)
    if ns >= 60e9:
        minutes, seconds = divmod(ns / 1e9, 60)
        return f"{int(minutes)} min {seconds:.1f} s"
    for scale, unit in _UNITS:
        if abs(ns) >= scale or scale == 1:
            value = ns / scale
            if scale == 1:
                return f"{value:.0f} ns"
            return f"{value:.3g} {unit}" if abs(value) >= 100 else f"{value:.2f} {unit}"
    return f"{ns:.0f} ns"  # pragma: no cover


def format_offset(ns: float) -> str:
    """Return a time since the trace's start: ``+302.150 ms``."""
    sign = "-" if ns < 0 else "+"
    ns = abs(float(ns))
    for scale, unit in _UNITS:
        if ns >= scale or scale == 1:
            return f"{sign}{ns / scale:.3f} {unit}" if scale > 1 else f"{sign}{ns:.0f} ns"
    return f"{sign}{ns:.0f} ns"  # pragma: no cover


def format_tick(ns: float, spacing_ns: float) -> str:
    """Return an axis label for ``ns`` on ticks ``spacing_ns`` apart: ``302 ms``, ``300.002 s``, ``1.5 µs``."""
    if spacing_ns <= 0:
        return format_offset(ns)
    magnitude = max(abs(ns), spacing_ns)
    scale, unit = next(((s, u) for s, u in _UNITS if magnitude >= s), (1, "ns"))
    decimals = max(0, math.ceil(math.log10(scale / spacing_ns) - 1e-9)) if spacing_ns < scale else 0
    value = ns / scale
    if abs(value) < 0.5 * 10 ** -decimals:
        return "0"
    return f"{value:.{decimals}f} {unit}"


def format_value(value: Any) -> str:
    """Return an attribute value as one readable string (strings unquoted, the rest as JSON-like reprs)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value[:50]) + (", …" if len(value) > 50 else "") + "]"
    if isinstance(value, dict):
        items = list(value.items())[:50]
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in items) + (", …" if len(value) > 50 else "") + "}"
    return str(value)


def _short(value: Any) -> str:
    return repr(value) if isinstance(value, str) else format_value(value)
