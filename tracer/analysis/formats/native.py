"""Write a loaded ``Trace`` back as racelane native JSON Lines (docs/FORMAT.md).

One ``header`` per process (``Trace.files``), as recorded, then its lanes,
spans (with their recorded ids and parents), unfinished spans, marks and its
``end`` record, so merging several inputs, or converting imported ones,
gives one file that loads into the same trace. Times are written on each
process's own clock again (wall time minus its header's anchor); host
offsets applied to the trace stay applied. When that would make a time
negative, the header's ``clock.monotonic_ns`` is moved instead.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from tracer.record.format import END, LANE, MARKS, OPEN, ROWS_PER_LINE, SPANS

from ._native import write_atomically

if TYPE_CHECKING:
    from ..model import Trace


def export_racelane(trace: Trace, out_path: str | os.PathLike[str]) -> int:
    """Write ``trace`` as one native racelane file; return the spans written.

    Written under a temporary name beside ``out_path`` and renamed when complete.
    """
    return write_atomically(out_path, ".jsonl.tmp", lambda out: _write(trace, out))


def _write(trace: Trace, out: Any) -> int:
    spans, lanes, marks = trace.spans, trace.lanes, trace.marks
    names, cats = trace.names, trace.cats
    span_id = spans.span_id
    written = 0
    for f, file in enumerate(trace.files):
        span_rows = np.flatnonzero(spans.file == f)
        mark_rows = np.flatnonzero(marks.file == f)
        lane_rows = np.flatnonzero(lanes.file == f)
        offset = file.clock_offset_ns
        times = [a.min() for a in (spans.start_ns[span_rows], marks.ts_ns[mark_rows]) if len(a)]
        shift = max(0, offset - int(min(times))) if times else 0  # keeps native times >= 0
        header = dict(file.header)
        clock = dict(header.get("clock") or {})
        wall = int(clock["wall_ns"]) if type(clock.get("wall_ns")) is int else offset + shift
        clock.update({"wall_ns": wall, "monotonic_ns": wall - offset + shift})
        clock.setdefault("source", file.clock_source if file.clock_source != "none" else "custom")
        header["clock"] = clock
        base = offset - shift  # native = wall - base
        out.write(orjson.dumps(header) + b"\n")
        for k in lane_rows.tolist():
            spawned = int(lanes.spawned_by[k])
            native = int(lanes.native_id[k])
            out.write(orjson.dumps({
                "type": LANE, "lane": int(lanes.lane_id[k]), "kind": lanes.kind[k], "name": lanes.name[k],
                "native_id": native if native >= 0 else None,
                "spawned_by": int(span_id[spawned]) if spawned >= 0 else None,
            }) + b"\n")
        lane_id = lanes.lane_id
        for first in range(0, len(span_rows), ROWS_PER_LINE):
            rows = span_rows[first : first + ROWS_PER_LINE]
            attrs = [a or None for a in trace.attrs_many(rows)]
            parent = spans.parent[rows]
            parent_id = np.where(parent >= 0, span_id[np.maximum(parent, 0)], 0).tolist()
            ids = span_id[rows].tolist()
            lane = lane_id[spans.lane[rows]].tolist()
            start = (spans.start_ns[rows] - base).tolist()
            end = (spans.end_ns[rows] - base).tolist()
            name = [names[i] for i in spans.name[rows].tolist()]
            cat = [cats[i] for i in spans.cat[rows].tolist()]
            is_open = spans.open[rows].tolist()
            done = [k for k in range(len(rows)) if not is_open[k]]
            unfinished = [k for k in range(len(rows)) if is_open[k]]
            if done:
                row_list = []
                for k in done:
                    error = trace.error(int(rows[k])) if spans.error[rows[k]] else None
                    row_list.append([ids[k], parent_id[k], lane[k], start[k], end[k], name[k], cat[k],
                                     list(error) if error else None])
                out.write(orjson.dumps({"type": SPANS, "rows": row_list, "attrs": [attrs[k] for k in done]}) + b"\n")
            if unfinished:
                row_list = [[ids[k], parent_id[k], lane[k], start[k], name[k], cat[k]] for k in unfinished]
                out.write(orjson.dumps({"type": OPEN, "rows": row_list, "attrs": [attrs[k] for k in unfinished]}) + b"\n")
            written += len(rows)
        for first in range(0, len(mark_rows), ROWS_PER_LINE):
            rows = mark_rows[first : first + ROWS_PER_LINE]
            row_list = []
            attrs = []
            for m in rows.tolist():
                span = int(marks.span[m])
                row_list.append([int(lane_id[marks.lane[m]]), int(marks.ts_ns[m]) - base, names[marks.name[m]],
                                 cats[marks.cat[m]], int(span_id[span]) if span >= 0 else 0])
                attrs.append(trace.mark_attrs(m) or None)
            out.write(orjson.dumps({"type": MARKS, "rows": row_list, "attrs": attrs}) + b"\n")
        if file.end_ns is not None:
            end_wall = file.end_ns + trace.host_offsets_ns.get(file.host, 0)
            out.write(orjson.dumps({"type": END, "wall_ns": end_wall, "monotonic_ns": end_wall - base}) + b"\n")
    return written
