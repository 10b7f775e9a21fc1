"""The columnar trace model: spans, marks, lanes and lock events as numpy columns.

Every table is a set of parallel arrays; a row is an index. Times are int64
nanoseconds on one wall-clock axis (each file's monotonic times mapped with
its header's clock anchor, plus the host's offset); ``Trace.t0_ns`` is the
earliest time, for drawing relative to it. Indices into other tables are -1
when there is none. Strings are interned: ``name`` and ``cat`` hold indices
into ``Trace.names`` and ``Trace.cats`` (both sorted). Attributes stay serialized, as the
recorder wrote them, until ``Trace.attrs`` asks for them (``attrs_ref`` is a
span's or mark's place in the ``AttrStore``).

A "file" of the model (``Trace.files``, the ``file`` columns) is one recorded
process: a whole file, or one segment of a file made by concatenating traces.

A ``Trace`` is not modified after it is built: ``with_host_offsets`` returns
a new one, so a viewer can keep drawing the old one meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property, partial
from typing import Any

import numpy as np

from tracer.record.format import LOCK_CATEGORY, LOCK_HELD, LOCK_WAIT

from .attrs import AttrStore
from .layout import stable_argsort, start_order

_I64_MAX = (1 << 63) - 1

LOCK_WAIT_KIND = 0
LOCK_HELD_KIND = 1
LOCK_OTHER_KIND = -1


def _take(table: Any, rows: np.ndarray) -> Any:
    return type(table)(**{f.name: getattr(table, f.name)[rows] for f in fields(table)})


@dataclass(frozen=True, eq=False)
class SpanTable:
    """Spans sorted by ``start_ns`` (then longer first, so parents precede children)."""

    start_ns: np.ndarray  # int64
    end_ns: np.ndarray  # int64; the trace's end for unfinished spans
    open: np.ndarray  # bool: unfinished (an ``open`` row and no ``spans`` row)
    name: np.ndarray  # int32 into Trace.names
    cat: np.ndarray  # int32 into Trace.cats
    lane: np.ndarray  # int32 into Trace.lanes
    depth: np.ndarray  # int32 nesting depth within the lane's sub-row
    sub_row: np.ndarray  # int32: overlapping spans that do not nest get their own band
    parent: np.ndarray  # int64 row of the parent span (same lane, or the spawner's), -1 none
    span_id: np.ndarray  # uint64 as recorded (unique within a file)
    file: np.ndarray  # int32 into Trace.files
    error: np.ndarray  # bool: an exception left the span (Trace.error(i) says which)
    attrs_ref: np.ndarray  # int32 into the attribute store, -1 none (read with Trace.attrs)

    def __len__(self) -> int:
        return len(self.start_ns)

    @property
    def dur_ns(self) -> np.ndarray:
        """Return the durations (int64 ns)."""
        return np.asarray(self.end_ns - self.start_ns)


@dataclass(frozen=True, eq=False)
class MarkTable:
    """Instant events sorted by ``ts_ns``."""

    ts_ns: np.ndarray  # int64
    lane: np.ndarray  # int32
    name: np.ndarray  # int32 into Trace.names
    cat: np.ndarray  # int32 into Trace.cats
    span: np.ndarray  # int64 row of the innermost open span when the mark was made, -1 none
    file: np.ndarray  # int32
    attrs_ref: np.ndarray  # int32 into the attribute store, -1 none (read with Trace.mark_attrs)

    def __len__(self) -> int:
        return len(self.ts_ns)


@dataclass(frozen=True, eq=False)
class LaneTable:
    """Lanes ordered host > process > lane id; strings kept as lists (lanes are few)."""

    lane_id: np.ndarray  # int64 id within its process
    file: np.ndarray  # int32 into Trace.files (one entry per process)
    host: np.ndarray  # int32 into Trace.hosts
    pid: np.ndarray  # int64
    native_id: np.ndarray  # int64 OS thread id, -1 unknown
    spawned_by: np.ndarray  # int64 span row that started this lane, -1 unknown
    process: list[str]
    kind: list[str]  # thread, greenthread or task
    name: list[str]
    label: list[str]  # readable and unique within the process ("greenthread #7")

    def __len__(self) -> int:
        return len(self.lane_id)


@dataclass(frozen=True, eq=False)
class LockTable:
    """Lock waits and holds: a view of the spans of category ``lock``.

    The lock is named by the span name (``lock.wait <name>``), or by its
    ``lock`` attribute when the name has none. ``acquired`` is the attribute
    of the waits (holds: -1); it is read from the waits' attributes on first
    use, so views that need only names and kinds decode nothing.
    """

    span: np.ndarray  # int64 span rows, in start order
    kind: np.ndarray  # int8: LOCK_WAIT_KIND, LOCK_HELD_KIND or LOCK_OTHER_KIND
    lock: np.ndarray  # int32 into ``lock_names``
    lock_names: list[str]
    read_acquired: Callable[[], np.ndarray] = field(repr=False, default=lambda: np.zeros(0, np.int8))

    def __len__(self) -> int:
        return len(self.span)

    @cached_property
    def acquired(self) -> np.ndarray:
        """Return int8 per row: 1, 0 (failed or timed out), -1 unknown (or not a wait)."""
        return self.read_acquired()


@dataclass(frozen=True)
class TraceFile:
    """One recorded process: a file, or one segment of a file of concatenated traces."""

    path: str
    segment: int  # which process of the file, from 0 (files are normally one process)
    first_line: int  # the line of its header
    host: str
    pid: int
    process: str
    version: int
    clock_offset_ns: int  # wall - monotonic from the header's clock anchor
    clock_source: str  # monotonic, custom, or none
    end_ns: int | None  # wall time of the ``end`` record (without host offset), None if absent
    header: dict[str, Any]


class Trace:
    """Spans, marks, lanes and lock events of every file, on one time axis."""

    def __init__(
        self,
        *,
        spans: SpanTable,
        marks: MarkTable,
        lanes: LaneTable,
        files: list[TraceFile],
        names: list[str],
        cats: list[str],
        hosts: list[str],
        store: AttrStore,
        errors: dict[int, tuple[str, str]],
        host_offsets_ns: dict[str, int] | None = None,
        bounds_ns: tuple[int, int] | None = None,
    ) -> None:
        self.spans = spans
        self.marks = marks
        self.lanes = lanes
        self.files = files
        self.names = names
        self.cats = cats
        self.hosts = hosts
        self.store = store
        self._errors = errors
        self.host_offsets_ns = dict(host_offsets_ns or {})
        if bounds_ns is not None:  # (t0, end) known to the builder: a follower's trace grows, no scan per update
            self.t0_ns, self.end_ns = bounds_ns
        else:
            times = [a for a in (spans.start_ns, marks.ts_ns) if len(a)]
            self.t0_ns = int(min(a.min() for a in times)) if times else 0
            self.end_ns = trace_end(spans, marks, self._file_ends())

    def __repr__(self) -> str:
        return f"<Trace {len(self.spans)} spans, {len(self.marks)} marks, {len(self.lanes)} lanes, {len(self.files)} files>"

    # --- lazily decoded values -----------------------------------------------
    def attrs(self, i: int) -> dict[str, Any]:
        """Return the attributes of span row ``i`` (a fresh dict; ``{}`` when none).

        The first call for a span decodes the attributes of its batch (the
        line it was written in); a few batches stay decoded. Attributes that
        cannot be read are ``{}``, and reported once in the load's report.
        Safe to call from several threads.
        """
        return self.store.get(int(self.spans.attrs_ref[i]))

    def attrs_many(self, rows: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """Return the attributes of many span rows (fresh dicts), decoding each batch once."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.store.many(self.spans.attrs_ref[rows])

    def mark_attrs(self, i: int) -> dict[str, Any]:
        """Return the attributes of mark row ``i``."""
        return self.store.get(int(self.marks.attrs_ref[i]))

    def error(self, i: int) -> tuple[str, str] | None:
        """Return ``(type, message)`` of the exception that left span row ``i``, if any."""
        return self._errors.get(int(i))

    def span_name(self, i: int) -> str:
        """Return the name of span row ``i``."""
        return str(self.names[self.spans.name[i]])

    # --- derived views ---------------------------------------------------------
    @cached_property
    def locks(self) -> LockTable:
        """Return the lock view (computed on first use, then kept).

        Lock names come from span names; attributes are decoded only for
        the waits (``acquired``, when ``LockTable.acquired`` is first read) and
        for lock spans whose name does not say the lock (``lock``), only in
        batches that mention the key.
        """
        lock_cat = self.cats.index(LOCK_CATEGORY) if LOCK_CATEGORY in self.cats else -1
        rows = np.flatnonzero(self.spans.cat == lock_cat).astype(np.int64)
        codes, inverse = np.unique(self.spans.name[rows], return_inverse=True)
        kinds = np.zeros(len(codes), np.int8)
        named: list[str] = []
        for k, code in enumerate(codes.tolist()):
            kind, _, lock = self.names[code].partition(" ")
            kinds[k] = {LOCK_WAIT: LOCK_WAIT_KIND, LOCK_HELD: LOCK_HELD_KIND}.get(kind, LOCK_OTHER_KIND)
            named.append(lock if kinds[k] != LOCK_OTHER_KIND else self.names[code])
        kind = kinds[inverse]
        refs = self.spans.attrs_ref[rows]
        lock_of = [named[k] for k in inverse.tolist()]
        unnamed = np.flatnonzero(np.array([not name for name in lock_of], bool))
        for j, value in zip(unnamed.tolist(), self.store.values(refs[unnamed], "lock")):
            if type(value) is str:
                lock_of[j] = value
        lock_names = list(dict.fromkeys(lock_of))
        index = {name: k for k, name in enumerate(lock_names)}
        locks = np.array([index[name] for name in lock_of], np.int32)
        return LockTable(rows, kind, locks, lock_names, partial(_acquired, self.store, kind, refs))

    def lane_groups(self) -> list[tuple[str, list[tuple[str, list[int]]]]]:
        """Return lanes grouped by host, then process: ``[(host, [(process, [lane rows])])]``."""
        groups: list[tuple[str, list[tuple[str, list[int]]]]] = []
        lanes = self.lanes
        previous: tuple[int, int] | None = None
        for i in range(len(lanes)):
            host, file = int(lanes.host[i]), int(lanes.file[i])
            if not groups or groups[-1][0] != self.hosts[host]:
                groups.append((self.hosts[host], []))
            if (host, file) != previous:
                groups[-1][1].append((process_label(lanes.process[i], int(lanes.pid[i])), []))
                previous = (host, file)
            groups[-1][1][-1][1].append(i)
        return groups

    # --- clock offsets ---------------------------------------------------------
    def with_host_offsets(self, offsets_ns: Mapping[str, int]) -> Trace:
        """Return a new trace with the clock of each named host moved by its offset.

        Offsets are absolute: ``{"host2": 1_500_000}`` puts host2's spans and
        marks 1.5 ms later than its files' clock anchors say, whatever offset
        was applied before; hosts not named keep their current offset. This
        trace is unchanged.

        Raises:
            ValueError: an unknown host, an offset that is not an integer, or
                one that would move times out of the int64 range.
        """
        unknown = sorted(set(offsets_ns) - set(self.hosts))
        if unknown:
            raise ValueError(f"unknown host {unknown[0]!r}; this trace has hosts {', '.join(self.hosts)}")
        wanted = dict(self.host_offsets_ns)
        for host, offset in offsets_ns.items():
            if not isinstance(offset, (int, np.integer)) or isinstance(offset, bool):
                raise ValueError(f"offset of host {host!r} must be an integer of ns, got {offset!r}")
            wanted[host] = int(offset)
        delta = [wanted.get(h, 0) - self.host_offsets_ns.get(h, 0) for h in self.hosts]
        for times in (self.spans.start_ns, self.spans.end_ns, self.marks.ts_ns):
            if len(times) and not (int(times.min()) + min(delta) >= -_I64_MAX and int(times.max()) + max(delta) <= _I64_MAX):
                raise ValueError(f"host offsets {offsets_ns} would move times out of the int64 range")
        delta_by_host = np.array(delta, np.int64)
        spans, marks = self.spans, self.marks
        span_shift = delta_by_host[self.lanes.host[spans.lane]] if len(self.lanes) else np.zeros(0, np.int64)
        start = spans.start_ns + span_shift
        end = spans.end_ns + span_shift
        marks = replace(marks, ts_ns=marks.ts_ns + delta_by_host[self.lanes.host[marks.lane]]) if len(marks) else marks
        moved = replace(spans, start_ns=start, end_ns=end)
        file_ends = self._file_ends(wanted)
        end_ns = trace_end(replace(moved, end_ns=np.where(spans.open, start, end)), marks, file_ends)
        moved = replace(moved, end_ns=np.where(spans.open, end_ns, end))
        order = start_order(moved.start_ns, moved.end_ns, later_first=False)
        moved, inverse = reorder_spans(moved, order)
        marks = sort_marks(replace(marks, span=remap(marks.span, inverse)))
        lanes = replace(self.lanes, spawned_by=remap(self.lanes.spawned_by, inverse))
        errors = {int(inverse[i]): e for i, e in self._errors.items()}
        return Trace(
            spans=moved, marks=marks, lanes=lanes, files=self.files, names=self.names, cats=self.cats,
            hosts=self.hosts, store=self.store, errors=errors, host_offsets_ns=wanted,
        )

    def _file_ends(self, offsets: Mapping[str, int] | None = None) -> list[int]:
        offsets = self.host_offsets_ns if offsets is None else offsets
        return [f.end_ns + offsets.get(f.host, 0) for f in self.files if f.end_ns is not None]


