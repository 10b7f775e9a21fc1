"""Find every instance of a rule's windows in a trace, as columns.

A window instance has a start and end (ns on the trace's axis), the lane and
host it belongs to, the spans that opened and closed it, its ``within``
group span, its key values, and a bitmask of the locks that protected every
one of its critical steps. Everything that touches all spans is numpy;
Python loops run over matched candidates only (attributes are decoded
lazily, and only for spans a rule names).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import LOCK_HELD_KIND, Trace
from .rules import Matcher, Window

_MAX_ANCESTRY = 512
MAX_LOCKS = 62  # locks beyond this many distinct names do not count as protection


@dataclass
class Events:
    """Matched events: span rows (``mark`` False) or mark rows, with their times."""

    row: np.ndarray  # int64 span or mark row
    mark: np.ndarray  # bool
    time_ns: np.ndarray  # int64
    lane: np.ndarray  # int32
    anchor: np.ndarray  # int64 span row whose ancestry decides the group (the span itself or the mark's span)


@dataclass
class WindowSet:
    """Every instance of one window kind."""

    window: Window
    start_ns: np.ndarray
    end_ns: np.ndarray
    lane: np.ndarray
    file: np.ndarray
    host: np.ndarray
    from_row: np.ndarray  # span row (or -1)
    from_mark: np.ndarray  # bool: from_row is a mark row
    to_row: np.ndarray
    to_mark: np.ndarray
    group: np.ndarray  # span row of the ``within`` span (the span itself for span windows), -1 none
    lock_mask: np.ndarray  # int64 bitmask over Context.lock_bits
    ctx: Any = None
    _key_cache: dict[str, dict[int, Any]] | None = None

    def __len__(self) -> int:
        return len(self.start_ns)

    @property
    def key_names(self) -> list[str]:
        return [name for name, _ in self.window.keys]

    def cheap(self, name: str) -> bool:
        """Whether key ``name`` comes from the process or lane (no attribute decoding)."""
        return dict(self.window.keys)[name].startswith("$")

    def key_column(self, name: str) -> list[Any]:
        """Key ``name`` of every instance (decodes attributes for attribute keys: use sparingly)."""
        return [self.key(name, i) for i in range(len(self))]

    def key(self, name: str, i: int) -> Any:
        """Key ``name`` of instance ``i``, decoding at most one span's attributes, cached."""
        if self._key_cache is None:
            self._key_cache = {}
        cache = self._key_cache.setdefault(name, {})
        if i in cache:
            return cache[i]
        value = _key_value(self.ctx, self, dict(self.window.keys)[name], i)
        cache[i] = value
        return value


