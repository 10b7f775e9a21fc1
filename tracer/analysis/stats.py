"""Summary statistics of a trace: durations per span name, how busy each lane is, lock wait and hold times.

Everything is computed on the numpy columns (sorting and segment reductions,
no loop over spans), so a million spans take a fraction of a second. All
times are integer ns; percentiles interpolate linearly between the two
nearest durations, as ``numpy.percentile`` does by default. Unfinished spans
(still open when the trace ends) are counted apart and left out of the
durations, since their length is only a lower bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .model import LOCK_HELD_KIND, LOCK_WAIT_KIND, Trace, process_label


def _groups(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sort ``values`` by (key, value); return (unique keys, group starts, group sizes, sorted values)."""
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    if len(keys) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, values
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    return keys[starts], starts, sizes, values


def _percentile(values: np.ndarray, starts: np.ndarray, sizes: np.ndarray, q: float) -> np.ndarray:
    """Return the ``q`` quantile (0..1) of each sorted group, linearly interpolated."""
    if len(starts) == 0:
        return np.zeros(0, np.float64)
    position = q * (sizes - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, sizes - 1)
    below = values[starts + low].astype(np.float64)
    above = values[starts + high].astype(np.float64)
    return np.asarray(below + (above - below) * (position - low))


def span_stats(trace: Trace) -> list[dict[str, Any]]:
    """Return per span name: count, unfinished, total, mean, p50, p99 and max duration (ns), by total descending."""
    spans = trace.spans
    done = ~spans.open
    keys, starts, sizes, durations = _groups(spans.name[done].astype(np.int64), spans.dur_ns[done])
    totals = np.add.reduceat(durations, starts) if len(starts) else np.zeros(0, np.int64)
    maxima = durations[starts + sizes - 1] if len(starts) else np.zeros(0, np.int64)
    p50 = _percentile(durations, starts, sizes, 0.50)
    p99 = _percentile(durations, starts, sizes, 0.99)
    unfinished = np.bincount(spans.name[spans.open], minlength=len(trace.names))
    rows: dict[int, dict[str, Any]] = {}
    for k, code in enumerate(keys.tolist()):
        rows[code] = {
            "name": trace.names[code], "count": int(sizes[k]), "unfinished": int(unfinished[code]),
            "total_ns": int(totals[k]), "mean_ns": float(totals[k]) / float(sizes[k]),
            "p50_ns": float(p50[k]), "p99_ns": float(p99[k]), "max_ns": int(maxima[k]),
        }
    for code in np.flatnonzero(unfinished).tolist():
        if code not in rows:
            rows[code] = {"name": trace.names[code], "count": 0, "unfinished": int(unfinished[code]), "total_ns": 0,
                          "mean_ns": None, "p50_ns": None, "p99_ns": None, "max_ns": None}
    return sorted(rows.values(), key=lambda r: (-r["total_ns"], r["name"]))


def _union_ns(start: np.ndarray, end: np.ndarray) -> int:
    """Return the length of the union of intervals sorted by start."""
    if len(start) == 0:
        return 0
    reach = np.maximum.accumulate(end)
    before = np.r_[start[0], reach[:-1]]  # how far the intervals before each one reached
    return int(np.maximum(0, end - np.maximum(start, before)).sum())


def lane_stats(trace: Trace) -> list[dict[str, Any]]:
    """Return per lane: spans, busy ns (union of its top-level spans), active ns (first to last event) and busy fraction.

    A lane's active range runs from its first span start or mark to its
    last span end or mark; the busy fraction is None when that range is empty.
    """
    spans, lanes, marks = trace.spans, trace.lanes, trace.marks
    n = len(lanes)
    count = np.bincount(spans.lane, minlength=n)
    first = np.full(n, np.iinfo(np.int64).max, np.int64)
    last = np.full(n, np.iinfo(np.int64).min, np.int64)
    for lane, begin, finish in ((spans.lane, spans.start_ns, spans.end_ns), (marks.lane, marks.ts_ns, marks.ts_ns)):
        np.minimum.at(first, lane, begin)
        np.maximum.at(last, lane, finish)
    top = np.flatnonzero(spans.depth == 0)
    order = top[np.argsort(spans.lane[top], kind="stable")]  # by lane, then start (rows are in start order)
    lane_of = spans.lane[order]
    cuts = np.flatnonzero(lane_of[1:] != lane_of[:-1]) + 1
    busy = np.zeros(n, np.int64)
    for rows in np.split(order, cuts) if len(order) else []:
        busy[spans.lane[rows[0]]] = _union_ns(spans.start_ns[rows], spans.end_ns[rows])
    out = []
    for i in range(n):
        active = int(last[i] - first[i]) if last[i] >= first[i] else 0
        out.append({
            "host": trace.hosts[lanes.host[i]], "process": process_label(lanes.process[i], int(lanes.pid[i])),
            "lane": int(lanes.lane_id[i]), "name": lanes.label[i], "kind": lanes.kind[i], "spans": int(count[i]),
            "busy_ns": int(busy[i]), "active_ns": active, "busy_fraction": float(busy[i]) / active if active else None,
        })
    return out


def lock_stats(trace: Trace) -> list[dict[str, Any]]:
    """Return per lock name: waits (count, total, max, failed) and holds (count, total, max), in ns."""
    locks = trace.locks
    spans = trace.spans
    n = len(locks.lock_names)
    dur = spans.dur_ns[locks.span]
    out = {name: {"lock": name, "waits": 0, "wait_ns": 0, "max_wait_ns": 0, "failed": 0,
                  "holds": 0, "held_ns": 0, "max_held_ns": 0} for name in locks.lock_names}
    for kind, prefix, held in ((LOCK_WAIT_KIND, "wait", False), (LOCK_HELD_KIND, "held", True)):
        chosen = locks.kind == kind
        keys, starts, sizes, values = _groups(locks.lock[chosen].astype(np.int64), dur[chosen])
        if not len(keys):
            continue
        totals = np.add.reduceat(values, starts)
        maxima = values[starts + sizes - 1]
        for k, code in enumerate(keys.tolist()):
            row = out[locks.lock_names[code]]
            row["holds" if held else "waits"] = int(sizes[k])
            row[f"{prefix}_ns"] = int(totals[k])
            row[f"max_{prefix}_ns"] = int(maxima[k])
    failed = np.bincount(locks.lock[(locks.kind == LOCK_WAIT_KIND) & (locks.acquired == 0)], minlength=n)
    for code, value in enumerate(failed.tolist()):
        out[locks.lock_names[code]]["failed"] = value
    return sorted(out.values(), key=lambda r: (-r["wait_ns"], -r["held_ns"], r["lock"]))


def trace_stats(trace: Trace) -> dict[str, Any]:
    """Return ``{"spans": span_stats, "lanes": lane_stats, "locks": lock_stats}`` plus totals."""
    return {
        "files": len(trace.files), "hosts": list(trace.hosts), "span_count": len(trace.spans),
        "mark_count": len(trace.marks), "lane_count": len(trace.lanes), "duration_ns": int(trace.end_ns - trace.t0_ns),
        "spans": span_stats(trace), "lanes": lane_stats(trace), "locks": lock_stats(trace),
    }
