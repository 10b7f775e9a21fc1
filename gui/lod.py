"""Level of detail: turn the spans of a time range into the rectangles one frame draws.

Spans at least two pixels wide become one rectangle each (and label
candidates when wide enough). Narrower spans are merged per pixel column and
row: the column takes the colour of the category that covers most of it, and
runs of touching columns of one colour become one rectangle (a span still
covers the columns it reaches, so a row of 1.8-pixel spans with 0.2-pixel
gaps is one bar, not stripes). So a zoomed-out view
of a million spans draws at most a few rectangles per pixel column and row,
and still shows which categories dominate where. When a range holds more
spans than ``RAW_LIMIT`` the coarser level of the ``RowIndex`` whose buckets
are at most a pixel wide stands in for the raw spans.

Geometry is in *columns* (``t / ns_per_px``, relative to ``Frame.col0``) and
layout pixels (y): panning at a fixed zoom only translates it, so a frame
computed for a range wider than the screen serves many pans. No Qt here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .rows import STYLE_WAIT, RowIndex, dominant

RAW_LIMIT = 40_000  # more spans than this in range: draw from a coarser level
WIDE_MIN_PX = 2.0  # narrower spans are merged per pixel column
LABEL_MIN_PX = 18.0  # narrower spans never get a label
MARK_STYLE = -1


@dataclass
class Frame:
    """Everything one frame draws for a range of time and rows, in columns relative to ``col0``."""

    ns_per_px: float
    col0: float
    t_lo: float
    t_hi: float
    y_lo: float
    y_hi: float
    groups: list[tuple[int, bool, np.ndarray]] = field(default_factory=list)  # (cat, hatched, rects (n, 4))
    label_left: np.ndarray = field(default_factory=lambda: np.zeros(0))
    label_right: np.ndarray = field(default_factory=lambda: np.zeros(0))
    label_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    label_span: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    label_cat: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    open_ends: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (column of the end, y)
    marks: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (column, lane top y, lane height)
    items: int = 0  # spans or buckets considered
    level: int = -1  # the RowIndex level used, -1 for raw spans

    def covers(self, ns_per_px: float, t_lo: float, t_hi: float, y_lo: float, y_hi: float) -> bool:
        """Whether this frame can draw that view (same zoom, range inside)."""
        return (abs(ns_per_px - self.ns_per_px) <= 1e-9 * self.ns_per_px and self.t_lo <= t_lo and t_hi <= self.t_hi
                and self.y_lo <= y_lo and y_hi <= self.y_hi)


def compute_frame(index: RowIndex, rows: np.ndarray, row_y: np.ndarray, row_h: float, t_lo: float, t_hi: float,
                  ns_per_px: float, open_by_pos: np.ndarray) -> Frame:
    """Return the frame of ``rows`` (sorted row ids, all shown) over ``[t_lo, t_hi]`` at ``ns_per_px``.

    ``row_y`` gives each row's top (layout px); rectangles keep one pixel
    free above and below. Complexity: O(items in range), with items
    bounded by about two per pixel column and row once a level is used.
    """
    col0 = math.floor(t_lo / ns_per_px)
    frame = Frame(ns_per_px, col0, t_lo, t_hi, 0.0, 0.0)
    if len(rows) == 0:
        return frame
    lo_t, hi_t = math.floor(t_lo), math.ceil(t_hi)
    raw = index.raw
    lo, hi = raw.ranges(rows, lo_t, hi_t)
    k = math.floor(math.log2(ns_per_px)) if ns_per_px >= 2 else 0
    if int((hi - lo).sum()) > RAW_LIMIT and k >= 1:
        spans, buckets = index.level(k)
        parts = [spans.take(*spans.ranges(rows, lo_t, hi_t)), buckets.take(*buckets.ranges(rows, lo_t, hi_t))]
        frame.level = k
    else:
        parts = [raw.take(lo, hi)]
    frame.items = sum(len(p) for p in parts)
    width_cols = (t_hi - t_lo) / ns_per_px
    wide_parts, narrow_parts = [], []
    for items in parts:
        cs = items.start / ns_per_px - col0
        ce = items.end / ns_per_px - col0
        wide = ((ce - cs) >= WIDE_MIN_PX) & (items.src >= 0)
        wide_parts.append((items, cs, ce, wide))
        first_col = np.floor(np.maximum(cs[~wide], -1.0)).astype(np.int64)
        last_col = np.maximum(np.floor(np.minimum(ce[~wide], width_cols + 2.0)).astype(np.int64), first_col)
        narrow_parts.append((items.row[~wide], first_col, last_col, items.cat[~wide], items.weight[~wide]))
    merged = _merge_columns(narrow_parts, index.n_cats, row_y, row_h)
    groups: list[tuple[int, bool, np.ndarray]] = []
    if merged is not None:
        groups += _split_groups(merged[0], np.zeros(len(merged[0]), bool), merged[1])
    rect_parts, cat_parts, hatch_parts = [], [], []
    labels: list[tuple[np.ndarray, ...]] = []
    opens = []
    for items, cs, ce, wide in wide_parts:
        if not wide.any():
            continue
        w_cs, w_ce = cs[wide], ce[wide]
        x0 = np.maximum(w_cs, -2.0)
        x1 = np.minimum(w_ce, width_cols + 2.0)
        w = x1 - x0
        w = np.where(w >= 3.0, w - 1.0, w)  # a one-pixel gap tells neighbours apart
        y = row_y[items.row[wide]] + 1.0
        rect_parts.append(np.column_stack((x0, y, w, np.full(len(x0), row_h - 2.0))))
        cat_parts.append(items.cat[wide])
        hatch_parts.append(items.style[wide] == STYLE_WAIT)
        src = items.src[wide]
        wants = (w_ce - w_cs) >= LABEL_MIN_PX
        if wants.any():
            labels.append((w_cs[wants], w_ce[wants], y[wants], index.order[src[wants]], items.cat[wide][wants]))
        is_open = open_by_pos[src]
        if is_open.any():
            opens.append(np.column_stack((w_ce[is_open], y[is_open])))
    if rect_parts:
        groups += _split_groups(np.concatenate(cat_parts), np.concatenate(hatch_parts), np.concatenate(rect_parts))
    frame.groups = groups
    if labels:
        frame.label_left, frame.label_right, frame.label_y, frame.label_span, frame.label_cat = (
            np.concatenate(c) for c in zip(*labels, strict=True))
    if opens:
        frame.open_ends = np.concatenate(opens)
    return frame


def compute_marks(ts_rel: np.ndarray, mark_lane: np.ndarray, lane_y: np.ndarray, lane_h: np.ndarray, t_lo: float,
                  t_hi: float, ns_per_px: float, col0: float) -> np.ndarray:
    """Return one (column, lane top, lane height) per lane and pixel column holding marks (``ts_rel`` sorted)."""
    a, b = np.searchsorted(ts_rel, [t_lo, t_hi], side="left")
    if b <= a:
        return np.zeros((0, 3))
    lane = mark_lane[a:b].astype(np.int64)
    shown = lane_y[lane] >= 0
    lane = lane[shown]
    col = np.floor(ts_rel[a:b][shown] / ns_per_px - col0).astype(np.int64)
    if len(col) == 0:
        return np.zeros((0, 3))
    key = np.unique(lane * (int(col.max()) - int(col.min()) + 1) + (col - int(col.min())))
    span = int(col.max()) - int(col.min()) + 1
    lane_u, col_u = key // span, key % span + int(col.min())
    return np.column_stack((col_u.astype(np.float64), lane_y[lane_u], lane_h[lane_u]))


def _merge_columns(parts: list[tuple[np.ndarray, ...]], n_cats: int, row_y: np.ndarray,
                   row_h: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Merge narrow items per (row, first column); return (category, rects) of runs of touching columns.

    Each part is (row, first column, last column, category, weight), sorted
    by (row, first column). The category of a column is the one with the
    most weight among the items starting there; a run reaches as far as its
    items do.
    """
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return None
    row, col, last, cat, weight = (np.concatenate(c) for c in zip(*parts, strict=True)) if len(parts) > 1 else parts[0]
    if len(parts) > 1:  # two sorted sources (rare: levels keep long spans wide): restore (row, column) order
        order = np.lexsort((col, row))
        row, col, last, cat, weight = row[order], col[order], last[order], cat[order], weight[order]
    change = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
    first = np.concatenate(([0], np.flatnonzero(change) + 1))
    run_id = np.cumsum(np.concatenate(([True], change))) - 1
    run_cat, _ = dominant(run_id, len(first), cat, weight, n_cats)
    run_row, run_col = row[first], col[first]
    run_last = np.maximum.reduceat(last, first)
    # Touching or overlapping runs of one row and colour become one rectangle.
    joins = (run_row[1:] == run_row[:-1]) & (run_col[1:] <= run_last[:-1] + 1) & (run_cat[1:] == run_cat[:-1])
    seg_first = np.concatenate(([0], np.flatnonzero(~joins) + 1))
    x = run_col[seg_first].astype(np.float64)
    w = (np.maximum.reduceat(run_last, seg_first) - run_col[seg_first] + 1).astype(np.float64)
    y = row_y[run_row[seg_first]] + 1.0
    rects = np.column_stack((x, y, w, np.full(len(x), row_h - 2.0)))
    return run_cat[seg_first], rects


def _split_groups(cat: np.ndarray, hatched: np.ndarray, rects: np.ndarray) -> list[tuple[int, bool, np.ndarray]]:
    """Split rectangles by (category, hatched), each group one C-contiguous (n, 4) float64 array."""
    key = cat.astype(np.int64) * 2 + hatched
    order = np.argsort(key, kind="stable")
    key = key[order]
    rects = rects[order]
    cuts = np.concatenate(([0], np.flatnonzero(key[1:] != key[:-1]) + 1, [len(key)]))
    return [(int(key[a]) // 2, bool(key[a] % 2), np.ascontiguousarray(rects[a:b], dtype=np.float64))
            for a, b in itertools.pairwise(cuts)]
