"""Build racelane native JSON Lines (docs/FORMAT.md) from imported spans, and the import report.

Importers collect each process's lanes, spans, unfinished spans and marks
with times in wall-clock ns, then ``native_bytes`` writes one ``header`` per
process, its ``lane`` lines and batches of at most ``ROWS_PER_LINE`` rows,
exactly as the recorder lays them out (``attrs`` last), so the loader reads
them on its fast path. The header's clock anchor is chosen so every time
written is >= 0 (the format's times are non-negative).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson

from tracer.record.format import FORMAT_NAME, FORMAT_VERSION, MARKS, OPEN, ROWS_PER_LINE, SPANS

MAX_PROBLEMS = 50  # problem messages kept verbatim; the rest are only counted
MAX_LANE_ID = (1 << 62) - 1
_I64 = 1 << 63


@dataclass
class ImportReport:
    """What an import skipped or ignored.

    ``problems`` holds the first ``MAX_PROBLEMS`` messages, each
    ``path:event N: reason`` (Chrome) or ``path:line N: reason`` /
    ``path:span N: reason`` (OTLP); ``skipped`` counts them all. ``ignored``
    counts well-formed records racelane has no use for, by kind (Chrome
    phases such as ``C`` or ``s``). ``notes`` are facts about the file as a
    whole (an unterminated array accepted, ...).
    """

    path: str
    format: str
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    processes: int = 0
    spans: int = 0
    marks: int = 0

    def problem(self, where: str, reason: str) -> None:
        """Count one skipped record; keep its message while there is room."""
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{self.path}:{where}: {reason}")

    def ignore(self, kind: str) -> None:
        """Count one record of a kind that is valid but not imported."""
        self.ignored[kind] = self.ignored.get(kind, 0) + 1

    def summary(self) -> str:
        """Return one line saying what was imported and what was not."""
        text = f"{self.path} ({self.format}): {self.processes} process(es), {self.spans} spans, {self.marks} marks"
        if self.skipped:
            text += f", {self.skipped} malformed record(s) skipped"
        if self.ignored:
            text += ", ignored " + ", ".join(f"{n} {kind!r}" for kind, n in sorted(self.ignored.items()))
        return text


class Imported(NamedTuple):
    """Native racelane bytes made from a foreign file, and what the import found."""

    data: bytes
    report: ImportReport


@dataclass
class Lane:
    """One lane of an imported process."""

    kind: str = "thread"
    name: str = ""
    native_id: int | None = None
    spawned_by: int = 0


@dataclass
class Process:
    """One imported process: times are wall-clock ns (any int; shifted when written)."""

    host: str
    pid: int
    process: str
    extra: dict[str, Any] = field(default_factory=dict)  # more header keys
    lanes: dict[int, Lane] = field(default_factory=dict)
    spans: list[list[Any]] = field(default_factory=list)  # [id, parent, lane, start, end, name, cat, error]
    span_attrs: list[Any] = field(default_factory=list)
    opens: list[list[Any]] = field(default_factory=list)  # [id, parent, lane, start, name, cat]
    open_attrs: list[Any] = field(default_factory=list)
    marks: list[list[Any]] = field(default_factory=list)  # [lane, ts, name, cat, span]
    mark_attrs: list[Any] = field(default_factory=list)


def native_bytes(processes: list[Process]) -> bytes:
    """Return the native JSON Lines of ``processes`` (one ``header`` each)."""
    lines: list[bytes] = []
    for proc in processes:
        times = [row[3] for row in proc.spans] + [row[4] for row in proc.spans]
        times += [row[3] for row in proc.opens] + [row[1] for row in proc.marks]
        base = min(times) if times else 0
        # wall = native - monotonic_ns + wall_ns, and native = wall - base >= 0.
        clock = {"monotonic_ns": 0, "wall_ns": base, "source": "custom"} if base >= 0 else {
            "monotonic_ns": -base, "wall_ns": 0, "source": "custom"}
        header = {"type": "header", "format": FORMAT_NAME, "version": FORMAT_VERSION, "host": proc.host,
                  "pid": proc.pid, "process": proc.process, "argv": [], "clock": clock}
        header.update(proc.extra)
        lines.append(orjson.dumps(header))
        for lane_id, lane in sorted(proc.lanes.items()):
            lines.append(orjson.dumps({"type": "lane", "lane": lane_id, "kind": lane.kind, "name": lane.name,
                                       "native_id": lane.native_id, "spawned_by": lane.spawned_by or None}))
        spans = [[r[0], r[1], r[2], r[3] - base, r[4] - base, r[5], r[6], r[7]] for r in proc.spans]
        opens = [[r[0], r[1], r[2], r[3] - base, r[4], r[5]] for r in proc.opens]
        marks = [[r[0], r[1] - base, r[2], r[3], r[4]] for r in proc.marks]
        for kind, rows, attrs in ((SPANS, spans, proc.span_attrs), (OPEN, opens, proc.open_attrs),
                                  (MARKS, marks, proc.mark_attrs)):
            for first in range(0, len(rows), ROWS_PER_LINE):
                record = {"type": kind, "rows": rows[first : first + ROWS_PER_LINE],
                          "attrs": attrs[first : first + ROWS_PER_LINE]}
                try:
                    lines.append(orjson.dumps(record))
                except (TypeError, orjson.JSONEncodeError):  # integers beyond 64 bits, nesting too deep
                    record["attrs"] = [_writable(a) for a in record["attrs"]]
                    lines.append(orjson.dumps(record))
    return b"\n".join(lines) + b"\n" if lines else b""


def _writable(value: Any) -> Any:
    """Return ``value`` as orjson can write it: integers beyond 64 bits as strings, nesting cut at 200 levels."""
    try:
        orjson.dumps(value)
        return value
    except (TypeError, orjson.JSONEncodeError):
        pass

    def clean(item: Any, depth: int) -> Any:
        if type(item) is int and not -_I64 <= item < 2 * _I64:
            return str(item)
        if depth > 200 and type(item) in (dict, list):
            return "<nested too deep>"
        if type(item) is dict:
            return {str(k): clean(v, depth + 1) for k, v in item.items()}
        if type(item) is list:
            return [clean(v, depth + 1) for v in item]
        return item

    return clean(value, 0)


def ns_from_us(value: Any) -> int | None:
    """Return microseconds (int, float or decimal string) as integer ns; None when not a finite number."""
    kind = type(value)
    if kind is int:
        return int(value * 1000)
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return round(float(value) * 1000)
    if kind is str:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        if not number.is_finite():
            return None
        return int((number * 1000).to_integral_value())
    return None


def int_value(value: Any) -> int | None:
    """Return an integer given as a JSON number or a decimal string (None otherwise)."""
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is str:
        try:
            return int(value)  # also takes blanks around, and digit groups with "_"
        except ValueError:
            return None
    if kind is float and value.is_integer():
        return int(value)
    return None


def small_int(value: Any) -> int | None:
    """Return ``value`` as an int64 when it is one (pids, thread ids)."""
    number = int_value(value)
    return number if number is not None and -_I64 <= number < _I64 else None


def write_atomically(out_path: Any, suffix: str, write: Any) -> int:
    """Run ``write(binary_file)`` on a temporary file beside ``out_path``, then rename it into place.

    A failed export leaves no partial file behind; returns what ``write`` returned.
    """
    import os
    import tempfile

    out_path = os.fspath(out_path)
    directory = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(prefix=".racelane-", suffix=suffix, dir=directory)
    try:
        with no_gc(), os.fdopen(fd, "wb", buffering=1 << 20) as out:
            written = int(write(out))
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return written


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (as ``load`` does).

    Converting creates millions of short-lived dicts and lists without
    cycles; each few thousand of them would otherwise start a collection
    that walks every object alive, which more than doubles the time taken.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