def _acquired(store: AttrStore, kind: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Return the ``acquired`` attribute of the lock waits among ``refs``: 1, 0, or -1 (also for the others)."""
    acquired = np.full(len(refs), -1, np.int8)
    waits = np.flatnonzero(kind == LOCK_WAIT_KIND)
    found = store.values(refs[waits], "acquired")
    acquired[waits] = [1 if v is True else 0 if v is False else -1 for v in found]
    return acquired


def process_label(process: str, pid: int) -> str:
    """Return how a process is named on screen: ``nova-compute [4242]``."""
    return f"{process} [{pid}]" if process else f"pid {pid}"


def remap(rows: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Map row indices through ``inverse`` (old row -> new row), keeping -1."""
    if len(rows) == 0 or len(inverse) == 0:
        return np.full(len(rows), -1, np.int64)
    return np.where(rows >= 0, inverse[np.maximum(rows, 0)], -1).astype(np.int64)


def reorder_spans(spans: SpanTable | dict[str, np.ndarray], order: np.ndarray) -> tuple[SpanTable, np.ndarray]:
    """Return the spans in ``order`` with parent links remapped, and old -> new rows.

    Given a dict of columns, the dict is emptied column by column as the
    reordered copies are made, so at most one column is held twice. Parent
    links that would point at a later row are dropped, so following parents
    always ends.
    """
    columns = spans if isinstance(spans, dict) else {f.name: getattr(spans, f.name) for f in fields(spans)}
    n = len(order)
    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n, dtype=np.int64)
    reordered = {}
    for name in list(columns):
        reordered[name] = columns.pop(name)[order]
    del order  # free it now when the caller passed the only reference
    parent = reordered["parent"]
    for first in range(0, n, 1 << 18):
        chunk = parent[first : first + (1 << 18)]
        linked = chunk >= 0
        chunk[linked] = inverse[chunk[linked]]
        chunk[chunk >= np.arange(first, first + len(chunk))] = -1
    for name in ("depth", "sub_row"):  # not laid out yet: filled by layout.nest
        reordered.setdefault(name, np.zeros(n, np.int32))
    return SpanTable(**reordered), inverse


def sort_marks(marks: MarkTable) -> MarkTable:
    """Return the marks sorted by time (stable)."""
    return _take(marks, stable_argsort(marks.ts_ns)) if len(marks) else marks


def trace_end(spans: SpanTable, marks: MarkTable, file_ends: list[int]) -> int:
    """Return the latest time of the trace: span ends and starts, marks, files' end records."""
    candidates = list(file_ends)
    for times in (spans.end_ns, spans.start_ns, marks.ts_ns):
        if len(times):
            candidates.append(int(times.max()))
    return max(candidates) if candidates else 0
