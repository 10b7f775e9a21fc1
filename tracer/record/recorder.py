"""The recorder: buffers what the hot path produced and writes it out.

A real OS thread (never a greenthread, even under eventlet monkey-patching)
wakes every flush interval, or early when the buffer fills, takes the buffered
rows, masks secrets, serializes them with one ``orjson.dumps`` per batch and
hands whole lines to the sink. Spans still open at a flush are written as
``open`` rows, so a process killed with SIGKILL leaves them visible as
unfinished. Nothing here raises into traced code: failures are counted and
reported once through ``logging``.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import orjson

from . import core, spawn
from .format import END, FORMAT_NAME, FORMAT_VERSION, HEADER, MARKS, MAX_LINE_BYTES, OPEN, ROWS_PER_LINE, SPANS
from .lanes import LaneRegistry
from .options import Options
from .redact import Redactor, mask_url
from .sink import JsonlSink, Sink

_DUMPS_OPTIONS = orjson.OPT_APPEND_NEWLINE


@dataclass
class RecordingStats:
    """Counts of what was recorded and what was lost, by cause."""

    spans: int = 0
    marks: int = 0
    open_spans: int = 0
    dropped: int = 0
    write_errors: int = 0
    lost_on_write: int = 0
    unserializable: int = 0
    bytes_written: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counts as a plain dict."""
        return dict(self.__dict__)


