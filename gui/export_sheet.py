"""Lay out and paint a timeline image: title, legend, hazard rows, lanes, time axis, caption.

A ``Sheet`` is computed once for a time range, a width and a theme (``gui.theme``), then
painted on any ``QPainter``: a ``QImage`` (PNG), a ``QSvgGenerator`` (SVG)
or a ``QPdfWriter`` (PDF), so the three formats show the same picture.
Coordinates are logical pixels; a HiDPI image scales the painter, not the
layout. The lanes are painted by the viewer's own ``SpanItem`` (same level
of detail, colours, labels, lock hatching, marks and hazard bands), handed
a fixed frame and view instead of a ``ViewBox``.

From top to bottom::

    title        file names (and the selected hazard)
    subtitle     time range, trace start, rule set and hazard counts, trace size
    legend       categories, lock waits, marks, unfinished spans, hazard classes in view
    hazard rows  one row per hazard class in view: numbered bars over each hazard's time
    lanes        lane tree on the left, spans on the right
    time axis    ticks in ns/µs/ms/s since the trace's start
    caption      (optional) the selected hazard's explanation, or those in view

Every string from a trace is drawn as plain text (``drawText``, plain
``QStaticText``), cut to one line where it is a label.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np
from PySide6 import QtCore, QtGui

from tracer.analysis.hazards import CLASS_NAMES

from . import colors
from .axes import TimeAxis
from .data import ViewerData
from .labels import LabelPainter
from .layout import LANE_PAD, ROW_H, LaneLayout
from .lod import Frame, compute_frame, compute_marks
from .painting import Brushes, draw_rects, qcolor
from .plain import clip, format_duration, format_offset, one_line
from .spans_item import SpanItem
from .theme import Theme

MARGIN = 14.0
STRIP_ROW_H = 17.0
AXIS_H = 44.0
LEGEND_ROW_H = 18.0
LABEL_COLUMN_MIN, LABEL_COLUMN_MAX = 150.0, 360.0
MIN_LANES_H = 40.0
MAX_STRIP_LABELS = 300  # more hazards than this in one class row: merged bars, no numbers
CAPTION_HAZARDS = 3  # hazards explained when none is selected
SEVERITY = ("confirmed", "unprotected", "potential", "uncertain", "serialized")


@dataclass(frozen=True)
class SheetSpec:
    """What one image shows; ``gui.export`` checks the values before building a ``Sheet``."""

    t_lo: float  # ns since the trace's start
    t_hi: float
    width: int  # logical px
    theme: Theme
    height: int | None = None  # None: follow the lanes
    hazard: int = -1  # 0-based selected hazard, -1 none
    caption: bool = False
    y_top: float = 0.0  # first layout y shown (the viewer's vertical scroll)
    max_height: int = 16000


class _Fonts:
    """The fonts of a sheet, in pixel sizes so that every output device draws them alike."""

    def __init__(self) -> None:
        family = QtGui.QFontInfo(QtGui.QFont()).family()
        self.family = family
        self.title = _font(family, 15, bold=True)
        self.small = _font(family, 11)
        self.label = _font(family, 11)  # span names inside bars
        self.lane = _font(family, 12)
        self.host = _font(family, 12, bold=True)
        self.caption = _font(family, 12)
        self.caption_bold = _font(family, 12, bold=True)


def _font(family: str, px: int, bold: bool = False) -> QtGui.QFont:
    font = QtGui.QFont(family)
    font.setPixelSize(px)
    font.setBold(bold)
    # No ligatures: text copied or extracted from an SVG or PDF reads "fi", not "ﬁ".
    font.setFeature(QtGui.QFont.Tag("liga"), 0)
    return font


class _View:
    """Stands in for the ``ViewBox`` a ``SpanItem`` asks for its visible range."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self._range = [[x0, x1], [y0, y1]]

    def viewRange(self) -> list[list[float]]:  # Qt-style name: what SpanItem calls
        return self._range


