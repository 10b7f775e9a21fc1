"""Load racelane trace files (one per process, from any number of hosts) into a ``Trace``.

    from tracer.analysis import load

    trace, report = load(["racelane-host1-4242.jsonl", "racelane-host2-977.jsonl"])
    print(report.summary())

Each file is streamed in binary chunks and parsed line by line with orjson;
of ``spans``, ``open`` and ``marks`` lines only the rows are parsed, the
attributes are kept as raw JSON and decoded when asked for (``Trace.attrs``).
Rows are turned into numpy columns a block at a time; the processes (one per
file, or per ``header`` line of concatenated files) are then merged onto one
wall-clock axis. Input is never trusted: whatever a file holds, ``load``
either returns or raises ``TraceError``.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

from ._build import Merger
from ._columns import Interner
from ._file import FileParser
from ._lines import DEFAULT_CHUNK_BYTES, LineReader
from ._scan import SpanScanner
from .attrs import AttrStore
from .errors import TraceError
from .model import Trace
from .report import FileReport, LoadReport, Problems

PathLike = str | os.PathLike[str]
MAX_WORKERS = int(os.environ.get("RACELANE_LOAD_WORKERS", "2"))  # threads scanning rows (numpy releases the GIL)
POOL_MIN_BYTES = 8 << 20  # smaller inputs are scanned inline: threads would cost more than they save
Progress = Callable[[int, int], None]


class LoadResult(NamedTuple):
    """The merged trace and what loading it found."""

    trace: Trace
    report: LoadReport


def load(
    paths: PathLike | Iterable[PathLike],
    *,
    strict: bool = False,
    max_record_bytes: int = 1 << 20,
    progress: Progress | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> LoadResult:
    """Load trace files into one ``Trace`` on a common time axis.

    Args:
        paths: one file or several (the same file named twice is read once).
        strict: refuse the input at the first malformed line or row instead of
            skipping it.
        max_record_bytes: longest line accepted; longer lines are skipped
            (and refused when ``strict``) without being held in memory whole.
        progress: called as ``progress(bytes_read, bytes_total)`` after each
            chunk; an exception it raises cancels the load and propagates.
        chunk_bytes: how much of a file is read at a time.

    Returns:
        ``LoadResult(trace, report)``. Attributes are checked when first
        decoded: the report may gain problems (and ``missing_attrs``) later,
        as ``Trace.attrs`` finds batches it cannot read. ``strict`` decodes
        them all while loading instead.

    Raises:
        TraceError: a file is unreadable, empty, not a racelane trace, of a
            newer format version, or (``strict``) has a malformed line or row.

    Python's cyclic garbage collector is paused while loading: the millions
    of short-lived objects parsing creates would otherwise trigger it
    hundreds of times, for nothing (parsed JSON holds no cycles).
    """
    names = _paths(paths)
    if not names:
        raise TraceError("no trace files given")
    if max_record_bytes < 1 or chunk_bytes < 1:
        raise ValueError(f"max_record_bytes and chunk_bytes must be positive, got {max_record_bytes} and {chunk_bytes}")
    report = LoadReport()
    problems = Problems(report, strict)
    segments = report.files  # one report per process; the attribute store blames them by position
    strings, cats = Interner(), Interner()
    store = AttrStore(partial(_attrs_problem, problems, segments))
    scanner = SpanScanner(strings, cats)
    total = sum(_size(path) for path in names)
    done = 0
    collecting = gc.isenabled()
    gc.disable()
    workers = _workers() if total >= POOL_MIN_BYTES else 0
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="racelane-load") if workers else None
    try:
        merger = Merger(total)
        for path in names:
            parser = FileParser(
                path, merger.sinks, names=strings, cats=cats, store=store, problems=problems, emit=merger.add,
                reports=segments, scanner=scanner, pool=pool,
            )
            try:
                with open(path, "rb", buffering=0) as stream:
                    reader = LineReader(stream, chunk_bytes=chunk_bytes, max_record_bytes=max_record_bytes)
                    on_chunk = None
                    if progress is not None:

                        def on_chunk(base: int = done, reader: LineReader = reader) -> None:
                            progress(base + reader.bytes_read, max(total, base + reader.bytes_read))

                    parser.read(reader, on_chunk)
                    done += reader.bytes_read
            except OSError as err:
                raise TraceError(f"cannot read {path}: {err.strerror or err}", path=path) from None
        trace, counts = merger.finish(strings.values, cats.values, store)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if collecting:
            gc.enable()
    report.spans, report.marks, report.lanes = len(trace.spans), len(trace.marks), len(trace.lanes)
    report.hosts = list(trace.hosts)
    report.unfinished = int(trace.spans.open.sum())
    if counts.lanes_swept:
        report.notes.append(
            f"{counts.lanes_swept} lanes hold spans that overlap without nesting; they were laid out on sub-rows"
        )
    return LoadResult(trace, report)


def _workers() -> int:
    """Return how many threads scan rows beside the reader: none on one CPU."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(MAX_WORKERS, cpus) if cpus > 1 else 0


def _attrs_problem(problems: Problems, segments: list[FileReport], origin: int, line: int, reason: str, rows: int) -> None:
    problems.attrs(segments[origin], line, reason, rows)


def _paths(paths: PathLike | Iterable[PathLike]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    unique: dict[str, str] = {}
    for path in paths:
        text = os.fspath(path)
        unique.setdefault(os.path.realpath(text), text)
    return list(unique.values())


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # reported when the file is opened
