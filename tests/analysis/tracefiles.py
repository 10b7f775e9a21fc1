"""Trace files for the analysis tests, recorded by the real recorder or built by hand."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import tracer
from tracer.record.sink import MemorySink

WALL0 = 1_795_238_677_000_000_000  # wall-clock anchor of the hand-written files
MONO0 = 5_000_000_000  # monotonic anchor of the hand-written files


def header(host: str = "h1", *, pid: int = 100, mono: int = MONO0, wall: int = WALL0, **extra: Any) -> dict[str, Any]:
    """Return a header record like the recorder writes."""
    record = {
        "type": "header", "format": "racelane", "version": 1, "host": host, "pid": pid, "process": "proc",
        "argv": [], "clock": {"monotonic_ns": mono, "wall_ns": wall, "source": "monotonic"},
    }
    record.update(extra)
    return record


def span_row(span_id: int, parent: int, lane: int, start: int, end: int, name: str = "s", cat: str = "", error: Any = None) -> list[Any]:
    """Return one row of a ``spans`` line (times relative to MONO0)."""
    return [span_id, parent, lane, MONO0 + start, MONO0 + end, name, cat, error]


def batch(kind: str, rows: list[Any], attrs: list[Any] | None = None) -> dict[str, Any]:
    """Return a ``spans``, ``open`` or ``marks`` record laid out as the recorder writes it (``attrs`` last).

    ``attrs`` defaults to null for every row.
    """
    return {"type": kind, "rows": rows, "attrs": [None] * len(rows) if attrs is None else attrs}


def spans(*rows: list[Any], attrs: list[Any] | None = None) -> dict[str, Any]:
    """Return a ``spans`` record of ``rows`` (see ``batch``)."""
    return batch("spans", list(rows), attrs)


def record_sample() -> bytes:
    """Record a small but complete trace with the real recorder and return its bytes.

    Main thread: ``request`` > ``db.query`` (with a mark) and a lock wait and
    hold; a worker thread spawned inside ``request`` runs ``worker.job``; one
    span fails with an exception; ``stuck`` is still open when the recording
    is flushed mid-way (and finished later). A logical clock makes the times
    the same at every run.
    """
    sink = MemorySink()
    clock = itertools.count(1_000_000, 1_000).__next__
    recording = tracer.start(sink=sink, clock=clock, host="sample-host", process="sample",
                             flush_interval_s=3600, handle_sigterm=False)
    try:
        lock = tracer.traced_lock(threading.Lock(), "resources")
        with tracer.span("request", cat="audit", instance_uuid="u-1"):
            with tracer.span("db.query", cat="db", host="h2") as query:
                tracer.mark("status", cat="evacuation", before="pre-migrating", after="done")
                query.set("result_uuids", ["a", "b"])
            with lock:
                tracer.mark("under lock")
            worker = threading.Thread(target=_job, name="worker")
            worker.start()
            worker.join()
            try:
                with tracer.span("fails", cat="db"):
                    raise ValueError("no such instance")
            except ValueError:
                pass
            with tracer.span("stuck", cat="audit"):
                recording.flush()  # the open spans are written now
    finally:
        recording.stop()
    return b"".join(line + b"\n" for line in sink.lines())


def _job() -> None:
    with tracer.span("worker.job", cat="rpc", n=1):
        pass
