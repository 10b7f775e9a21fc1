"""Timeline images of a trace, fit for a bug report: PNG, SVG and PDF, with no display needed.

    from gui.app import load_data
    from gui.export import export_image

    data = load_data(["trace.jsonl"], rules="nova")
    export_image(data, "race.png", hazard=1, caption=True)        # hazard 1 with a margin, and its explanation
    export_image(data, "whole.svg", width=2400)                   # the whole trace, as vector graphics
    export_image(data, "view.pdf", t_range=(250e6, 320e6))        # ns since the trace's start, one PDF page

The viewer (File > Export), ``racelane export``, ``racelane demo`` and the
pytest plugin all come here. An image shows the lanes with their labels,
spans (named where the name fits), marks, lock waits and holds, hazard bands
and one row per hazard class in view, a time axis with units, a legend of
what is shown, and a title line (files, time range, rule set); the caption
explains the selected hazard, or the hazards in view (``gui.export_sheet``).

- PNG: a ``QImage`` of ``scale`` device pixels per logical pixel (2 for HiDPI).
- SVG: written by Qt's ``QSvgGenerator``: one ``<rect>`` per bar or merged bar
  (the viewer's level of detail bounds them by the pixels, not the spans),
  text as escaped ``<text>``; pyqtgraph's own SVG exporter is not used.
- PDF: one vector page through ``QPdfWriter``; text stays text.

The width is given in logical pixels; the height follows the lanes shown
unless ``height`` fixes it (the viewer's "window size"). A file that exists
is only replaced with ``force``; a file is written whole or not at all.
Needs a ``QApplication``: one is created (offscreen without a display) when
none exists. Call from the Qt main thread.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore, QtGui

from tracer.record.errors import RacelaneError

from .data import ViewerData
from .export_png import encode_png
from .export_sheet import Sheet, SheetSpec
from .layout import LaneLayout
from .plain import format_duration, format_offset
from .theme import THEMES

FORMATS = ("png", "svg", "pdf")
MIN_WIDTH, MAX_WIDTH = 320, 16000
MIN_SCALE, MAX_SCALE = 0.5, 4.0
MAX_HEIGHT = 16000  # logical px: a taller image cuts the lanes and says how many are not shown
MAX_DEVICE_PX = 32000  # QImage's side limit is 32767
MIN_RANGE_NS = 50.0
HAZARD_MARGIN = 0.6  # each side of a hazard, as a fraction of its length (as the viewer zooms)


class ExportError(RacelaneError):
    """The image cannot be made as asked (format, range, hazard, size) or written."""


@dataclass(frozen=True)
class Exported:
    """What ``export_image`` wrote."""

    path: str
    format: str  # png, svg or pdf
    width: int  # pixels of the file (device pixels for PNG, logical for SVG and PDF)
    height: int
    size_bytes: int
    t_range: tuple[float, float]  # ns since the trace's start
    hazard: int | None  # 1-based selected hazard
    hazards_in_view: int

    def summary(self) -> str:
        """Return one line about the file: ``out.png: 1920x644 PNG, 118 KB, +0 ns .. +300.000 ms, 2 hazards``."""
        lo, hi = self.t_range
        size = f"{self.size_bytes / 1024:.0f} KB" if self.size_bytes < 10 << 20 else f"{self.size_bytes / 1048576:.1f} MB"
        hazards = f"{self.hazards_in_view} hazard{'s' if self.hazards_in_view != 1 else ''} in view"
        return (f"{self.path}: {self.width}x{self.height} {self.format.upper()}, {size}, "
                f"{format_offset(lo)} .. {format_offset(hi)} ({format_duration(hi - lo)}), {hazards}")


# --- what to show -------------------------------------------------------------------------------
def image_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Return ``png``, ``svg`` or ``pdf``: ``fmt`` if given, else the file name's extension.

    Raises:
        ExportError: neither names one of the three.
    """
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            raise ExportError(f"unknown image format {fmt!r}: use png, svg or pdf")
        return fmt.lower()
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in FORMATS:
        shown = f"'.{ext}'" if ext else "no extension"
        raise ExportError(f"{os.fspath(path)}: {shown} is not an image format racelane writes; "
                          "name the file .png, .svg or .pdf")
    return ext


