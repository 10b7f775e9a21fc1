"""Loading traces for the viewer in a worker thread: progress, cancellation, files left out, offsets.

No Qt here (``gui.files`` binds it to the window), so ``racelane view`` can
start reading before Qt is even imported. The three jobs the window runs in
the background are plain functions of a ``Task``:

- ``read_traces``: expand directories, load the files (Chrome and OTLP/JSON
  files are converted on the way), apply the clock offsets, index for drawing.
  A file that cannot be read is *left out* with the analysis core's message
  (``trace.jsonl is not a racelane trace: ...``) and the others load; only
  when none can be read does the job fail.
- ``shift_hosts``: the same trace with other per-host clock offsets.
- ``check_rules``: the hazard analysis of a loaded trace.

A ``Task`` runs one of them in a daemon thread and holds what the window
polls: bytes read out of the total, the phase, and the result (a
``concurrent.futures.Future``). ``Task.cancel`` makes the job raise
``Cancelled`` at its next check (each chunk of a file read, and between
phases).
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

TRACE_SUFFIXES = (".jsonl", ".json")


class Cancelled(Exception):
    """The user cancelled the job."""


class Task:
    """One background job; see the module docstring. ``done_bytes``/``total_bytes`` are read by the UI thread."""

    def __init__(self, job: Callable[[Task], Any], name: str = "load") -> None:
        self.job = job
        self.name = name
        self.phase = "waiting"
        self.done_bytes = 0
        self.total_bytes = 0
        self.started_s = 0.0
        self.future: Future[Any] = Future()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"racelane-{name}", daemon=True)

    def start(self) -> Task:
        """Start the job in its thread (once); return the task."""
        if not self.started_s:
            self.started_s = time.monotonic()
            self._thread.start()
        return self

    def _run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.job(self)
        except BaseException as err:  # handed to the UI thread, which reports it
            self.future.set_exception(err)
        else:
            self.future.set_result(result)

    # --- for the job -------------------------------------------------------------------------
    def progress(self, done: int, total: int) -> None:
        """Record ``done`` bytes read of ``total``; raise ``Cancelled`` when cancelled (the loader's callback)."""
        self.phase = "reading"
        self.done_bytes, self.total_bytes = done, total
        self.check()

    def enter(self, phase: str) -> None:
        """Record that the job moved on to ``phase``; raise ``Cancelled`` when cancelled."""
        self.check()
        self.phase = phase

    def check(self) -> None:
        """Raise ``Cancelled`` when the task was cancelled."""
        if self._cancel.is_set():
            raise Cancelled

    # --- for the UI thread ----------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop at its next check (its result will be ``Cancelled``)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called."""
        return self._cancel.is_set()

    def done(self) -> bool:
        """Whether the job has finished (returned, raised, or stopped after a cancel)."""
        return self.future.done()

    def wait(self, timeout_s: float | None = None) -> Any:
        """Wait for the job and return its result (re-raising its exception)."""
        return self.future.result(timeout_s)


@dataclass(frozen=True)
class LoadRequest:
    """What to open: trace files or directories, with per-host clock offsets (ns)."""

    paths: tuple[str, ...]
    offsets_ns: Mapping[str, int] = field(default_factory=dict)
    strict: bool = False
    view_width_px: int = 0  # the timeline's width, to prepare the whole-trace view's level of detail (0: don't)

    def with_offsets(self, offsets_ns: Mapping[str, int]) -> LoadRequest:
        """Return the same request with other offsets (for reloading after an offset change)."""
        return LoadRequest(self.paths, dict(offsets_ns), self.strict, self.view_width_px)


@dataclass
class Loaded:
    """A loaded trace, ready to draw, and what the user should be told about it."""

    request: LoadRequest
    data: Any  # ViewerData
    notes: list[str] = field(default_factory=list)  # files left out, offsets of hosts not in the trace


def expand_paths(paths: Iterable[str]) -> tuple[list[str], list[str]]:
    """Return (files, notes): directories replaced by their ``.jsonl``/``.json`` files, sorted.

    A directory without any is noted, as is a path that does not exist.
    """
    files: list[str] = []
    notes: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if f.endswith(TRACE_SUFFIXES) and os.path.isfile(os.path.join(path, f)))
            if found:
                files += found
            else:
                notes.append(f"{path}: no .jsonl or .json files in this directory")
        elif not os.path.exists(path):
            notes.append(f"{path}: no such file")
        else:
            files.append(path)
    return files, notes