class Context:
    """Per-trace caches shared by every rule: name matches, lock intervals, decoded attributes."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self._names: dict[str, np.ndarray] = {}
        self._matches: dict[int, tuple[Matcher, Events]] = {}
        self._owners: dict[tuple[int, str], np.ndarray] = {}
        self._attrs: dict[int, dict[str, Any]] = {}
        self._mark_attrs: dict[int, dict[str, Any]] = {}
        locks = trace.locks
        self.lock_bits = {name: i for i, name in enumerate(locks.lock_names[:MAX_LOCKS])}
        held = locks.kind == LOCK_HELD_KIND
        rows = locks.span[held]
        lock_ids = locks.lock[held]
        keep = lock_ids < MAX_LOCKS
        rows, lock_ids = rows[keep], lock_ids[keep]
        spans = trace.spans
        # Held intervals per lane, sorted by start (holds nest or follow each other in one lane).
        self._held: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        lanes = spans.lane[rows]
        for lane in np.unique(lanes):
            sel = rows[lanes == lane]
            ids = lock_ids[lanes == lane]
            order = np.argsort(spans.start_ns[sel], kind="stable")
            self._held[int(lane)] = (spans.start_ns[sel][order], spans.end_ns[sel][order], ids[order].astype(np.int64))

    # --- names and attributes -------------------------------------------------------
    def name_ids(self, pattern: str) -> np.ndarray:
        ids = self._names.get(pattern)
        if ids is None:
            names = self.trace.names
            if any(ch in pattern for ch in "*?["):
                ids = np.array([i for i, n in enumerate(names) if fnmatch.fnmatchcase(n, pattern)], dtype=np.int32)
            else:
                ids = np.array([i for i, n in enumerate(names) if n == pattern], dtype=np.int32)
            self._names[pattern] = ids
        return ids

    def attrs(self, row: int, mark: bool = False) -> dict[str, Any]:
        cache = self._mark_attrs if mark else self._attrs
        got = cache.get(row)
        if got is None:
            got = self.trace.mark_attrs(row) if mark else self.trace.attrs(row)
            cache[row] = got
        return got

    def host_name(self, lane: int) -> str:
        return self.trace.hosts[int(self.trace.lanes.host[lane])]

    # --- matching --------------------------------------------------------------------
    def match(self, matcher: Matcher) -> Events:
        """Return the events a matcher selects (cached per matcher for the life of this context)."""
        hit = self._matches.get(id(matcher))
        if hit is not None and hit[0] is matcher:
            return hit[1]
        events = self._match(matcher)
        self._matches[id(matcher)] = (matcher, events)
        return events

    def owners(self, matcher: Matcher, within: str) -> np.ndarray:
        """For each event of ``matcher``, its enclosing span named ``within`` (itself included), cached."""
        key = (id(matcher), within)
        got = self._owners.get(key)
        if got is None:
            got = self.ancestors(self.match(matcher).anchor, within, include_self=True)
            self._owners[key] = got
        return got

    def _match(self, matcher: Matcher) -> Events:
        trace = self.trace
        ids = self.name_ids(matcher.name)
        if matcher.kind == "mark":
            table = trace.marks
            mask = np.isin(table.name, ids)
            if matcher.cat is not None:
                mask &= table.cat == _index(trace.cats, matcher.cat)
            rows = np.flatnonzero(mask).astype(np.int64)
            if matcher.where:
                rows = rows[[self._where(int(r), True, matcher) for r in rows]] if len(rows) else rows
            return Events(rows, np.ones(len(rows), bool), table.ts_ns[rows], table.lane[rows], table.span[rows])
        spans = trace.spans
        mask = np.isin(spans.name, ids)
        if matcher.cat is not None:
            mask &= spans.cat == _index(trace.cats, matcher.cat)
        rows = np.flatnonzero(mask).astype(np.int64)
        if matcher.where and len(rows):
            rows = rows[np.array([self._where(int(r), False, matcher) for r in rows], dtype=bool)]
        times = spans.start_ns[rows] if matcher.edge == "start" else spans.end_ns[rows]
        return Events(rows, np.zeros(len(rows), bool), times, spans.lane[rows], rows)

    def _where(self, row: int, mark: bool, matcher: Matcher) -> bool:
        attrs = self.attrs(row, mark)
        lane = int(self.trace.marks.lane[row] if mark else self.trace.spans.lane[row])
        for key, test in matcher.where:
            value = attrs.get(key)
            if isinstance(test, dict):
                ((op, arg),) = test.items()
                arg = self.host_name(lane) if arg == "$host" else arg
                if op == "contains":
                    ok = isinstance(value, (list, tuple, str)) and arg in value
                elif op == "in":
                    ok = value in arg
                elif op == "absent":
                    ok = (key not in attrs) == bool(arg)
                else:  # not
                    ok = value != arg
            else:
                ok = value == (self.host_name(lane) if test == "$host" else test)
            if not ok:
                return False
        return True

    def ancestors(self, anchors: np.ndarray, name: str, include_self: bool) -> np.ndarray:
        """For each span row in ``anchors``, the nearest enclosing span named ``name`` (-1 none)."""
        spans = self.trace.spans
        ids = self.name_ids(name)
        result = np.full(len(anchors), -1, dtype=np.int64)
        cur = anchors.astype(np.int64).copy()
        if not include_self:
            valid = cur >= 0
            cur[valid] = spans.parent[cur[valid]]
        active = np.flatnonzero(cur >= 0)
        for _ in range(_MAX_ANCESTRY):
            if not len(active):
                break
            hit = np.isin(spans.name[cur[active]], ids)
            result[active[hit]] = cur[active[hit]]
            rest = active[~hit]
            cur[rest] = spans.parent[cur[rest]]
            active = rest[cur[rest] >= 0]
        return result

    # --- locks --------------------------------------------------------------------------
    def protection(self, start_ns: np.ndarray, end_ns: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        """Bitmask of locks whose hold (in the same lane) contains each [start, end]."""
        masks = np.zeros(len(start_ns), dtype=np.int64)
        for lane in np.unique(lanes):
            held = self._held.get(int(lane))
            if held is None:
                continue
            h_start, h_end, h_lock = held
            sel = np.flatnonzero(lanes == lane)
            # Holds of one lane nest: walk outwards over enclosing candidates.
            for depth in range(1, 9):
                idx = np.searchsorted(h_start, start_ns[sel], side="right") - depth
                ok = idx >= 0
                if not ok.any():
                    break
                i = np.where(ok, idx, 0)
                inside = ok & (h_end[i] >= end_ns[sel]) & (h_start[i] <= start_ns[sel])
                masks[sel[inside]] |= np.left_shift(np.int64(1), h_lock[i[inside]])
        return masks


def build(ctx: Context, window: Window) -> WindowSet:
    """Find every instance of ``window`` in the trace."""
    trace = ctx.trace
    spans = trace.spans
    if window.span is not None:
        ev = ctx.match(window.span)
        rows = ev.row
        wset = _assemble(ctx, window, spans.start_ns[rows], spans.end_ns[rows], spans.lane[rows], rows, ev.mark,
                         rows, ev.mark, rows if not ev.mark.any() else np.full(len(rows), -1, np.int64))
    else:
        starts = _concat([ctx.match(m) for m in window.starts])
        ends = _concat([ctx.match(m) for m in window.ends])
        wset = _pair(ctx, window, starts, ends)
    wset.lock_mask = _lock_masks(ctx, window, wset)
    wset.ctx = ctx
    return wset


def _pair(ctx: Context, window: Window, starts: Events, ends: Events) -> WindowSet:
    if window.within is not None:
        g_start = _group_of(ctx, starts, window.within)
        g_end = _group_of(ctx, ends, window.within)
        first = _extreme(g_start, starts.time_ns, earliest=True)
        last = _extreme(g_end, ends.time_ns, earliest=False)
        groups = np.intersect1d(np.unique(g_start[g_start >= 0]), np.unique(g_end[g_end >= 0]))
        si = np.array([first[g] for g in groups], dtype=np.int64)
        ei = np.array([last[g] for g in groups], dtype=np.int64)
        group_rows = groups.astype(np.int64)
    else:
        si, ei = _pair_in_lanes(starts, ends)
        group_rows = np.full(len(si), -1, np.int64)
    if len(si):
        ok = starts.time_ns[si] <= ends.time_ns[ei]
        si, ei, group_rows = si[ok], ei[ok], group_rows[ok]
    return _assemble(ctx, window, starts.time_ns[si], ends.time_ns[ei], starts.lane[si], starts.row[si], starts.mark[si],
                     ends.row[ei], ends.mark[ei], group_rows)


def _group_of(ctx: Context, ev: Events, within: str) -> np.ndarray:
    """The ``within`` span enclosing each event: a span's ancestors; a mark's own span or its ancestors."""
    out = np.full(len(ev.row), -1, np.int64)
    for is_mark in (True, False):
        sel = np.flatnonzero(ev.mark == is_mark)
        if len(sel):
            out[sel] = ctx.ancestors(ev.anchor[sel], within, include_self=is_mark)
    return out


def _extreme(groups: np.ndarray, times: np.ndarray, earliest: bool) -> dict[int, int]:
    """Map group -> index of its earliest (or latest) event."""
    valid = np.flatnonzero(groups >= 0)
    if not len(valid):
        return {}
    key = times[valid] if earliest else -times[valid]
    order = valid[np.lexsort((key, groups[valid]))]
    uniq, first = np.unique(groups[order], return_index=True)
    return dict(zip(uniq.tolist(), order[first].tolist(), strict=True))


def _pair_in_lanes(starts: Events, ends: Events) -> tuple[np.ndarray, np.ndarray]:
    """Pair each end event with the latest start event before it in the same lane."""
    si_all, ei_all = [], []
    for lane in np.intersect1d(np.unique(starts.lane), np.unique(ends.lane)):
        s = np.flatnonzero(starts.lane == lane)
        e = np.flatnonzero(ends.lane == lane)
        s = s[np.argsort(starts.time_ns[s], kind="stable")]
        e = e[np.argsort(ends.time_ns[e], kind="stable")]
        pos = np.searchsorted(starts.time_ns[s], ends.time_ns[e], side="right") - 1
        ok = pos >= 0
        e, pos = e[ok], pos[ok]
        # One window per start: the first end after it.
        _, first = np.unique(pos, return_index=True)
        si_all.append(s[pos[first]])
        ei_all.append(e[first])
    if not si_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(si_all).astype(np.int64), np.concatenate(ei_all).astype(np.int64)


def _assemble(ctx: Context, window: Window, start: np.ndarray, end: np.ndarray, lane: np.ndarray, from_row: np.ndarray,
              from_mark: np.ndarray, to_row: np.ndarray, to_mark: np.ndarray, group: np.ndarray) -> WindowSet:
    lanes = ctx.trace.lanes
    lane = lane.astype(np.int64)
    return WindowSet(
        window=window, start_ns=start.astype(np.int64), end_ns=end.astype(np.int64), lane=lane,
        file=lanes.file[lane].astype(np.int64), host=lanes.host[lane].astype(np.int64),
        from_row=from_row.astype(np.int64), from_mark=from_mark.astype(bool), to_row=to_row.astype(np.int64),
        to_mark=to_mark.astype(bool), group=group.astype(np.int64), lock_mask=np.zeros(len(start), np.int64),
    )


def _lock_masks(ctx: Context, window: Window, wset: WindowSet) -> np.ndarray:
    """Locks held during every critical step of each window instance."""
    n = len(wset)
    if not n:
        return np.zeros(0, np.int64)
    spans = ctx.trace.spans
    if window.critical:
        crit = _concat([ctx.match(m) for m in window.critical])
        crit_rows = crit.row[~crit.mark]
        if window.span is not None:
            owner_rows = wset.group
            owners = ctx.ancestors(crit_rows, window.span.name, include_self=True)
        else:
            owner_rows = wset.group
            owners = ctx.ancestors(crit_rows, window.within, include_self=False) if window.within else np.full(len(crit_rows), -1)
        owner_idx = _positions(owner_rows, owners)
        keep = owner_idx >= 0
        crit_rows, owner_idx = crit_rows[keep], owner_idx[keep]
        # Only critical steps inside the window's time range count.
        inside = (spans.start_ns[crit_rows] >= wset.start_ns[owner_idx]) & (spans.end_ns[crit_rows] <= wset.end_ns[owner_idx])
        crit_rows, owner_idx = crit_rows[inside], owner_idx[inside]
    else:
        parts_rows, parts_owner = [], []
        for rows, marks in ((wset.from_row, wset.from_mark), (wset.to_row, wset.to_mark)):
            sel = np.flatnonzero(~marks & (rows >= 0))
            parts_rows.append(rows[sel])
            parts_owner.append(sel)
        crit_rows = np.concatenate(parts_rows)
        owner_idx = np.concatenate(parts_owner)
    masks = np.full(n, -1, dtype=np.int64)  # all bits: AND identity
    seen = np.zeros(n, dtype=bool)
    if len(crit_rows):
        got = ctx.protection(spans.start_ns[crit_rows], spans.end_ns[crit_rows], spans.lane[crit_rows])
        np.bitwise_and.at(masks, owner_idx, got)
        seen[owner_idx] = True
    masks[~seen] = 0
    return masks


def _positions(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index in ``keys`` (unique where >= 0) of each value, -1 when absent; vectorized."""
    valid = np.flatnonzero(keys >= 0)
    if not len(valid) or not len(values):
        return np.full(len(values), -1, np.int64)
    order = valid[np.argsort(keys[valid], kind="stable")]
    sorted_keys = keys[order]
    pos = np.clip(np.searchsorted(sorted_keys, values), 0, len(order) - 1)
    found = sorted_keys[pos] == values
    return np.where(found & (values >= 0), order[pos], -1).astype(np.int64)


def _key_value(ctx: Context, wset: WindowSet, ref: str, i: int) -> Any:
    trace = ctx.trace
    lane = int(wset.lane[i])
    if ref == "$host":
        return trace.hosts[int(wset.host[i])]
    if ref == "$process":
        return trace.lanes.process[lane]
    if ref == "$pid":
        return int(trace.lanes.pid[lane])
    if ref == "$lane":
        return trace.lanes.label[lane]
    head, _, attr = ref.partition(".")
    if head in ("from", "span"):
        row, mark = int(wset.from_row[i]), bool(wset.from_mark[i])
    elif head == "to":
        row, mark = int(wset.to_row[i]), bool(wset.to_mark[i])
    else:
        row, mark = int(wset.group[i]), False
    return _hashable(ctx.attrs(row, mark).get(attr)) if row >= 0 else None


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _concat(parts: list[Events]) -> Events:
    if not parts:
        empty = np.zeros(0, np.int64)
        return Events(empty, np.zeros(0, bool), empty, empty.astype(np.int32), empty)
    return Events(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("row", "mark", "time_ns", "lane", "anchor")))


def _index(items: list[str], value: str) -> int:
    try:
        return items.index(value)
    except ValueError:
        return -1
