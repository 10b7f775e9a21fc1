"""Plain-text descriptions of spans, marks and hazards, for tooltips and the details panel (no Qt here).

Every string that comes from a trace goes through ``one_line`` or ``clip``:
control characters are replaced and lengths bounded. The text is plain;
widgets show it as plain text, tooltips escape it.
"""

from __future__ import annotations

from typing import Any

from .data import ViewerData
from .layout import lane_name
from .plain import clip, format_duration, format_offset, format_value, one_line

MAX_ATTRS = 200


def span_summary(data: ViewerData, row: int) -> str:
    """Return a few lines about span ``row``: name, category, duration, start, lane."""
    trace = data.trace
    spans = trace.spans
    t0 = trace.t0_ns
    lines = [one_line(trace.names[int(spans.name[row])]),
             f"category: {one_line(trace.cats[int(spans.cat[row])])}",
             f"duration: {format_duration(int(spans.end_ns[row] - spans.start_ns[row]))}"
             + ("  (unfinished: still running when the trace ends)" if spans.open[row] else ""),
             f"start: {format_offset(int(spans.start_ns[row]) - t0)}",
             f"lane: {lane_name(trace, int(spans.lane[row]))}"]
    error = trace.error(row)
    if error is not None:
        lines.append(f"error: {one_line(error[0])}: {one_line(error[1])}")
    return "\n".join(lines)


def span_details(data: ViewerData, row: int) -> str:
    """Return everything about span ``row``: the summary, ids, depth and every attribute."""
    trace = data.trace
    spans = trace.spans
    t0 = trace.t0_ns
    lanes = trace.lanes
    lane = int(spans.lane[row])
    lines = [span_summary(data, row),
             f"end: {format_offset(int(spans.end_ns[row]) - t0)}",
             f"thread: {one_line(lanes.kind[lane])} {one_line(lanes.name[lane])!r}, "
             f"{one_line(lanes.process[lane])} [{int(lanes.pid[lane])}]",
             f"depth: {int(spans.depth[row])}" + (f", sub-row {int(spans.sub_row[row])}" if spans.sub_row[row] else ""),
             f"span id: {int(spans.span_id[row]):#x}"]
    parent = int(spans.parent[row])
    if parent >= 0:
        lines.append(f"parent: {one_line(trace.names[int(spans.name[parent])])}")
    lines.append("")
    lines.append(attributes_text(trace.attrs(row)))
    return "\n".join(lines)


def mark_details(data: ViewerData, row: int) -> str:
    """Return everything about mark ``row``."""
    trace = data.trace
    marks = trace.marks
    lines = [f"mark: {one_line(trace.names[int(marks.name[row])])}",
             f"category: {one_line(trace.cats[int(marks.cat[row])])}",
             f"time: {format_offset(int(marks.ts_ns[row]) - trace.t0_ns)}",
             f"lane: {lane_name(trace, int(marks.lane[row]))}", "",
             attributes_text(trace.mark_attrs(row))]
    return "\n".join(lines)


def attributes_text(attrs: dict[str, Any]) -> str:
    """Return attributes one per line (``key: value``), bounded in count and length."""
    if not attrs:
        return "attributes: none"
    lines = ["attributes:"]
    for k, (key, value) in enumerate(attrs.items()):
        if k >= MAX_ATTRS:
            lines.append(f"  … {len(attrs) - MAX_ATTRS} more")
            break
        lines.append(f"  {one_line(key, 80)}: {clip(format_value(value))}")
    return "\n".join(lines)


def hazard_text(data: ViewerData, i: int) -> str:
    """Return hazard ``i`` in full: class, title, rule, times, hosts, spans and explanation."""
    h = data.hazards.describe(i)
    if not h:
        return ""
    lines = [f"hazard {i + 1}: {h['class'].upper()}: {one_line(h['title'])}",
             f"rule: {one_line(h['rule'])}",
             f"time: {h['start']} .. {h['end']} ({format_duration(h['end_ns'] - h['start_ns'])}), host {one_line(h['host'])}",
             ""]
    lines.append(clip(str(h["explanation"]), 4000))
    if h["spans"]:
        lines.append("")
        lines.append("spans:")
        lines += [f"  {one_line(s['name'])} ({s['start']} .. {s['end']})" for s in h["spans"]]
    return "\n".join(lines)