def read_traces(request: LoadRequest, task: Task | None = None) -> Loaded:
    """Load ``request`` for the viewer; see the module docstring.

    Raises:
        TraceError: no file of the request could be read (the message says why, per file).
        Cancelled: the task was cancelled.
    """
    from tracer.analysis import TraceError, load

    from .data import ViewerData

    task = task or Task(lambda _: None)
    task.enter("reading")
    files, notes = expand_paths(request.paths)
    left_out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="racelane-view-") as directory:
        converted: dict[str, str] = {}  # converted file -> the file it came from
        while True:
            if not files:
                reasons = notes + left_out
                raise TraceError("; ".join(reasons) if reasons else "no trace files given")
            try:
                result = load(files, strict=request.strict, progress=task.progress)
                break
            except TraceError as err:
                bad = err.path if err.path in files else None
                if bad is None or request.strict:
                    raise
                native = _convert(bad, directory, err, task, notes)
                if native is not None:
                    converted[native] = bad
                    files[files.index(bad)] = native
                    continue
                left_out.append(str(err))
                files.remove(bad)
    task.enter("indexing")
    trace = result.trace
    offsets = {h: int(ns) for h, ns in request.offsets_ns.items() if h in trace.hosts}
    unknown = sorted(set(request.offsets_ns) - set(offsets))
    if unknown:
        notes.append(f"clock offsets name hosts not in this trace: {', '.join(unknown)}")
    if offsets:
        trace = trace.with_host_offsets(offsets)
        result = type(result)(trace, result.report)
        task.check()
    sources = [converted.get(f, f) for f in files]
    data = ViewerData(result, sources=sources)
    task.check()
    prepare_view(data, request.view_width_px)
    release_memory()
    task.check()
    notes = [f"left out {reason}" for reason in left_out] + notes
    return Loaded(request, data, notes)


def _convert(path: str, directory: str, err: Exception, task: Task, notes: list[str]) -> str | None:
    """Return a racelane conversion of the Chrome or OTLP file ``path`` in ``directory``, or None if it is neither.

    What the import skipped or ignored is added to ``notes``.
    """
    from tracer.analysis import TraceError

    if "is not a racelane trace" not in str(err):
        return None
    from tracer.analysis.formats import import_file, sniff

    try:
        if sniff(path) not in ("chrome", "otlp"):
            return None
        task.enter("converting")
        data, report = import_file(path)
    except TraceError:
        return None
    if not data:
        return None
    if report.skipped or report.ignored:
        notes.append(f"imported {report.summary()}" + (f"; first skipped: {report.problems[0]}" if report.problems else ""))
    native = os.path.join(directory, f"{len(os.listdir(directory)):03d}-{os.path.basename(path)}.racelane.jsonl")
    with open(native, "wb") as stream:
        stream.write(data)
    task.enter("reading")
    return native


def shift_hosts(data: Any, offsets_ns: Mapping[str, int], task: Task | None = None) -> Any:
    """Return a ``ViewerData`` of ``data``'s trace with the clock offsets ``offsets_ns`` (absolute, per host).

    Raises:
        ValueError: an offset names a host not in the trace, or moves times out of range.
    """
    from tracer.analysis import LoadResult

    from .data import ViewerData

    task = task or Task(lambda _: None)
    task.enter("shifting clocks")
    trace = data.trace.with_host_offsets(dict(offsets_ns))
    task.enter("indexing")
    shifted = ViewerData(LoadResult(trace, data.report), sources=list(data.sources))
    release_memory()
    return shifted


def check_rules(data: Any, rules: str | Any, task: Task | None = None) -> tuple[Any, str]:
    """Return ``(analysis, rule set name)`` of ``data``'s trace checked against ``rules`` (a name, file or RuleSet).

    Raises:
        RacelaneError: the rule file cannot be read.
    """
    from tracer.analysis.hazards import analyze
    from tracer.analysis.rules import load_rules

    task = task or Task(lambda _: None)
    task.enter("checking the rules")
    ruleset = load_rules(rules) if isinstance(rules, str) else rules
    return analyze(data.trace, ruleset), ruleset.name


def prepare_view(data: Any, width_px: int) -> None:
    """Build the level of detail of the whole-trace view ``width_px`` wide, so the first frame need not.

    Runs in the worker, before the UI thread sees ``data`` (``RowIndex``
    is not shared yet). Small traces draw their spans directly: nothing to do.
    """
    from .lod import RAW_LIMIT

    if width_px <= 0 or len(data.trace.spans) <= RAW_LIMIT:
        return
    ns_per_px = data.duration_ns * 1.02 / width_px  # Timeline.fit: 1% of margin on each side
    if ns_per_px >= 2:
        data.index.level(math.floor(math.log2(ns_per_px)))


def release_memory() -> None:
    """Give the memory freed by a load back to the system (glibc keeps it in the worker thread's arena).

    Loading a million spans frees a few hundred MB of temporaries in the
    worker thread's malloc arena; without this the window keeps them as
    resident memory next to the trace. A no-op where glibc is not the C library.
    """
    global _trim
    if _trim is None:
        _trim = _malloc_trim()
    if _trim:
        _trim(0)


def _malloc_trim() -> Callable[[int], int] | bool:
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own symbols, libc's among them
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


_trim: Callable[[int], int] | bool | None = None


def describe_error(err: BaseException) -> str:
    """Return the message a user sees for a failed job (the analysis core's own words when it has them)."""
    from tracer.record.errors import RacelaneError

    if isinstance(err, (RacelaneError, ValueError)):
        return str(err)
    if isinstance(err, OSError):
        return f"{err.filename or 'file'}: {err.strerror or err}"
    if isinstance(err, MemoryError):
        return "not enough memory to load this trace"
    return f"unexpected error: {type(err).__name__}: {err}"