def _real_thread_module() -> Any:
    """Return ``_thread`` as it was before eventlet monkey-patched it."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        try:
            return patcher.original("_thread")
        except Exception:
            pass
    import _thread

    return _thread


class Recorder:
    """Own one recording: its sink, its lanes, its flusher thread and its counts.

    Only one recorder is active per process (``core._active``).
    """

    def __init__(self, options: Options, sink: Sink | None = None) -> None:
        self.options = options.resolved()
        self.path = None if sink is not None else self.options.output_path()
        self.sink: Sink = sink if sink is not None else JsonlSink(self.path or "", self.options.file_mode, self.options.fsync)
        self.stats = RecordingStats()
        self.redactor = Redactor(self.options.secret_keys, self.options.max_value_chars)
        self.registry = LaneRegistry()
        thread_mod = _real_thread_module()
        self._thread_mod = thread_mod
        self._flush_lock = thread_mod.allocate_lock()
        self._wake_lock = thread_mod.allocate_lock()
        self._wake_lock.acquire()
        self._running = False
        self._flusher_done = thread_mod.allocate_lock()
        self._reported: set[str] = set()
        self._previous_sigterm: Any = None
        self._sigterm_installed = False
        self._pid = os.getpid()
        self._successor: Recorder | None = None  # this recorder's continuation in a forked child
        self._stopping = False
        self._flushing_thread: int | None = None
        self._pending_signal: tuple[int, Any] | None = None
        self._anchor: tuple[int, int] | None = None  # (monotonic_ns, wall_ns) written in the header

    # --- life cycle --------------------------------------------------------
    def start(self) -> Recorder:
        """Write the header, swap this recorder into the hot path, start flushing."""
        if core._active is not None:
            raise RuntimeError("racelane is already recording; call tracer.stop() first")
        self._write([orjson.dumps(self._header(), option=_DUMPS_OPTIONS)])
        core._reseed_ids(self.options.id_start)
        self._activate()
        spawn.install(core.current_span_id)
        atexit.register(self._atexit)
        _register_multiprocessing_exit(self._atexit)
        if self.options.handle_sigterm:
            self._install_sigterm()
        _register_fork_hook()
        return self

    def _activate(self) -> None:
        core._rows = []
        core._marks = []
        # Wake the flusher early, every few thousand spans: short-lived rows
        # keep the garbage collector's older generations small.
        core._soft_limit = max(1, min(self.options.max_buffered // 4, 8192))
        core._hard_limit = self.options.max_buffered
        core._span_soft_limit = 2 * core._soft_limit
        core._span_hard_limit = 2 * core._hard_limit
        core._now = self.options.clock or time.monotonic_ns
        core._lane = self.registry.current
        core._wake = self._wake
        core._async_set = spawn.set_async_current
        core._async_reset = spawn.reset_async_current
        core._gen += 1
        core._active = self
        core._publish()
        self._running = True
        self._flusher_done.acquire()
        self._thread_mod.start_new_thread(self._flusher, ())

    def stop(self) -> RecordingStats:
        """Flush everything (open spans as unfinished), write ``end``, close the file."""
        if core._active is not self:
            successor = self._successor
            return successor.stop() if successor is not None else self.stats
        self._stopping = True
        self._running = False
        self._wake()
        # Wait for the flusher to finish its current batch (it never blocks for long).
        if self._flusher_done.acquire(timeout=5.0):
            self._flusher_done.release()
        core._active = None  # no new spans from here on; those already ending still land
        core._publish()
        self.flush(final=True)
        core._gen += 1
        core._publish()
        late = len(core._rows) // 2 + len(core._marks)
        if core._speedups is not None:
            late += core._speedups.pending()
        if late:
            self.stats.dropped += late  # finished by other threads after the final flush
        spawn.uninstall()
        self._restore_sigterm()
        try:
            atexit.unregister(self._atexit)
        except Exception:
            pass
        now = core._now()
        end = {"type": END, "wall_ns": self._wall_of(now), "monotonic_ns": now, "stats": self.stats.as_dict()}
        self._write([orjson.dumps(end, option=_DUMPS_OPTIONS)])
        self.sink.close()
        if self._pending_signal is not None:
            signum, frame = self._pending_signal
            self._pending_signal = None
            self._deliver_sigterm(signum, frame)
        return self.stats

    def _atexit(self) -> None:
        try:
            self.stop()
        except Exception:
            pass

    # --- flushing ----------------------------------------------------------
    def _wake(self) -> None:
        """Wake the flusher; cheap when it is already awake (called from the hot path)."""
        if self._wake_lock.locked():
            try:
                self._wake_lock.release()
            except RuntimeError:
                pass  # another thread woke it first

    def _flusher(self) -> None:
        interval = self.options.flush_interval_s
        try:
            while self._running:
                self._wake_lock.acquire(timeout=interval)
                if not self._running:
                    break
                try:
                    self.flush()
                except Exception as err:  # never let the flusher die silently
                    self._report("flush", f"racelane: flushing failed: {err!r}")
        finally:
            self._flusher_done.release()

    def flush(self, final: bool = False) -> None:
        """Write everything buffered; with ``final``, every open span as unfinished."""
        if core._active is not self and not self._stopping:
            successor = self._successor  # a forked child flushes its own recording
            if successor is not None:
                successor.flush(final)
            return
        with self._flush_lock:
            self._flushing_thread = self._thread_mod.get_ident()
            try:
                self._flush_locked(final)
            finally:
                self._flushing_thread = None
        if self._pending_signal is not None and not self._stopping:
            signum, frame = self._pending_signal
            self._pending_signal = None
            self._on_sigterm(signum, frame)

    def _flush_locked(self, final: bool) -> None:
        pairs = _take(core._rows)  # whole pairs only: each was added by one atomic +=
        fast = core._speedups
        batch = fast.take_spans() if fast is not None else None  # the C hot path's buffer
        marks = _take(core._marks)
        lines: list[bytes] = []
        for lane in _take(self.registry.pending):
            if not lane.announced:
                lane.announced = True
                lines.append(orjson.dumps(lane.record(), option=_DUMPS_OPTIONS))
        lanes = self.registry.snapshot()
        opened = self._open_rows(lanes, final)
        spans = len(pairs) // 2 + (len(batch) if batch is not None else 0)
        self.stats.spans += spans
        if pairs:
            self._serialize_columns(SPANS, pairs[0::2], pairs[1::2], lines)
        if batch is not None:
            self._serialize_batch(batch, lines)
        if opened:
            self.stats.open_spans += len(opened)
            self._serialize(OPEN, opened, lines)
        if marks:
            self.stats.marks += len(marks)
            self._serialize(MARKS, marks, lines)
        if lines:
            self._write(lines, spans + len(marks))

    def _open_rows(self, lanes: list[Any], final: bool) -> list[tuple[Any, ...]]:
        opened = []
        for lane in lanes:
            for span in list(lane.stack):
                if span.gen == core._gen and (final or not getattr(span, "announced", False)):
                    span.announced = True
                    opened.append((span.id, span.parent, lane.id, span.start_ns, span.name, span.cat, span.attrs or None))
        return opened

    def _serialize(self, kind: str, rows: list[tuple[Any, ...]], lines: list[bytes]) -> None:
        """Append ``kind`` lines for ``rows`` (attributes last in each row) to ``lines``."""
        self._serialize_columns(kind, [row[:-1] for row in rows], [row[-1] for row in rows], lines)

    def _serialize_columns(self, kind: str, plain: list[tuple[Any, ...]], attrs_list: list[Any], lines: list[bytes]) -> None:
        """Append ``kind`` lines for rows given as plain columns and their attributes."""
        redactor = self.redactor
        fast = core._speedups
        if fast is not None:  # the same test as _redact_slow's, in C
            for i in fast.unsafe_rows(attrs_list, redactor.safe_keys, redactor.max_value_chars, redactor.is_secret):
                attrs_list[i] = redactor.attrs(attrs_list[i])
        else:
            _redact_slow(redactor, attrs_list)
        for start in range(0, len(plain), ROWS_PER_LINE):
            self._dump_batch(kind, plain[start : start + ROWS_PER_LINE], attrs_list[start : start + ROWS_PER_LINE], lines)

    def _serialize_batch(self, batch: Any, lines: list[bytes]) -> None:
        """Append ``spans`` lines for a batch taken from the C hot path's buffer."""
        redactor = self.redactor
        for i in batch.unsafe(redactor.safe_keys, redactor.max_value_chars, redactor.is_secret):
            batch.set_attrs(i, redactor.attrs(batch.attrs_at(i)))
        for start in range(0, len(batch), ROWS_PER_LINE):
            stop = min(start + ROWS_PER_LINE, len(batch))
            counted = self.stats.unserializable
            try:
                line = batch.dump(start, stop, self._encode)
            except Exception:  # orjson refused a value (or memory ran out): the general path decides
                line = b""
            if not line or (len(line) > MAX_LINE_BYTES and stop - start > 1):
                # A value the C writer left to orjson failed, or the line is too
                # long: the general path repairs values and splits lines.
                self.stats.unserializable = counted
                self._dump_batch(SPANS, batch.rows(start, stop), batch.attrs_range(start, stop), lines)
            else:
                lines.append(line)

    def _encode(self, value: Any) -> bytes:
        """Serialize one value as the batch lines do (for the C writer's rare cases)."""
        return orjson.dumps(value, default=self._fallback)

    def _dump_batch(self, kind: str, rows: list[tuple[Any, ...]], attrs: list[Any], lines: list[bytes]) -> None:
        counted = self.stats.unserializable
        try:
            line = orjson.dumps({"type": kind, "rows": rows, "attrs": attrs}, default=self._fallback, option=_DUMPS_OPTIONS)
        except (TypeError, ValueError):
            self.stats.unserializable = counted  # redone below, each bad value counted once
            attrs = self._repair(rows, attrs)
            try:
                line = orjson.dumps({"type": kind, "rows": rows, "attrs": attrs}, default=self._fallback, option=_DUMPS_OPTIONS)
            except (TypeError, ValueError):  # a name or category orjson refuses (a lone surrogate)
                rows = self._repair_rows(rows)
                line = orjson.dumps({"type": kind, "rows": rows, "attrs": attrs}, default=self._fallback, option=_DUMPS_OPTIONS)
        if len(line) > MAX_LINE_BYTES and len(rows) > 1:
            # Readers refuse lines over 1 MiB: split big batches until they fit.
            self.stats.unserializable = counted
            half = len(rows) // 2
            self._dump_batch(kind, rows[:half], attrs[:half], lines)
            self._dump_batch(kind, rows[half:], attrs[half:], lines)
            return
        lines.append(line)

    def _repair(self, rows: list[tuple[Any, ...]], attrs: list[Any]) -> list[Any]:
        """Replace only the attribute values that cannot be serialized (huge ints, bad keys)."""
        repaired = []
        for row, item in zip(rows, attrs):
            try:
                orjson.dumps(item, default=_quiet_fallback)
            except (TypeError, ValueError):
                fixed: dict[str, Any] = {}
                for key, value in (item or {}).items():
                    try:
                        orjson.dumps(value, default=_quiet_fallback)
                        fixed[_writable_text(str(key))] = value
                    except (TypeError, ValueError) as err:
                        self.stats.unserializable += 1
                        self._report("unserializable-value", f"racelane: attribute {key!r} of {row[-3]!r} could not be written ({err}); replaced by a note")
                        fixed[_writable_text(str(key))] = f"<not serializable: {err}>"
                item = fixed or None
            repaired.append(item)
        return repaired

    def _repair_rows(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Make the names, categories and error texts orjson refuses writable (backslash escapes)."""
        repaired = []
        for row in rows:
            try:
                orjson.dumps(row, default=_quiet_fallback)
            except (TypeError, ValueError) as err:
                self.stats.unserializable += 1
                self._report("unserializable-name", f"racelane: a span or mark name could not be written as is ({err}); "
                             "its unencodable characters are written as escapes")
                row = tuple(_writable(value) for value in row)
            repaired.append(row)
        return repaired

    def _fallback(self, obj: Any) -> Any:
        if isinstance(obj, (set, frozenset)):
            return list(obj)
        self.stats.unserializable += 1
        kind = type(obj).__qualname__
        self._report(f"type:{kind}", f"racelane: attribute of type {kind} is not serializable; recorded as '<{kind}>'")
        return f"<{kind}>"

    def _write(self, lines: list[bytes], records: int = 0) -> None:
        write_lines = getattr(self.sink, "write_lines", None)
        err = write_lines(lines) if write_lines is not None else self.sink.write(b"".join(lines))
        if err is None:
            self.stats.bytes_written += sum(len(line) for line in lines)
            return
        self.stats.write_errors += 1
        self.stats.lost_on_write += records
        self._report("write", f"racelane: cannot write trace to {self.sink.description}: {err.strerror or err}; recording continues, losses are counted")

    def _report(self, key: str, message: str) -> None:
        """Log ``message`` once per ``key`` for the life of this recorder."""
        if key in self._reported:
            return
        self._reported.add(key)
        try:
            import logging

            logging.getLogger("racelane").warning(message)
        except Exception:
            pass

    # --- header ------------------------------------------------------------
    def _wall_of(self, monotonic_ns: int) -> int:
        """Map a time of this recording's clock to wall time through the header's anchor."""
        anchor = self._anchor
        if anchor is None:
            return time.time_ns()
        return monotonic_ns - anchor[0] + anchor[1]

    def _header(self) -> dict[str, Any]:
        before = time.monotonic_ns()
        wall = time.time_ns()
        after = time.monotonic_ns()
        clock = self.options.clock
        header: dict[str, Any] = {
            "type": HEADER,
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "host": self.options.host,
            "pid": os.getpid(),
            "process": self.options.process,
            "argv": _mask_argv(sys.argv[:64]),
            "clock": {
                "monotonic_ns": clock() if clock else (before + after) // 2,
                "wall_ns": wall,
                "source": "custom" if clock else "monotonic",
            },
            "profile": self.options.profile,
            "concurrency": _concurrency(),
            "python": sys.version.split()[0],
            "tracer": _version(),
        }
        header.update(self.options.extra_header)
        anchor: Any = header.get("clock") or {}
        try:
            self._anchor = (int(anchor["monotonic_ns"]), int(anchor["wall_ns"]))
        except (KeyError, TypeError, ValueError):
            self._anchor = None
        return header

    # --- signals and fork --------------------------------------------------
    def _install_sigterm(self) -> None:
        try:
            previous = signal.getsignal(signal.SIGTERM)
            if previous is signal.SIG_IGN:
                return
            signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError):  # not the main thread, or no signals here
            return
        self._previous_sigterm = previous
        self._sigterm_installed = True

    def _restore_sigterm(self) -> None:
        if not self._sigterm_installed:
            return
        self._sigterm_installed = False
        try:
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
        except (ValueError, OSError):
            pass

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self._stopping or self._flushing_thread == self._thread_mod.get_ident():
            # The signal interrupted our own flush or stop in this thread:
            # finish it first, then deliver the signal (see stop and flush).
            self._pending_signal = (signum, frame)
            return
        if callable(self._previous_sigterm):
            # The program handles SIGTERM itself: write what we have and keep
            # recording its graceful shutdown; exit handlers stop us later.
            try:
                self.flush()
            except Exception:
                pass
            self._previous_sigterm(signum, frame)
            return
        try:
            self.stop()
        except Exception:
            pass
        self._deliver_sigterm(signum, frame)

    def _deliver_sigterm(self, signum: int, frame: Any) -> None:
        """Let SIGTERM do what it would have done without racelane."""
        previous = self._previous_sigterm
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    def after_fork_in_child(self) -> None:
        """Continue recording in a forked child, into the child's own file."""
        # The child owns nothing of the parent's buffer, lanes, locks or thread.
        core._active = None
        core._gen += 1
        core._publish()
        self._sigterm_installed = False
        options = _without_id_start(self.options)  # the child must not repeat our span ids
        if self.path is None:
            child = Recorder(options, _NullSink())
        else:
            pattern = self.options.path
            if "{pid}" not in pattern:
                root, ext = os.path.splitext(pattern)
                pattern = f"{root}-{{pid}}{ext}"
            child = Recorder(_with_path(options, pattern))
        self._successor = child
        try:
            child.start()
        except Exception as err:
            child._report("fork", f"racelane: cannot record in forked child {os.getpid()}: {err}")
            return
        util = sys.modules.get("multiprocessing.util")
        if util is not None:
            # multiprocessing clears its finalizers right after fork, then
            # runs its after-fork hooks: re-register the exit flush there.
            try:
                util.register_after_fork(child, lambda rec: _register_multiprocessing_exit(rec._atexit))
            except Exception:
                pass


def _writable_text(text: str) -> str:
    """``text`` with what UTF-8 cannot hold (lone surrogates) as backslash escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _writable(value: Any) -> Any:
    """A row column orjson accepts: texts made writable, other values kept or shown as text."""
    if isinstance(value, str):
        return _writable_text(value)
    if isinstance(value, list):
        return [_writable(item) for item in value]
    try:
        orjson.dumps(value, default=_quiet_fallback)
        return value
    except (TypeError, ValueError):
        return _writable_text(repr(value))


def _quiet_fallback(obj: Any) -> Any:
    """Serialize what ``_fallback`` would, without counting (for trial serializations)."""
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    return f"<{type(obj).__qualname__}>"


class _NullSink:
    """Where a forked child of an in-memory capture writes: nowhere."""

    description = "<discarded>"

    def write(self, data: bytes) -> OSError | None:
        return None

    def close(self) -> None:
        pass


def _without_id_start(options: Options) -> Options:
    from dataclasses import replace

    return replace(options, id_start=None)


def _with_path(options: Options, pattern: str) -> Options:
    from dataclasses import replace

    return replace(options, path=pattern)


def _redact_slow(redactor: Redactor, attrs_list: list[Any]) -> None:
    """Pass every attribute dict the fast test cannot clear through the redactor, in place."""
    safe = redactor.safe_keys
    limit = redactor.max_value_chars
    for i, attrs in enumerate(attrs_list):
        if attrs is None:
            continue
        # Fast path, inline: known-safe keys and short plain values need nothing.
        for key, value in attrs.items():
            if key not in safe:
                break
            vtype = type(value)
            if vtype is str:
                if len(value) > limit or "@" in value:
                    break
            elif vtype is not int and vtype is not float and vtype is not bool and value is not None:
                break
        else:
            continue
        attrs_list[i] = redactor.attrs(attrs)


def _take(buffer: list[Any]) -> list[Any]:
    """Remove and return what ``buffer`` holds now; appends racing with us stay in it."""
    n = len(buffer)
    taken = buffer[:n]
    del buffer[:n]
    return taken


_fork_hook_registered = False


def _register_multiprocessing_exit(callback: Any) -> None:
    """Flush in multiprocessing children too: they leave through ``os._exit``."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        try:
            util.Finalize(None, callback, exitpriority=-100)
        except Exception:
            pass


def _register_fork_hook() -> None:
    global _fork_hook_registered
    if _fork_hook_registered or not hasattr(os, "register_at_fork"):
        return
    _fork_hook_registered = True
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _after_fork_in_child() -> None:
    recorder = core._active
    if recorder is not None:
        recorder.after_fork_in_child()


_SECRET_ARG_WORDS = ("password", "passwd", "token", "secret", "credential", "key")


def _mask_argv(argv: list[str]) -> list[str]:
    """Mask ``--password=x``, ``--password x`` and URL credentials in argv."""
    masked = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append("***")
            hide_next = False
            continue
        flag = arg.startswith("-")
        name, eq, _value = arg.partition("=")
        secret = any(w in name.lower() for w in _SECRET_ARG_WORDS)
        if secret and eq:
            masked.append(f"{name}=***")
        elif secret and flag:
            masked.append(arg)
            hide_next = True
        else:
            masked.append(mask_url(arg) if "@" in arg else arg)
    return masked


def _concurrency() -> str:
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None:
        try:
            if patcher.is_monkey_patched("thread"):
                return "eventlet"
        except Exception:
            pass
    return "threading"


_version_text: str | None = None


def _version() -> str:
    """``racelane X.Y.Z`` for the header; the package metadata is read once per process."""
    global _version_text
    if _version_text is None:
        try:
            from importlib.metadata import version

            _version_text = f"racelane {version('racelane')}"
        except Exception:
            _version_text = "racelane"
    return _version_text
