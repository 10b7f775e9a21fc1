"""A canonical, order-free view of a loaded trace, for comparing traces that went through a conversion."""

from __future__ import annotations

from typing import Any

import orjson


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def canonical(trace: Any, *, used_lanes_only: bool = False, mark_spans: bool = True) -> dict[str, Any]:
    """Return processes, lanes, spans and marks of ``trace`` as sorted tuples, free of ids and row order.

    A lane is named by (host, process, pid, lane id); a span by its lane,
    times (an unfinished span by its start only: its end is the trace's end),
    name, category, error and attributes (as sorted JSON); a mark by its lane,
    time, name, category, attributes and (``mark_spans``) the name and start
    of the span it was made in. ``used_lanes_only`` leaves out lanes without
    spans or marks (formats that cannot hold an empty lane).
    """
    lanes, spans, marks = trace.lanes, trace.spans, trace.marks

    def lane(i: int) -> tuple[str, str, int, int]:
        return (trace.hosts[lanes.host[i]], lanes.process[i], int(lanes.pid[i]), int(lanes.lane_id[i]))

    used = set(spans.lane.tolist()) | set(marks.lane.tolist())
    lane_rows = [i for i in range(len(lanes)) if not used_lanes_only or i in used]
    span_attrs = trace.attrs_many(range(len(spans)))
    out_spans = []
    for i in range(len(spans)):
        is_open = bool(spans.open[i])
        error = trace.error(i)
        out_spans.append((
            *lane(int(spans.lane[i])), int(spans.start_ns[i]), None if is_open else int(spans.end_ns[i]),
            trace.names[spans.name[i]], trace.cats[spans.cat[i]], is_open, tuple(error) if error else None,
            _json(span_attrs[i]),
        ))
    out_marks = []
    for m in range(len(marks)):
        span = int(marks.span[m])
        where = (trace.names[spans.name[span]], int(spans.start_ns[span])) if span >= 0 else None
        out_marks.append((
            *lane(int(marks.lane[m])), int(marks.ts_ns[m]), trace.names[marks.name[m]], trace.cats[marks.cat[m]],
            _json(trace.mark_attrs(m)), where if mark_spans else None,
        ))
    return {
        "processes": sorted({(f.host, f.process, f.pid) for f in trace.files}),
        "lanes": sorted((*lane(i), lanes.name[i], lanes.kind[i]) for i in lane_rows),
        "spans": sorted(out_spans, key=repr),
        "marks": sorted(out_marks, key=repr),
    }


def diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Return a short description of how two canonical views differ ('' when equal)."""
    lines = []
    for key in a:
        left, right = a[key], b[key]
        if left != right:
            only_left = [x for x in left if x not in right][:3]
            only_right = [x for x in right if x not in left][:3]
            lines.append(f"{key}: {len(left)} vs {len(right)}; only before: {only_left}; only after: {only_right}")
    return "\n".join(lines)