def whole_range(data: ViewerData) -> tuple[float, float]:
    """Return the time range of the whole trace with the viewer's 1% margin (ns since start)."""
    dur = float(data.duration_ns)
    pad = max(dur * 0.01, (MIN_RANGE_NS - dur) / 2)
    return -pad, dur + pad


def hazard_range(data: ViewerData, hazard: int) -> tuple[float, float]:
    """Return the time range that shows hazard ``hazard`` (1-based) as the viewer does: both windows, with a margin."""
    hz = data.hazards
    i = check_hazard(data, hazard) - 1
    lo, hi = float(hz.view_start[i]), float(hz.view_end[i])
    margin = HAZARD_MARGIN * max(hi - lo, MIN_RANGE_NS)
    return lo - margin, hi + margin


def check_hazard(data: ViewerData, hazard: int) -> int:
    """Return ``hazard`` (1-based) if the data has it.

    Raises:
        ExportError: it has not (or the rules were not checked).
    """
    count = len(data.hazards)
    if data.analysis is None:
        raise ExportError(f"hazard {hazard}: the rules were not checked on this trace")
    if not 1 <= hazard <= count:
        rules = f" ({data.rules_name} rules)" if data.rules_name else ""
        found = f"has {count} hazard{'s' if count != 1 else ''}, 1 to {count}" if count else "has no hazards"
        raise ExportError(f"hazard {hazard}: the trace {found}{rules}")
    return hazard


def check_range(data: ViewerData, t_range: tuple[float, float]) -> tuple[float, float]:
    """Return ``t_range`` (ns since start) if it is usable: finite, increasing, at least 50 ns, touching the trace.

    Raises:
        ExportError: it is not; the message gives the trace's own range.
    """
    lo, hi = (float(t) for t in t_range)
    whole_lo, whole_hi = whole_range(data)
    trace_is = f"the trace runs from +0 ns to {format_offset(float(data.duration_ns))}"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ExportError(f"time range {lo} .. {hi} is not finite")
    if hi <= lo:
        raise ExportError(f"time range {format_offset(lo)} .. {format_offset(hi)}: the end must come after the start")
    if hi - lo < MIN_RANGE_NS:
        raise ExportError(f"time range {format_offset(lo)} .. {format_offset(hi)} is shorter than {MIN_RANGE_NS:.0f} ns")
    if hi <= whole_lo or lo >= whole_hi:
        raise ExportError(f"time range {format_offset(lo)} .. {format_offset(hi)} is outside the trace ({trace_is})")
    return lo, hi


def plan(data: ViewerData, *, hazard: int | None = None, t_range: tuple[float, float] | None = None,
         width: int = 1920, height: int | None = None, theme: str = "light", caption: bool = False,
         layout: LaneLayout | None = None, y_top: float = 0.0) -> Sheet:
    """Check the options and lay the image out; return the ``Sheet`` that paints it.

    ``hazard`` is 1-based: it is outlined and, without ``t_range``, shown
    with a margin. ``t_range`` is (start, end) in ns since the trace's
    start; the default is the whole trace. ``layout`` is the viewer's lane
    layout (collapsed groups, hidden lanes); the default shows every lane.
    ``y_top`` starts the lanes at that layout y (the viewer's scroll).

    Raises:
        ExportError: a value is out of range; the message says which and why.
    """
    _ensure_app()
    if theme not in THEMES:
        raise ExportError(f"unknown theme {theme!r}: use {' or '.join(THEMES)}")
    if not MIN_WIDTH <= int(width) <= MAX_WIDTH:
        raise ExportError(f"width {width} px: give {MIN_WIDTH} to {MAX_WIDTH} px")
    if height is not None and not 120 <= int(height) <= MAX_HEIGHT:
        raise ExportError(f"height {height} px: give 120 to {MAX_HEIGHT} px, or none to follow the lanes")
    if hazard is not None:
        check_hazard(data, hazard)
    if t_range is not None:
        lo, hi = check_range(data, t_range)
    else:
        lo, hi = hazard_range(data, hazard) if hazard is not None else whole_range(data)
    spec = SheetSpec(t_lo=lo, t_hi=hi, width=int(width), height=None if height is None else int(height),
                     theme=THEMES[theme], hazard=-1 if hazard is None else hazard - 1, caption=caption,
                     y_top=max(0.0, float(y_top)), max_height=MAX_HEIGHT)
    try:
        return Sheet(data, spec, layout)
    except ValueError as err:
        raise ExportError(str(err)) from None


