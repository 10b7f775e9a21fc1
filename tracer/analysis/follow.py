"""Follow growing trace files: read what processes append, merge it into a live trace, flag hazards as they happen.

    from tracer.analysis.follow import Follower

    with Follower(["traces/"], rules="nova") as follower:
        while True:
            follower.wait(1.0)  # file events, or the 1.5 s backstop: look at the files
            update = follower.apply()
            for hazard in update.hazards:
                print(hazard.describe()["explanation"])

What is followed: files named on the command line, and the files of a
directory that match a glob (``*.jsonl``); new files join the trace as they
appear (a process that starts writes its own file).

How changes are noticed: watchdog watches each directory involved (never the
files), and every event only means "something changed: look again"; a stat
of every file every ``backstop_s`` (1.5 s) covers what events miss (the
kernel's event queue overflowed, or the file system is remote, where inotify
sees nothing). With ``poll_s`` there are no events at all, only that stat
every ``poll_s``: use it on NFS, CIFS and some container mounts.

What is kept per file: its device and inode, the offset read to, the last
bytes before that offset, and the partial last line. On each look:

- the file shrank below the offset, or the bytes before the offset changed
  (``copytruncate``, or a file rewritten in place): it is read again from
  0, the partial line dropped, and ``truncated`` reported. The process
  stays the same (a ``copytruncate``d writer keeps writing, without a new
  header): the lines read after it continue its trace;
- the name now leads to another file (rotation by rename, or delete and
  create): the old file is read to its end first, then kept open and read
  while it still grows (a writer may still hold it: its late lines are not
  lost), and dropped after ``linger_s`` without writes; the new file is
  followed from its start (``replaced``);
- the name is gone: the file is read to its end, and its name watched until
  it comes back (``deleted``, then ``replaced``).

Lines are parsed by the loader's own parser as they arrive (a line waits for
its newline). ``apply`` merges them into the live trace
(``follow_trace.LiveTrace``: columns, sorted, laid out, as ``load`` would
build them from the lines read so far) and updates the hazards
(``follow_hazards``). The follower has no thread of its own (watchdog's
aside): the consumer calls ``wait``, which looks at the files when something
happened, then ``apply``, both on one thread of its choosing (``racelane
tail``'s main thread, the viewer's builder thread).
"""

from __future__ import annotations

import fnmatch
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracer.record.format import MAX_LINE_BYTES

from ._file import FileData, FileParser, Sinks
from .errors import TraceError
from .follow_hazards import LiveHazard, LiveHazards
from .follow_lines import LineSplitter
from .follow_rows import SegmentRows
from .follow_trace import CommitStats, LiveTrace
from .model import Trace
from .report import LoadReport
from .rules import RuleSet, load_rules

DEFAULT_GLOB = "*.jsonl"
BACKSTOP_S = 1.5  # stat every file this often even when events arrive (they can be lost)
LINGER_S = 30.0  # keep reading a rotated or deleted file this long after its last write
SETTLE_S = 0.05  # while a hazard waits to be decided, look again this soon (see ``LiveHazards``)
READ_BYTES = 4 << 20  # bytes read from one file at a time
_SIGNATURE_BYTES = 32  # bytes before the offset compared on each look (a file rewritten in place)


@dataclass(frozen=True)
class Notice:
    """Something that happened to a followed file.

    ``kind``: ``new`` (a file joined), ``truncated``, ``replaced`` (the name
    leads to a new file), ``deleted``, ``retired`` (a rotated file no longer
    read), ``skipped`` (not a racelane trace), ``error`` (unreadable).
    ``fatal``: a file named explicitly cannot be followed.
    """

    kind: str
    path: str
    message: str
    fatal: bool = False


@dataclass
class FollowUpdate:
    """What one ``apply`` merged and found; ``trace`` is built when first asked for (valid until the next ``apply``)."""

    live: LiveTrace = field(repr=False)
    stats: CommitStats
    notices: list[Notice] = field(default_factory=list)
    hazards: list[LiveHazard] = field(default_factory=list)  # decided since the last apply, each once
    opened: list[LiveHazard] = field(default_factory=list)  # overlaps seen for the first time while a window runs
    open: list[LiveHazard] = field(default_factory=list)  # every overlap whose windows still run

    @property
    def trace(self) -> Trace:
        """Return the trace as of this update."""
        return self.live.trace()