class _SheetSpans(SpanItem):
    """The viewer's span item, painting a precomputed frame for a fixed view in the sheet's theme."""

    def __init__(self, data: ViewerData, layout: LaneLayout, frame: Frame, view: _View, theme: Theme,
                 font: QtGui.QFont, hazard: int) -> None:
        super().__init__(data, layout, theme)
        self._fixed = frame
        self._view = view
        self.labels = LabelPainter(data.trace.names, font)
        if hazard >= 0:
            self.bands.select(hazard)

    def getViewBox(self) -> _View:  # type: ignore[override]
        return self._view

    def frame_for(self, x0: float, x1: float, y0: float, y1: float, ns_per_px: float) -> Frame:
        return self._fixed


class Sheet:
    """The layout of one image; ``paint`` draws it. See the module docstring."""

    def __init__(self, data: ViewerData, spec: SheetSpec, layout: LaneLayout | None = None) -> None:
        self.data = data
        self.spec = spec
        self.theme = spec.theme
        self.fonts = _Fonts()
        self.layout = layout if layout is not None else LaneLayout(data.trace, data.index)
        self.width = float(spec.width)
        self.axis = TimeAxis()
        hz = data.hazards

        self.t_lo, self.t_hi = float(spec.t_lo), float(spec.t_hi)
        # Hazards whose time reaches into the view, most severe class first.
        vis = np.flatnonzero((hz.end >= self.t_lo) & (hz.start <= self.t_hi)) if len(hz) else np.zeros(0, np.int64)
        self.hazards_in_view = vis
        in_view_cls = hz.cls[vis] if len(vis) else np.zeros(0, np.int64)
        self.strip_classes = [name for name in SEVERITY if (in_view_cls == CLASS_NAMES.index(name)).any()]
        self.strip_counts = {name: int((in_view_cls == CLASS_NAMES.index(name)).sum()) for name in self.strip_classes}

        self.label_w = self._label_column_width()
        self.plot_left = MARGIN + self.label_w
        self.plot_right = self.width - MARGIN
        self.plot_w = max(self.plot_right - self.plot_left, 10.0)
        self.m11 = self.plot_w / (self.t_hi - self.t_lo)
        self.ns_per_px = 1.0 / self.m11

        # Rows that may show: from y_top down to the image's height (or the tallest allowed).
        content_h = max(self.layout.height - spec.y_top, 0.0)
        tallest = float(spec.height if spec.height is not None else spec.max_height)
        self.frame = self._frame(spec.y_top, spec.y_top + min(content_h, tallest))

        # Vertical layout, top to bottom.
        y = MARGIN
        self.title_text = self._title()
        self.title_rect = QtCore.QRectF(MARGIN, y, self.width - 2 * MARGIN, _line_h(self.fonts.title))
        y += self.title_rect.height() + 2
        self.subtitle_text = self._subtitle()
        sub_h = _wrapped_h(self.fonts.small, self.subtitle_text, self.width - 2 * MARGIN)
        self.subtitle_rect = QtCore.QRectF(MARGIN, y, self.width - 2 * MARGIN, sub_h)
        y += sub_h + 6
        self.legend = self._legend_entries()
        self.legend_rows = self._legend_rows()
        self.legend_top = y
        y += len(self.legend_rows) * LEGEND_ROW_H + 6
        self.strip_top = y
        y += len(self.strip_classes) * STRIP_ROW_H + (4 if self.strip_classes else 0)
        self.lanes_top = y
        self.caption_blocks = self._caption_blocks() if spec.caption else []
        caption_h = sum(h for _, _, h in self.caption_blocks) + (10 if self.caption_blocks else 0)
        below = AXIS_H + caption_h + MARGIN
        if spec.height is not None:
            room = float(spec.height) - self.lanes_top - below
            if room < MIN_LANES_H:
                raise ValueError(f"an image {spec.height} px tall leaves no room for the lanes "
                                 f"(at least {int(self.lanes_top + below + MIN_LANES_H)} px at this width)")
            self.lanes_h = min(max(content_h, MIN_LANES_H), room)  # room to spare goes below everything
        else:
            room = float(spec.max_height) - self.lanes_top - below
            self.lanes_h = max(min(content_h, room), MIN_LANES_H)
        self.lanes_bottom = self.lanes_top + self.lanes_h
        self.hidden_lanes = int(((self.layout.lane_y >= spec.y_top + self.lanes_h)
                                 | ((self.layout.lane_y >= 0) & (self.layout.lane_y < spec.y_top))).sum())
        self.axis_top = self.lanes_bottom
        self.caption_top = self.axis_top + AXIS_H + (10 if self.caption_blocks else 0)
        self.height = float(spec.height) if spec.height is not None else float(np.ceil(
            self.caption_top + caption_h - (10 if self.caption_blocks else 0) + MARGIN))
        self.dx = self.plot_left - self.t_lo * self.m11  # x px = t * m11 + dx
        self.dy = self.lanes_top - spec.y_top  # y px = layout y + dy

    # --- geometry helpers (also used by tests) -----------------------------------------------
    def x_px(self, t: float) -> float:
        """Return the x (logical px) of time ``t`` (ns since the trace's start)."""
        return t * self.m11 + self.dx

    def y_px(self, layout_y: float) -> float:
        """Return the y (logical px) of a layout y."""
        return layout_y + self.dy

    @property
    def size(self) -> tuple[int, int]:
        """Return (width, height) in logical px."""
        return round(self.width), round(self.height)

    @property
    def plot_rect(self) -> QtCore.QRectF:
        """Return the rectangle of the lanes' time area."""
        return QtCore.QRectF(self.plot_left, self.lanes_top, self.plot_w, self.lanes_h)

    # --- layout pieces --------------------------------------------------------------------------
    def _label_column_width(self) -> float:
        metrics = QtGui.QFontMetricsF(self.fonts.lane)
        bold = QtGui.QFontMetricsF(self.fonts.host)
        widest = 0.0
        for entry in self.layout.entries[:2000]:
            m = bold if entry.kind == "host" else metrics
            widest = max(widest, 12 * entry.level + m.horizontalAdvance("▸ " + entry.label) + 12)
        small = QtGui.QFontMetricsF(self.fonts.small)
        for name, count in self.strip_counts.items():
            widest = max(widest, MARGIN + 18 + small.horizontalAdvance(f"{name} ({count})") + 10)
        cap = min(LABEL_COLUMN_MAX, 0.34 * self.width)
        return max(min(widest, cap), min(LABEL_COLUMN_MIN, cap))

    def _frame(self, y_lo: float, y_hi: float) -> Frame:
        data, npp = self.data, self.ns_per_px
        rows = self.layout.rows_between(y_lo, y_hi)
        lo, hi = self.t_lo - 4 * npp, self.t_hi + 4 * npp
        frame = compute_frame(data.index, rows, self.layout.row_y, ROW_H, lo, hi, npp, data.open_by_pos)
        frame.y_lo, frame.y_hi = y_lo, y_hi
        frame.marks = compute_marks(data.mark_ts, data.mark_lane, self.layout.lane_y, self.layout.lane_h, lo, hi, npp,
                                    frame.col0)
        return frame

    def _title(self) -> str:
        names = [one_line(os.path.basename(s), 80) for s in self.data.sources] or ["trace"]
        text = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        i = self.spec.hazard
        if i >= 0:
            hz = self.data.hazards
            text += f" — hazard {i + 1} of {len(hz)}: {hz.class_name(i)}: {one_line(hz.titles[i], 160)}"
        return text

    def _subtitle(self) -> str:
        trace, hz = self.data.trace, self.data.hazards
        parts = [f"time {format_offset(self.t_lo)} .. {format_offset(self.t_hi)} "
                 f"({format_duration(self.t_hi - self.t_lo)}) since trace start{_wall(trace.t0_ns)}"]
        if self.data.analysis is None:
            parts.append("rules: not checked")
        else:
            counts = np.bincount(hz.cls, minlength=len(CLASS_NAMES)) if len(hz) else np.zeros(len(CLASS_NAMES), int)
            found = ", ".join(f"{int(counts[CLASS_NAMES.index(c)])} {c}" for c in SEVERITY if counts[CLASS_NAMES.index(c)])
            parts.append(f"rules: {one_line(self.data.rules_name, 60)} ({found or 'no hazards'})")
        parts.append(f"{len(trace.spans):,} spans, {len(trace.lanes)} lanes, {len(trace.hosts)} hosts")
        offsets = {host: ns for host, ns in getattr(trace, "host_offsets_ns", {}).items() if ns}
        if offsets:
            parts.append("clock offsets: " + ", ".join(f"{one_line(host, 40)} {ns / 1e6:+g} ms"
                                                       for host, ns in sorted(offsets.items())))
        return "  ·  ".join(parts)

    def _legend_entries(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """Return (kind, text, colour) of each swatch: what the image shows, nothing else."""
        frame = self.frame
        c_lo, c_hi = -2.0, self.plot_w + 2.0
        shown: set[int] = set()
        hatched = False
        for cat, hatch, rects in frame.groups:
            if len(rects) and bool(((rects[:, 0] <= c_hi) & (rects[:, 0] + rects[:, 2] >= c_lo)).any()):
                shown.add(cat)
                hatched = hatched or hatch
        cats = self.data.trace.cats
        # A solid lock bar is a hold (waits are hatched): the legend says so.
        out: list[tuple[str, str, tuple[int, ...]]] = [
            ("solid", "lock held" if cats[c] == "lock" else one_line(cats[c], 32), self.theme.category(cats[c]))
            for c in sorted(shown, key=lambda c: cats[c])]
        if hatched:
            out.append(("hatch", "lock wait", self.theme.category("lock")))
        if len(frame.marks):
            out.append(("mark", "mark", self.theme.mark))
        if len(frame.open_ends):
            out.append(("open", "unfinished", self.theme.open_end))
        for name in self.strip_classes:
            fill, line, _ = self.theme.hazard[name]
            out.append(("band", f"{name} hazard", fill + line))
        return out

    def _legend_rows(self) -> list[list[tuple[float, tuple[str, str, tuple[int, ...]]]]]:
        metrics = QtGui.QFontMetricsF(self.fonts.small)
        rows: list[list[tuple[float, tuple[str, str, tuple[int, ...]]]]] = []
        x, limit = MARGIN, self.width - MARGIN
        for entry in self.legend:
            w = 18 + metrics.horizontalAdvance(entry[1])
            if not rows or (x + w > limit and rows[-1]):
                rows.append([])
                x = MARGIN
            rows[-1].append((x, entry))
            x += w + 16
        return rows

    def _caption_blocks(self) -> list[tuple[str, str, float]]:
        """Return (kind, text, height) of each caption paragraph: a bold heading, then plain text."""
        hz = self.data.hazards
        if self.spec.hazard >= 0:
            chosen = [self.spec.hazard]
        else:
            order = sorted(self.hazards_in_view.tolist(), key=lambda i: (SEVERITY.index(hz.class_name(i)), int(hz.start[i])))
            chosen = order[:CAPTION_HAZARDS]
        width = self.width - 2 * MARGIN
        blocks = []
        for i in chosen:
            h = hz.describe(i)
            if not h:
                continue
            head = (f"Hazard {i + 1}: {str(h['class']).upper()}: {one_line(h['title'], 200)}  —  rule {one_line(h['rule'], 80)}, "
                    f"{format_offset(float(hz.start[i]))} .. {format_offset(float(hz.end[i]))} "
                    f"({format_duration(float(hz.end[i] - hz.start[i]))}), host {one_line(h['host'], 80)}")
            body = clip(str(h["explanation"]), 3000).replace("\n", " ")
            if h.get("spans"):
                body += "\nspans: " + "; ".join(f"{one_line(s['name'], 120)} ({s['start']} .. {s['end']})"
                                                for s in h["spans"][:12])
            blocks.append(("head", head, _wrapped_h(self.fonts.caption_bold, head, width) + 2))
            blocks.append(("body", body, _wrapped_h(self.fonts.caption, body, width) + 8))
        more = len(self.hazards_in_view) - len(chosen) if self.spec.hazard < 0 else 0
        if more > 0:
            text = f"… and {more} more hazard{'s' if more > 1 else ''} in this time range (racelane check lists them all)"
            blocks.append(("note", text, _wrapped_h(self.fonts.small, text, width) + 4))
        if not blocks:
            text = "No hazard in this time range." if self.data.analysis is not None else "The rules were not checked."
            blocks.append(("note", text, _wrapped_h(self.fonts.small, text, width) + 4))
        return blocks

    # --- painting ---------------------------------------------------------------------------------
    def paint(self, p: QtGui.QPainter) -> None:
        """Draw the whole sheet on ``p`` (logical px, origin at the top left)."""
        pal = self.theme
        p.save()
        try:
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
            p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing, True)
            p.setFont(self.fonts.small)
            p.fillRect(QtCore.QRectF(0, 0, self.width, self.height), qcolor(pal.background))
            self._paint_lanes(p)
            self._paint_lane_tree(p)
            # Lanes and their tree may reach past their area (an SVG is not clipped): cover the margins.
            bg = qcolor(pal.background)
            p.fillRect(QtCore.QRectF(0, 0, self.width, self.lanes_top), bg)
            p.fillRect(QtCore.QRectF(0, self.lanes_bottom, self.width, self.height - self.lanes_bottom), bg)
            p.fillRect(QtCore.QRectF(self.plot_right, self.lanes_top, self.width - self.plot_right, self.lanes_h), bg)
            self._paint_header(p)
            self._paint_strip(p)
            self._paint_axis(p)
            self._paint_caption(p)
        finally:
            p.restore()

    def _paint_lanes(self, p: QtGui.QPainter) -> None:
        spec = self.spec
        view = _View(self.t_lo, self.t_hi, spec.y_top, spec.y_top + self.lanes_h)
        item = _SheetSpans(self.data, self.layout, self.frame, view, self.theme, self.fonts.label, spec.hazard)
        item.ticks = self.major_ticks
        p.save()
        try:
            p.setClipRect(self.plot_rect)
            p.setWorldTransform(QtGui.QTransform(self.m11, 0.0, 0.0, 1.0, self.dx, self.dy), True)
            item.paint(p)
        finally:
            p.restore()

    def major_ticks(self, x0: float, x1: float, width_px: float) -> list[float]:
        """Return the times of the time axis' major ticks in ``[x0, x1]``."""
        levels = self.axis.tickValues(x0, x1, width_px)
        return list(levels[0][1]) if levels else []

    def lane_tree(self) -> list[tuple[str, QtCore.QRectF, str, QtGui.QFont, QtCore.QPointF]]:
        """Return what the lane tree draws, top to bottom: (kind, background, text, font, baseline point).

        The kind is host, process or lane; the text is elided to the column.
        """
        fonts, width = self.fonts, self.plot_left
        metrics = {id(f): QtGui.QFontMetricsF(f) for f in (fonts.lane, fonts.host)}
        y_top = self.spec.y_top
        out = []
        for entry in self.layout.entries_between(y_top, y_top + self.lanes_h):
            top = self.y_px(entry.y)
            indent = MARGIN + 12 * entry.level
            background = QtCore.QRectF(0.0, top, width, entry.height)
            if entry.kind == "lane":
                font, text = fonts.lane, entry.label
                line = QtCore.QRectF(indent, top + LANE_PAD, width - indent - 8, ROW_H)
            else:
                font = fonts.host if entry.kind == "host" else fonts.lane
                text = ("▸ " if entry.collapsed else "") + entry.label
                line = QtCore.QRectF(indent, top, width - indent - 8, entry.height)
            m = metrics[id(font)]
            elided = m.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, line.width())
            kind = entry.kind if entry.kind != "lane" or entry.lane % 2 == 0 else "striped lane"
            out.append((kind, background, elided, font,
                        QtCore.QPointF(line.left(), _baseline(m, line.top(), line.height()))))
        return out

    def _paint_lane_tree(self, p: QtGui.QPainter) -> None:
        pal = self.theme
        p.save()
        try:
            p.setClipRect(QtCore.QRectF(0, self.lanes_top, self.plot_left, self.lanes_h))
            p.fillRect(QtCore.QRectF(0, self.lanes_top, self.plot_left, self.lanes_h), qcolor(pal.background))
            backgrounds = {"host": pal.group_row, "process": pal.group_row, "striped lane": pal.lane_stripe}
            p.setPen(qcolor(pal.text))
            for kind, background, text, font, point in self.lane_tree():
                if kind in backgrounds:
                    p.fillRect(background, qcolor(backgrounds[kind]))
                p.setFont(font)
                # A point and a baseline, not a rectangle and flags: a third of the cost per label.
                p.drawText(point, text)
            p.setPen(qcolor(pal.rule))
            p.drawLine(QtCore.QPointF(self.plot_left - 0.5, self.lanes_top), QtCore.QPointF(self.plot_left - 0.5, self.lanes_bottom))
        finally:
            p.restore()

    def _paint_header(self, p: QtGui.QPainter) -> None:
        pal, fonts = self.theme, self.fonts
        p.setPen(qcolor(pal.text))
        p.setFont(fonts.title)
        title = QtGui.QFontMetricsF(fonts.title).elidedText(self.title_text, QtCore.Qt.TextElideMode.ElideRight,
                                                             self.title_rect.width())
        p.drawText(self.title_rect, int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter), title)
        p.setFont(fonts.small)
        p.setPen(qcolor(pal.text_dim))
        p.drawText(self.subtitle_rect, int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.TextFlag.TextWordWrap),
                   self.subtitle_text)
        metrics = QtGui.QFontMetricsF(fonts.small)
        for r, row in enumerate(self.legend_rows):
            mid = self.legend_top + r * LEGEND_ROW_H + LEGEND_ROW_H / 2
            for x, (kind, text, rgb) in row:
                self._swatch(p, kind, rgb, QtCore.QRectF(x, mid - 5, 14, 10))
                p.setPen(qcolor(pal.text))
                p.drawText(QtCore.QPointF(x + 18, mid + metrics.ascent() / 2 - 1.5), text)

    def _swatch(self, p: QtGui.QPainter, kind: str, rgb: tuple[int, ...], rect: QtCore.QRectF) -> None:
        p.save()
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        if kind == "hatch":
            brushes = Brushes(["lock"], self.theme)
            p.fillRect(rect, brushes.tint[0])
            p.fillRect(rect, brushes.hatch[0])
        elif kind == "open":
            p.setBrush(qcolor(rgb))
            p.drawPolygon(QtGui.QPolygonF([rect.topLeft(), QtCore.QPointF(rect.right(), rect.center().y()),
                                           rect.bottomLeft()]))
        elif kind == "mark":
            p.fillRect(QtCore.QRectF(rect.center().x() - 0.5, rect.top(), 1.0, rect.height()), qcolor(rgb))
            p.fillRect(QtCore.QRectF(rect.center().x() - 2.5, rect.top(), 5.0, 3.0), qcolor(rgb))
        elif kind == "band":
            p.fillRect(rect, qcolor(self.theme.background))
            p.fillRect(rect, qcolor(rgb[:4]))
            pen = QtGui.QPen(qcolor(rgb[4:]))
            pen.setWidthF(1.5)
            p.setPen(pen)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawRect(rect)
        else:
            p.fillRect(rect, qcolor(rgb))
        p.restore()

    def _paint_strip(self, p: QtGui.QPainter) -> None:
        """Draw one row per hazard class in view: the hazards' time spans as numbered bars."""
        if not self.strip_classes:
            return
        pal, fonts, hz = self.theme, self.fonts, self.data.hazards
        metrics = QtGui.QFontMetricsF(fonts.small)
        vis = self.hazards_in_view
        lo_clip, hi_clip = self.plot_left - 1.0, self.plot_right + 1.0
        for r, name in enumerate(self.strip_classes):
            top = self.strip_top + r * STRIP_ROW_H
            p.fillRect(QtCore.QRectF(self.plot_left, top, self.plot_w, STRIP_ROW_H - 1), qcolor(pal.strip))
            fill, line, _ = self.theme.hazard[name]
            bar_rgb = line
            members = vis[hz.cls[vis] == CLASS_NAMES.index(name)]
            self._swatch(p, "band", fill + line, QtCore.QRectF(MARGIN, top + 3, 14, 10))
            p.setFont(fonts.small)
            p.setPen(qcolor(pal.text))
            p.drawText(QtCore.QPointF(MARGIN + 18, _baseline(metrics, top, STRIP_ROW_H - 1)),
                       f"{name} ({self.strip_counts[name]})")
            left = hz.start[members].astype(np.float64) * self.m11 + self.dx
            right = hz.end[members].astype(np.float64) * self.m11 + self.dx
            narrow = right - left < 3.0
            left, right = np.where(narrow, (left + right) / 2 - 1.5, left), np.where(narrow, (left + right) / 2 + 1.5, right)
            left, right = np.maximum(left, lo_clip), np.minimum(right, hi_clip)
            order = np.argsort(left, kind="stable")
            members, left, right = members[order], left[order], right[order]
            y, h = top + 2, STRIP_ROW_H - 5
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(qcolor(bar_rgb))
            if len(members) > MAX_STRIP_LABELS:
                # Many hazards: touching bars merge, no numbers.
                reach = np.maximum.accumulate(right)
                new = np.concatenate(([True], left[1:] > reach[:-1] + 1.0))
                starts = np.flatnonzero(new)
                ends = np.concatenate((starts[1:], [len(left)])) - 1
                rects = np.column_stack((left[starts], np.full(len(starts), y), reach[ends] - left[starts],
                                         np.full(len(starts), h)))
                draw_rects(p, rects)
                continue
            draw_rects(p, np.column_stack((left, np.full(len(left), y), right - left, np.full(len(left), h))))
            text_rgb = colors.text_on(bar_rgb)
            # Bars that overlap share one label: "7", "1-5" (consecutive numbers, with an en dash) or "3 +2".
            reach = np.maximum.accumulate(right)
            firsts = np.flatnonzero(np.concatenate(([True], left[1:] > reach[:-1])))
            lasts = np.concatenate((firsts[1:], [len(left)])) - 1
            next_left = np.concatenate((left[firsts[1:]], [self.plot_right]))
            p.setFont(fonts.small)
            for a, b, nxt in zip(firsts.tolist(), lasts.tolist(), next_left.tolist(), strict=True):
                ids = sorted(int(i) + 1 for i in members[a:b + 1])
                text = str(ids[0]) if len(ids) == 1 else (f"{ids[0]}–{ids[-1]}" if ids[-1] - ids[0] == len(ids) - 1
                                                          else f"{ids[0]} +{len(ids) - 1}")
                x0, x1 = float(left[a]), float(reach[b])
                if self.spec.hazard + 1 in ids:
                    i = self.spec.hazard
                    text = f"{i + 1} · {format_duration(float(hz.end[i] - hz.start[i]))}" + (
                        f" (+{len(ids) - 1})" if len(ids) > 1 else "")
                    k = a + int(np.flatnonzero(members[a:b + 1] == i)[0])
                    pen = QtGui.QPen(qcolor(pal.text))
                    pen.setWidthF(1.5)
                    p.setPen(pen)
                    p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
                    p.drawRect(QtCore.QRectF(float(left[k]) - 1, y - 1, float(right[k] - left[k]) + 2, h + 2))
                tw = metrics.horizontalAdvance(text)
                if x1 - x0 - 6 >= tw:
                    p.setPen(qcolor(text_rgb))
                    p.drawText(QtCore.QPointF(x0 + 3, _baseline(metrics, y, h)), text)
                elif nxt - x1 - 8 >= tw:
                    p.setPen(qcolor(pal.text))
                    p.drawText(QtCore.QPointF(x1 + 3, _baseline(metrics, y, h)), text)

    def _paint_axis(self, p: QtGui.QPainter) -> None:
        pal, fonts = self.theme, self.fonts
        top = self.axis_top
        p.setPen(qcolor(pal.rule))
        p.drawLine(QtCore.QPointF(self.plot_left, top + 0.5), QtCore.QPointF(self.plot_right, top + 0.5))
        levels = self.axis.tickValues(self.t_lo, self.t_hi, self.plot_w)
        metrics = QtGui.QFontMetricsF(fonts.small)
        p.setFont(fonts.small)
        ticks = []
        for level, (spacing, values) in enumerate(levels[:2]):
            length = 6.0 if level == 0 else 3.0
            xs = [self.x_px(float(v)) for v in values]
            ticks += [(x, length) for x in xs if self.plot_left - 0.5 <= x <= self.plot_right + 0.5]
            if level == 0:
                last_right = -1e9
                for x, text in zip(xs, self.axis.tickStrings(list(values), 1.0, spacing), strict=True):
                    w = metrics.horizontalAdvance(text)
                    left = min(max(x - w / 2, self.plot_left - 4), self.plot_right - w)
                    if left < last_right + 8 or not self.plot_left - 0.5 <= x <= self.plot_right + 0.5:
                        continue
                    p.setPen(qcolor(pal.text))
                    p.drawText(QtCore.QPointF(left, top + 8 + metrics.ascent()), text)
                    last_right = left + w
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(qcolor(pal.rule))
        draw_rects(p, np.array([(np.floor(x), top, 1.0, length) for x, length in ticks], np.float64).reshape(-1, 4))
        p.setPen(qcolor(pal.text_dim))
        p.drawText(QtCore.QRectF(self.plot_left, top + 24, self.plot_w, 18),
                   int(QtCore.Qt.AlignmentFlag.AlignHCenter | QtCore.Qt.AlignmentFlag.AlignVCenter),
                   "time since trace start")
        if self.hidden_lanes:  # under the lane tree, where the axis leaves room
            note = (f"{self.hidden_lanes} more lane{'s' if self.hidden_lanes > 1 else ''} below, not shown "
                    f"(the image is {int(self.height)} px tall)")
            p.setPen(qcolor(pal.text_dim))
            p.drawText(QtCore.QRectF(MARGIN, top + 6, self.label_w - 12, AXIS_H - 8),
                       int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop
                           | QtCore.Qt.TextFlag.TextWordWrap), note)

    def _paint_caption(self, p: QtGui.QPainter) -> None:
        if not self.caption_blocks:
            return
        pal, fonts = self.theme, self.fonts
        p.setPen(qcolor(pal.rule))
        p.drawLine(QtCore.QPointF(MARGIN, self.caption_top - 5.5), QtCore.QPointF(self.width - MARGIN, self.caption_top - 5.5))
        y = self.caption_top
        width = self.width - 2 * MARGIN
        flags = int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.TextFlag.TextWordWrap)
        for kind, text, h in self.caption_blocks:
            font = {"head": fonts.caption_bold, "body": fonts.caption}.get(kind, fonts.small)
            p.setFont(font)
            p.setPen(qcolor(pal.text if kind != "note" else pal.text_dim))
            p.drawText(QtCore.QRectF(MARGIN, y, width, h), flags, text)
            y += h


def _baseline(metrics: QtGui.QFontMetricsF, top: float, height: float) -> float:
    """Return the baseline that centres a line of text vertically in ``[top, top + height]``."""
    return top + (height - metrics.height()) / 2 + metrics.ascent()


def _line_h(font: QtGui.QFont) -> float:
    return float(QtGui.QFontMetricsF(font).height()) + 2.0


def _wrapped_h(font: QtGui.QFont, text: str, width: float) -> float:
    """Return the height ``text`` takes word-wrapped in ``width`` px."""
    rect = QtGui.QFontMetricsF(font).boundingRect(
        QtCore.QRectF(0, 0, width, 1e6), int(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.TextFlag.TextWordWrap), text)
    return float(np.ceil(rect.height()))


def _wall(t0_ns: int) -> str:
    """Return `` 2026-11-21 10:00:00.123 UTC`` for a wall-clock start, '' for a trace without one."""
    if t0_ns < 10**17:  # before 1973: not a wall clock (an imported trace starting at 0)
        return ""
    moment = datetime.datetime.fromtimestamp(t0_ns / 1e9, tz=datetime.UTC)
    return f" {moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d} UTC"