# --- rendering ------------------------------------------------------------------------------------
def render_image(data: ViewerData, *, scale: float = 1.0, **options: Any) -> QtGui.QImage:
    """Return the image as a ``QImage`` of ``scale`` device pixels per logical pixel (see ``plan`` for options)."""
    return sheet_image(plan(data, **options), scale)


def sheet_image(sheet: Sheet, scale: float = 1.0) -> QtGui.QImage:
    """Paint ``sheet`` into a new opaque ``QImage``, ``scale`` device pixels per logical pixel."""
    if not MIN_SCALE <= scale <= MAX_SCALE:
        raise ExportError(f"scale {scale:g}: give {MIN_SCALE:g} to {MAX_SCALE:g} (2 for HiDPI screens)")
    w, h = sheet.size
    dev_w, dev_h = math.ceil(w * scale), math.ceil(h * scale)
    if max(dev_w, dev_h) > MAX_DEVICE_PX:
        raise ExportError(f"a {w}x{h} image at scale {scale:g} is {dev_w}x{dev_h} pixels, more than "
                          f"{MAX_DEVICE_PX} on a side: use a smaller scale or width")
    image = QtGui.QImage(dev_w, dev_h, QtGui.QImage.Format.Format_RGB32)
    if image.isNull():
        raise ExportError(f"not enough memory for a {dev_w}x{dev_h} image")
    image.setDevicePixelRatio(scale)
    painter = QtGui.QPainter(image)
    try:
        sheet.paint(painter)
    finally:
        painter.end()
    image.setText("Title", sheet.title_text)
    image.setText("Description", sheet.subtitle_text)
    image.setText("Software", _software())
    return image


def png_bytes(image: QtGui.QImage) -> bytes:
    """Return ``image`` encoded as PNG, with its text keys as metadata (``gui.export_png``)."""
    texts = {key: image.text(key) for key in image.textKeys()}
    return encode_png(image, texts, image.devicePixelRatio())


def render_svg(data: ViewerData, **options: Any) -> bytes:
    """Return the image as SVG (see ``plan`` for options)."""
    return sheet_svg(plan(data, **options))


def sheet_svg(sheet: Sheet) -> bytes:
    """Paint ``sheet`` through ``QSvgGenerator``; return the document, sized in pixels."""
    from PySide6 import QtSvg

    w, h = sheet.size
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    generator = QtSvg.QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setResolution(96)  # pixel-sized fonts then come out as user units, like the geometry
    generator.setSize(QtCore.QSize(w, h))
    generator.setViewBox(QtCore.QRectF(0, 0, w, h))
    generator.setTitle(sheet.title_text)
    generator.setDescription(f"{sheet.subtitle_text} ({_software()})")
    painter = QtGui.QPainter(generator)
    try:
        sheet.paint(painter)
    finally:
        painter.end()
    return _tidy_svg(bytes(buffer.data().data()).decode("utf-8"), w, h, sheet.fonts.family).encode("utf-8")


def _tidy_svg(text: str, w: int, h: int, family: str) -> str:
    """Size the document in pixels (Qt writes millimetres), give its font generic fallbacks, drop repeated fonts.

    Qt repeats the group's font on every ``<text>`` of the group; text
    inherits it, so the copies go (a tenth of a view's size).
    """
    head, sep, rest = text.partition("viewBox=")
    if sep:
        start = head.find("<svg ")
        head = head[:start] + f'<svg width="{w}" height="{h}"\n ' if start >= 0 else head
    groups = (head + sep + rest).split("\n<g ")
    for k in range(1, len(groups)):
        found = _SVG_FONT.search(groups[k], 0, groups[k].find(">"))
        if found is not None:
            groups[k] = groups[k].replace(" " + found.group(0) + " \n >", "\n >")
    text = "\n<g ".join(groups).replace(' fill-opacity="1" stroke="none" xml:space', ' stroke="none" xml:space')
    fallback = f'font-family="{family}, Verdana, Arial, sans-serif"'
    return text.replace(f'font-family="{family}"', fallback).replace('font-family="Sans Serif"', 'font-family="sans-serif"')


_SVG_FONT = re.compile(r'font-family="[^"]*" font-size="[^"]*" font-weight="[^"]*" font-style="[^"]*"')