class _Tail:
    """One followed file: where it was read to, its parser, and what became of its name."""

    ACTIVE, RETIRED, DELETED = "active", "retired", "deleted"

    def __init__(self, follower: Follower, path: str, order: int, fd: int, st: os.stat_result, explicit: bool) -> None:
        self.path = path
        self.order = order
        self.fd: int | None = fd
        self.dev, self.ino = st.st_dev, st.st_ino
        self.offset = 0
        self.signature = b""
        self.state = self.ACTIVE
        self.explicit = explicit
        self.last_growth = time.monotonic()
        self.failed = False
        self.splitter = LineSplitter(follower.max_record_bytes)
        self.sinks: Sinks = LiveTrace.sinks()
        self.out: list[SegmentRows] = []
        self.parser: FileParser = follower.live.parser(path, self.sinks, self._closed)

    def _closed(self, data: FileData) -> None:
        """Take the rows of a process whose segment ended (another header followed) before the sinks are reused."""
        self.out.append(SegmentRows.copy_of(self.order, self.path, data, self.sinks, settled=True))
        self.sinks.spans.size = self.sinks.opens.size = self.sinks.marks.size = 0

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


class Follower:
    """Follow trace files and directories; see the module docstring.

    Args:
        paths: files and directories to follow (each must exist).
        glob: which files of a directory are traces.
        rules: a rule set, or the name or path of one (``nova``); None: no hazards.
        skew_ms: clock-skew tolerance (default: the rule set's).
        poll_s: look every ``poll_s`` seconds and use no file-system events
            (network file systems); None: events, plus a look every ``backstop_s``.
        backstop_s: the look that covers lost events.
        linger_s: how long a rotated or deleted file is still read after its last write.
        max_record_bytes: longest line accepted (as ``load``).
        host_offsets_ns: clock offset per host (as ``Trace.with_host_offsets``).

    Raises:
        TraceError: a path does not exist or is neither a file nor a directory.
        RuleError: the rules cannot be read.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        glob: str = DEFAULT_GLOB,
        rules: RuleSet | str | None = None,
        skew_ms: float | None = None,
        poll_s: float | None = None,
        backstop_s: float = BACKSTOP_S,
        linger_s: float = LINGER_S,
        max_record_bytes: int = MAX_LINE_BYTES,
        host_offsets_ns: dict[str, int] | None = None,
    ) -> None:
        if not paths:
            raise TraceError("no trace files or directories to follow")
        if (poll_s is not None and poll_s <= 0) or backstop_s <= 0:
            raise ValueError(f"poll_s and backstop_s must be positive, got {poll_s} and {backstop_s}")
        self.glob = glob
        self.poll_s = poll_s
        self.backstop_s = backstop_s
        self.linger_s = linger_s
        self.max_record_bytes = max_record_bytes
        self.live = LiveTrace(host_offsets_ns)
        self.rules = load_rules(rules) if isinstance(rules, str) else rules
        self.hazards = LiveHazards(self.live, self.rules, skew_ms) if self.rules is not None else None
        self._files: list[str] = []  # named files, followed by name
        self._dirs: list[str] = []
        for path in (os.fspath(p) for p in paths):
            try:
                mode = os.stat(path).st_mode
            except OSError as err:
                raise TraceError(f"{path}: {err.strerror or err}", path=path) from None
            if stat.S_ISDIR(mode):
                self._dirs.append(path)
            elif stat.S_ISREG(mode):
                self._files.append(path)
            else:
                raise TraceError(f"{path} is neither a regular file nor a directory", path=path)
        self._tails: list[_Tail] = []
        self._by_name: dict[str, _Tail] = {}
        self._known: set[tuple[int, int]] = set()  # (dev, ino) of every file taken on, followed or skipped
        self._orders = 0
        self._queue: deque[SegmentRows | Notice] = deque()
        self._lock = threading.Lock()  # one look at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._started = False
        self._due = 0.0  # the next look without an event (backstop, or the polling interval)
        self._observer: Any = None
        self.looks = 0  # how many looks were taken
        self.last_look_s = 0.0  # how long the last one took
        self.bytes_read = 0
        self.mode = "poll" if poll_s is not None else "events"
        self._pending_hazards = False
        self._first_look()

    # --- life -------------------------------------------------------------------------------
    def start(self) -> Follower:
        """Watch for file events (unless polling); the next ``wait`` looks at once. Returns self."""
        if self._started:
            return self
        self._started = True
        if self.poll_s is None:
            self._observer = self._watch()
        self._wake.set()  # the first look at once
        return self

    def stop(self) -> None:
        """Stop watching and close every file (what was read stays in the trace); a ``wait`` under way returns."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            try:
                self._observer.stop()
                self._observer.join(timeout=2.0)
            except Exception:
                pass
            self._observer = None
        with self._lock:
            for tail in self._tails:
                tail.close()

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wake(self) -> None:
        """Look at every file now (as an event would)."""
        self._wake.set()

    def _watch(self) -> Any:
        """Start a watchdog observer on every directory involved; None (polling only) if it cannot."""
        try:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as err:
            self._notice("error", "", f"watchdog is not available ({err}); looking every {self.backstop_s:g} s instead")
            return None
        wake = self._wake

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                wake.set()

        observer = Observer()
        directories = {os.path.dirname(os.path.abspath(p)) for p in self._files} | {os.path.abspath(d) for d in self._dirs}
        try:
            for directory in sorted(directories):
                observer.schedule(_Handler(), directory, recursive=False)
            observer.start()
        except OSError as err:  # the inotify watch or instance limit
            self._notice("error", "", f"cannot watch for file events ({err.strerror or err}); looking every "
                                      f"{self.backstop_s:g} s instead")
            return None
        return observer

    # --- looking ----------------------------------------------------------------------------
    def look(self) -> bool:
        """Look at every file now and read what was added; return whether anything was (for the consumer).

        Runs on the follower's thread; may also be called directly (tests,
        benchmarks) when the follower was not started.
        """
        with self._lock:
            started = time.perf_counter()
            produced = len(self._queue)
            for directory in self._dirs:
                self._scan(directory)
            for path in self._files:
                self._check_name(path, explicit=True)
            for name, tail in list(self._by_name.items()):
                if not tail.explicit:
                    self._check_name(name, explicit=False)
            for tail in list(self._tails):
                self._read(tail)
            self._expire()
            self.last_look_s = time.perf_counter() - started
            produced = len(self._queue) > produced
            self.looks += 1  # after its rows are queued: ``apply`` counts finished looks
        return produced

    def _first_look(self) -> None:
        """Take on the files there are now, in order: named files as given, each directory's sorted by name."""
        for path in self._files:
            self._open(path, explicit=True)
        for directory in self._dirs:
            self._scan(directory)

    def _notice(self, kind: str, path: str, message: str, fatal: bool = False) -> None:
        self._queue.append(Notice(kind, path, message, fatal))

    def _scan(self, directory: str) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as err:
            self._notice("error", directory, f"{directory}: cannot list it ({err.strerror or err})")
            return
        for entry in entries:
            if not fnmatch.fnmatchcase(entry.name, self.glob) or entry.path in self._by_name:
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in self._known:
                self._open(entry.path, explicit=False, announce=self.looks > 0)

    def _open(self, path: str, *, explicit: bool, announce: bool = False) -> _Tail | None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            st = os.fstat(fd)
        except OSError as err:
            if explicit and not self._tails_named(path):
                self._notice("deleted", path, f"{path}: {err.strerror or err}; waiting for it")
            return None
        self._known.add((st.st_dev, st.st_ino))
        tail = _Tail(self, path, self._orders, fd, st, explicit)
        self._orders += 1
        self._tails.append(tail)
        self._by_name[path] = tail
        if announce:
            self._notice("new", path, f"following {path}")
        return tail

    def _tails_named(self, path: str) -> bool:
        return path in self._by_name

    def _check_name(self, path: str, *, explicit: bool) -> None:
        """See what the name ``path`` leads to now: the same file, another one, or nothing."""
        tail = self._by_name.get(path)
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if tail is None:
            if st is not None and stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in self._known:
                self._open(path, explicit=explicit, announce=True)
            return
        if st is not None and (st.st_dev, st.st_ino) == (tail.dev, tail.ino):
            if tail.state == _Tail.DELETED:  # renamed away and back
                tail.state = _Tail.ACTIVE
            return
        if st is None:
            if tail.state == _Tail.ACTIVE:
                tail.state = _Tail.DELETED
                self._read(tail)
                renamed = self._renamed_to(tail)
                where = f"was renamed to {renamed}" if renamed is not None else "was deleted"
                self._notice("deleted", path, f"{path} {where}: read to its end (and still read while it grows), "
                                              f"waiting for {os.path.basename(path)} to come back")
            return
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in self._known:
            return
        # Another file under the name: finish the old one first, keep reading it while a writer still holds it.
        self._read(tail)
        tail.state = _Tail.RETIRED
        tail.last_growth = time.monotonic()
        renamed = self._renamed_to(tail)
        if renamed is not None:  # name its processes after where the file is now
            for report in self.live.reports:
                if report.path == tail.parser.path:
                    report.path = renamed
            tail.path = tail.parser.path = renamed
        del self._by_name[path]
        new = self._open(path, explicit=explicit)
        if new is not None:
            self._notice("replaced", path, f"{path} was replaced (rotated or recreated); the old file was read to its "
                                           f"end and is still read while it grows; following the new one")

    def _renamed_to(self, tail: _Tail) -> str | None:
        """Return where a rotated file went (the same inode in its directory), for messages; None if not there."""
        directory = os.path.dirname(tail.path) or "."
        try:
            for entry in os.scandir(directory):
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) == (tail.dev, tail.ino):
                    return entry.path
        except OSError:
            pass
        return None

    def _forget(self, tail: _Tail) -> None:
        """Close a file no longer read; a deleted one's inode may be reused by a new file, so forget it."""
        if tail.fd is not None:
            try:
                if os.fstat(tail.fd).st_nlink == 0:
                    self._known.discard((tail.dev, tail.ino))
            except OSError:
                pass
        tail.close()

    def _expire(self) -> None:
        """Stop reading rotated or deleted files that no longer grow."""
        now = time.monotonic()
        for tail in list(self._tails):
            if tail.failed or (tail.state != _Tail.ACTIVE and now - tail.last_growth > self.linger_s):
                if not tail.failed:
                    torn = tail.splitter.drop_partial()
                    if torn:
                        self._torn(tail, torn)
                    self._notice("retired", tail.path, f"stopped reading {tail.path}: no writes for {self.linger_s:g} s")
                self._forget(tail)
                self._tails.remove(tail)
                if self._by_name.get(tail.path) is tail:
                    del self._by_name[tail.path]

    def _torn(self, tail: _Tail, torn: int) -> None:
        reports = [r for r in self.live.reports if r.path == tail.parser.path]
        if reports:
            reports[-1].torn_tail_bytes = torn

    def _read(self, tail: _Tail) -> None:
        """Read what was added to ``tail`` since the last look and queue its rows."""
        if tail.fd is None or tail.failed:
            return
        try:
            size = os.fstat(tail.fd).st_size
            if size < tail.offset or (tail.signature and os.pread(tail.fd, len(tail.signature), tail.offset - len(tail.signature)) != tail.signature):
                dropped = tail.splitter.drop_partial()
                what = "shrank below" if size < tail.offset else "changed before"
                self._notice("truncated", tail.path, f"{tail.path} {what} the {tail.offset:,} bytes read (truncated or "
                                                     f"rewritten): reading it again from the start"
                                                     + (f"; {dropped} bytes of an unfinished line dropped" if dropped else ""))
                tail.offset, tail.signature = 0, b""
            grew = False
            while tail.offset < size:
                data = os.pread(tail.fd, min(READ_BYTES, size - tail.offset), tail.offset)
                if not data:
                    break
                grew = True
                tail.offset += len(data)
                self.bytes_read += len(data)
                tail.signature = (tail.signature + data[-_SIGNATURE_BYTES:])[-_SIGNATURE_BYTES:]
                for chunk, bounds in tail.splitter.push(data):
                    tail.parser.feed(chunk, bounds, tail.splitter.oversized, tail.splitter.max_record_bytes)
                self._take(tail)  # a read at a time: a big file reaches the trace in parts, memory stays bounded
        except TraceError as err:
            tail.failed = True
            kind = "error" if tail.explicit else "skipped"
            self._notice(kind, tail.path, str(err) if tail.explicit else f"skipping {tail.path}: {err}", fatal=tail.explicit)
            return
        except OSError as err:
            tail.failed = True
            self._notice("error", tail.path, f"cannot read {tail.path}: {err.strerror or err}", fatal=tail.explicit)
            return
        if grew:
            tail.last_growth = time.monotonic()

    def _take(self, tail: _Tail) -> None:
        """Queue the rows ``tail``'s parser converted: processes that ended, then the one being written."""
        data = tail.parser.take()
        self._queue.extend(tail.out)
        tail.out.clear()
        if data is not None:
            self._queue.append(SegmentRows.copy_of(tail.order, tail.path, data, tail.sinks,
                                                   settled=tail.splitter.partial_bytes == 0))

    # --- the consumer's side ----------------------------------------------------------------
    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for something to happen to the files, look at them, and return whether ``apply`` has news.

        A file event, the backstop (or polling) interval, or a hazard waiting
        to be decided (``SETTLE_S``) makes it look; it returns as soon as a look
        read something (or a hazard waits for the next ``apply``), else after
        ``timeout_s`` (None: when ``stop`` is called). The consumer looks on
        its own thread, then applies: no thread of the follower's own.
        """
        if not self._started:
            self.start()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        interval = self.poll_s if self.poll_s is not None else self.backstop_s
        while not self._stop.is_set():
            now = time.monotonic()
            waiting = self.hazards is not None and self.hazards.waiting
            until = self._due if not waiting else min(self._due, now + SETTLE_S)
            if deadline is not None:
                until = min(until, deadline)
            woken = self._wake.wait(max(0.0, until - now))
            now = time.monotonic()
            if self._stop.is_set():
                break
            if woken or waiting or now >= self._due:
                self._wake.clear()
                self._due = now + interval
                if self.look() or waiting:
                    return True
            if deadline is not None and now >= deadline:
                break
        return bool(self._queue)

    def apply(self) -> FollowUpdate:
        """Merge everything read so far into the trace and update the hazards (call from one thread)."""
        notices: list[Notice] = []
        idle = self._lock.acquire(blocking=False)  # no look under way: what is queued is all of the looks counted
        try:
            seen = self.looks if idle else self.looks + 1
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, Notice):
                    notices.append(item)
                else:
                    self.live.add(item)
        finally:
            if idle:
                self._lock.release()
        stats = self.live.commit()
        update = FollowUpdate(self.live, stats, notices)
        if self.hazards is not None:
            found = self.hazards.update(self.live, stats, seen)
            update.hazards, update.opened, update.open = found.decided, found.opened, found.open
        return update

    def trace(self) -> Trace:
        """Return the trace as of the last ``apply``."""
        return self.live.trace()

    def report(self) -> LoadReport:
        """Return what was read so far: files, counts, skipped lines."""
        return self.live.load_report()

    def files(self) -> list[str]:
        """Return the paths of the files followed now (rotated ones still read included), in the follower's order."""
        with self._lock:
            return [t.path for t in self._tails]

    def sources(self) -> Iterable[str]:
        """Return the paths given to the follower."""
        return [*self._files, *self._dirs]
