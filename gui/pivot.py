"""Pivot: one lane per value of an attribute, to follow one instance (migration, PCI device) across hosts.

``attribute_keys`` lists the attribute keys a trace's spans carry (a key and
its plural, ``instance_uuid`` and ``instance_uuids``, make one choice).
``PivotValues`` reads the chosen keys of every span and mark once: a scalar
value puts the span in that value's lane, a list puts it in the lane of each
of its scalar items. ``pivot_trace`` then builds a ``Trace`` whose lanes are
the values (in order of first appearance) and whose spans are those pairs,
laid out again by the analysis core's ``nest`` (a span nests under its
parent when the parent is in the same value's lane; spans from different
hosts that overlap get sub-rows). Times keep the original trace's origin, so
the view keeps its range when the pivot is switched on or off. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import orjson

from tracer.analysis import LaneTable, MarkTable, SpanTable, Trace
from tracer.analysis.layout import nest

KEY_SAMPLE_ROWS = 50_000  # rows decoded to list the keys present (whole batches, spread over the trace)


@dataclass(frozen=True)
class PivotKey:
    """A pivot choice: the attribute keys read (a key and its plural), how it is named, and how common it is."""

    keys: tuple[str, ...]
    rows: int  # spans and marks with a value of one of the keys, among the rows looked at
    sampled: bool  # whether only a sample of rows was looked at

    @property
    def label(self) -> str:
        return " / ".join(self.keys)


def attribute_keys(trace: Trace, max_rows: int = KEY_SAMPLE_ROWS) -> list[PivotKey]:
    """Return the keys whose values can name a lane (scalars, or lists of scalars), most common first.

    Whole attribute batches are decoded, spread evenly over the trace, until
    ``max_rows`` rows are read; a trace with fewer rows is read whole.
    """
    store = trace.store
    _blob, _start, _stop, first, rows = store.batch_table()
    if len(first) == 0:
        return []
    total = int(rows.sum())
    sampled = total > max_rows
    if sampled:
        picks = np.unique(np.linspace(0, len(first) - 1, max(1, int(len(first) * max_rows / total))).astype(np.int64))
    else:
        picks = np.arange(len(first))
    refs = np.concatenate([np.arange(first[b], first[b] + rows[b]) for b in picks.tolist()])
    rows_of: dict[str, set[int]] = {}
    for row, attrs in enumerate(store.many(refs)):
        for key, value in attrs.items():
            if _scalar(value) or (type(value) is list and any(_scalar(v) for v in value)):
                rows_of.setdefault(key, set()).add(row)
    choices: list[PivotKey] = []
    taken: set[str] = set()
    for key in sorted(rows_of, key=lambda k: -len(rows_of[k])):
        if key in taken:
            continue
        partner = key[:-1] if key.endswith("s") and key[:-1] in rows_of else key + "s" if key + "s" in rows_of else None
        keys = (key,) if partner is None else tuple(sorted((key, partner), key=len))
        taken.update(keys)
        choices.append(PivotKey(keys, len(set().union(*(rows_of[k] for k in keys))), sampled))
    choices.sort(key=lambda c: -c.rows)
    return choices


def _scalar(value: object) -> bool:
    return type(value) in (str, int, float, bool)


def _label(value: object) -> str:
    return value if type(value) is str else orjson.dumps(value).decode()  # type: ignore[return-value]


@dataclass
class PivotValues:
    """Every (row, value) pair of one pivot choice, for spans and for marks, sorted by row then value."""

    keys: tuple[str, ...]
    labels: list[str]  # value index -> its text
    span_row: np.ndarray  # int64
    span_value: np.ndarray  # int64
    mark_row: np.ndarray
    mark_value: np.ndarray

    @classmethod
    def read(cls, trace: Trace, keys: tuple[str, ...]) -> PivotValues:
        """Read ``keys`` of every span and mark (only attribute batches mentioning a key are decoded)."""
        index: dict[str, int] = {}
        pairs = []
        for refs in (trace.spans.attrs_ref, trace.marks.attrs_ref):
            rows: list[int] = []
            values: list[int] = []
            for key in keys:
                found = trace.store.values(refs, key)
                for row in [i for i, v in enumerate(found) if v is not None]:
                    value = found[row]
                    for item in value if type(value) is list else (value,):
                        if _scalar(item):
                            rows.append(row)
                            values.append(index.setdefault(_label(item), len(index)))
            row_a, value_a = np.array(rows, np.int64), np.array(values, np.int64)
            packed = np.unique(row_a * max(len(index), 1) + value_a)  # sorted, each pair once
            pairs.append((packed // max(len(index), 1), packed % max(len(index), 1)))
        (span_row, span_value), (mark_row, mark_value) = pairs
        return cls(keys, list(index), span_row, span_value, mark_row, mark_value)

    def __len__(self) -> int:
        return len(self.labels)


class PivotTrace(Trace):
    """A trace whose lanes are the values of an attribute: one group, no process level."""

    title: str = ""
    lane_spans: np.ndarray  # spans per lane
    lane_hosts: list[list[str]]

    def lane_groups(self) -> list[tuple[str, list[tuple[str, list[int]]]]]:
        """Return the one group of value lanes, without a process level."""
        return [(self.title, [("", list(range(len(self.lanes))))])] if len(self.lanes) else []


def pivot_trace(base: Trace, values: PivotValues, keep_span: np.ndarray | None = None,
                keep_mark: np.ndarray | None = None) -> tuple[PivotTrace, np.ndarray, np.ndarray]:
    """Return ``(trace, base span rows, base mark rows)``: the pivot of ``base`` by ``values``.

    Only spans and marks with ``keep_*`` true (all when None) take part; a
    value left without any gets no lane. Each span row of the new trace
    comes from the base row given at its index (a span whose list names two
    values is in both lanes).
    """
    s_row, s_val = values.span_row, values.span_value
    m_row, m_val = values.mark_row, values.mark_value
    if keep_span is not None:
        ok = keep_span[s_row]
        s_row, s_val = s_row[ok], s_val[ok]
    if keep_mark is not None:
        ok = keep_mark[m_row]
        m_row, m_val = m_row[ok], m_val[ok]
    # Lanes: the values present, in order of first appearance (spans first, then marks).
    present = np.concatenate((s_val, m_val))
    first_seen = np.concatenate((base.spans.start_ns[s_row], base.marks.ts_ns[m_row]))
    used, first_at = np.unique(present, return_index=True)
    order = used[np.argsort(first_seen[first_at], kind="stable")]
    lane_of = np.full(len(values), -1, np.int64)
    lane_of[order] = np.arange(len(order))
    s_lane, m_lane = lane_of[s_val], lane_of[m_val]
    n_lanes = len(order)
    spans = base.spans
    # The parent link survives when the parent is in the same value's lane.
    width = max(len(values), 1)
    pair_key = s_row * width + s_val  # ascending: pairs are sorted by (row, value)
    parent_key = spans.parent[s_row] * width + s_val
    found = np.minimum(np.searchsorted(pair_key, parent_key), max(len(pair_key) - 1, 0))
    parent = np.where((spans.parent[s_row] >= 0) & (len(pair_key) > 0) & (pair_key[found] == parent_key)
                      if len(pair_key) else np.zeros(0, bool), found, -1).astype(np.int64)
    start, end = spans.start_ns[s_row], spans.end_ns[s_row]
    depth, sub_row, _ = nest(start, end, s_lane.astype(np.int32), parent)
    columns = {f.name: getattr(spans, f.name)[s_row] for f in fields(spans)}
    columns.update(lane=s_lane.astype(np.int32), parent=parent, depth=depth, sub_row=sub_row)
    new_spans = SpanTable(**columns)
    mark_cols = {f.name: getattr(base.marks, f.name)[m_row] for f in fields(base.marks)}
    mark_cols.update(lane=m_lane.astype(np.int32), span=np.full(len(m_row), -1, np.int64))
    new_marks = MarkTable(**mark_cols)
    labels = [values.labels[v] for v in order.tolist()]
    hosts_of = _hosts_per_lane(base, s_row, s_lane, m_row, m_lane, n_lanes)
    counts = np.bincount(s_lane, minlength=n_lanes)
    kinds = [f"{int(c):,} spans on {', '.join(h) or 'no host'}" for c, h in zip(counts.tolist(), hosts_of, strict=True)]
    lanes = LaneTable(
        lane_id=np.arange(1, n_lanes + 1, dtype=np.int64), file=np.zeros(n_lanes, np.int32),
        host=np.zeros(n_lanes, np.int32), pid=np.zeros(n_lanes, np.int64), native_id=np.full(n_lanes, -1, np.int64),
        spawned_by=np.full(n_lanes, -1, np.int64), process=[""] * n_lanes, kind=kinds, name=labels, label=labels)
    errors = errors_of(base, s_row)
    trace = PivotTrace(spans=new_spans, marks=new_marks, lanes=lanes, files=base.files, names=base.names,
                       cats=base.cats, hosts=[values.keys[0]], store=base.store, errors=errors,
                       host_offsets_ns=base.host_offsets_ns)
    trace.title = f"by {' / '.join(values.keys)} ({n_lanes} value{'' if n_lanes == 1 else 's'})"
    trace.t0_ns, trace.end_ns = base.t0_ns, base.end_ns  # the same time axis as the base trace
    trace.lane_spans = counts
    trace.lane_hosts = hosts_of
    return trace, s_row, m_row


def _hosts_per_lane(base: Trace, s_row: np.ndarray, s_lane: np.ndarray, m_row: np.ndarray, m_lane: np.ndarray,
                    n_lanes: int) -> list[list[str]]:
    """Return, per value lane, the hosts its spans and marks come from."""
    n_hosts = max(len(base.hosts), 1)
    host = np.concatenate((base.lanes.host[base.spans.lane[s_row]], base.lanes.host[base.marks.lane[m_row]]))
    lane = np.concatenate((s_lane, m_lane))
    pairs = np.unique(lane * n_hosts + host)
    out: list[list[str]] = [[] for _ in range(n_lanes)]
    for pair in pairs.tolist():
        out[pair // n_hosts].append(base.hosts[pair % n_hosts])
    return out


def errors_of(base: Trace, rows: np.ndarray) -> dict[int, tuple[str, str]]:
    """Return the errors of the new rows (new row -> base ``rows[new row]``'s error)."""
    out = {}
    for k in np.flatnonzero(base.spans.error[rows]).tolist():
        error = base.error(int(rows[k]))
        if error is not None:
            out[k] = error
    return out