def render_pdf(data: ViewerData, **options: Any) -> bytes:
    """Return the image as a one-page PDF (see ``plan`` for options)."""
    return sheet_pdf(plan(data, **options))


def sheet_pdf(sheet: Sheet) -> bytes:
    """Paint ``sheet`` on one PDF page of its size (96 px to the inch), vector throughout."""
    w, h = sheet.size
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = QtGui.QPdfWriter(buffer)
    writer.setResolution(96)
    writer.setPageSize(QtGui.QPageSize(QtCore.QSizeF(w * 0.75, h * 0.75), QtGui.QPageSize.Unit.Point, "racelane",
                                       QtGui.QPageSize.SizeMatchPolicy.ExactMatch))
    writer.setPageMargins(QtCore.QMarginsF(0, 0, 0, 0))
    writer.setTitle(sheet.title_text)
    writer.setCreator(_software())
    painter = QtGui.QPainter(writer)
    try:
        sheet.paint(painter)
    finally:
        painter.end()
    return bytes(buffer.data().data())


# --- the one entry point ------------------------------------------------------------------------------
def export_image(data: ViewerData, out_path: str | os.PathLike[str], *, hazard: int | None = None,
                 t_range: tuple[float, float] | None = None, width: int = 1920, height: int | None = None,
                 scale: float = 1.0, theme: str = "light", caption: bool = False, force: bool = False,
                 fmt: str | None = None, layout: LaneLayout | None = None, y_top: float = 0.0) -> Exported:
    """Write a timeline image of ``data`` to ``out_path``; return what was written.

    The format comes from the extension (``.png``, ``.svg``, ``.pdf``)
    unless ``fmt`` names it. ``hazard`` is 1-based, like ``racelane view
    --hazard``. ``scale`` multiplies a PNG's pixels (2 for HiDPI); SVG and
    PDF are vector and ignore it. See ``plan`` for the other options.

    Raises:
        ExportError: a bad option, an existing file without ``force``, or a
            file that cannot be written; nothing is left behind.
    """
    path = os.fspath(out_path)
    kind = image_format(path, fmt)
    _check_target(path, force)
    sheet = plan(data, hazard=hazard, t_range=t_range, width=width, height=height, theme=theme, caption=caption,
                 layout=layout, y_top=y_top)
    if kind == "png":
        image = sheet_image(sheet, scale)
        payload, size = png_bytes(image), (image.width(), image.height())
    elif kind == "svg":
        payload, size = sheet_svg(sheet), sheet.size
    else:
        payload, size = sheet_pdf(sheet), sheet.size
    write_file(path, payload, force)
    return Exported(path, kind, size[0], size[1], len(payload), (sheet.t_lo, sheet.t_hi), hazard,
                    len(sheet.hazards_in_view))


def _check_target(path: str, force: bool) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ExportError(f"{path} is a directory; give a file name ending in .png, .svg or .pdf")
    if not os.path.isdir(directory):
        raise ExportError(f"{path}: the directory {directory} does not exist")
    if not force and os.path.lexists(path):
        raise ExportError(f"{path} already exists; it is only replaced when asked to (racelane export --force)")


def write_file(path: str, payload: bytes, force: bool) -> None:
    """Write ``payload`` to ``path`` whole or not at all; without ``force`` never replace an existing file.

    Raises:
        ExportError: the file exists (without ``force``) or cannot be written.
    """
    _check_target(path, force)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".racelane-", suffix=".part", dir=directory)
    except OSError as err:
        raise ExportError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(payload)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # an ordinary file, not mkstemp's 0600
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the file appeared meanwhile: never replaces it
            except FileExistsError:
                raise ExportError(f"{path} already exists; it is only replaced when asked to "
                                  "(racelane export --force)") from None
            except OSError:  # a file system without hard links
                if os.path.lexists(path):
                    raise ExportError(f"{path} already exists") from None
                os.replace(tmp, path)
    except OSError as err:
        raise ExportError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _software() -> str:
    try:
        from tracer import __version__
    except ImportError:  # pragma: no cover
        return "racelane"
    return f"racelane {__version__}"


def _ensure_app() -> None:
    """Create the ``QApplication`` fonts and painters need, offscreen when there is no display."""
    from PySide6 import QtWidgets

    if QtWidgets.QApplication.instance() is None:
        from .app import application, offscreen_if_headless

        offscreen_if_headless()
        application()
