"""Starting and stopping a recording, and the entry points that load lazily.

These functions import the recorder's heavier modules (orjson, dataclasses,
tomllib) on first use, so ``import tracer`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import core

if TYPE_CHECKING:
    from .instrument import Instrumentation
    from .locks import TracedLock
    from .options import Options
    from .profiles import AppliedProfile
    from .recorder import Recorder, RecordingStats
    from .sink import Sink


class Recording:
    """A running recording; stop it with ``stop()`` or by leaving a ``with`` block."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.profile_applied: AppliedProfile | None = None

    @property
    def path(self) -> str | None:
        """The file being written, None for an in-memory capture."""
        return self.recorder.path

    def flush(self) -> None:
        """Write what is buffered now (open spans included) without stopping."""
        self.recorder.flush()

    def stop(self) -> RecordingStats:
        """Stop recording, undo the profile's instrumentation, close the file."""
        global _current
        if _current is self:
            _current = None
        if self.profile_applied is not None:
            self.profile_applied.undo()
            self.profile_applied = None
        return self.recorder.stop()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_current: Recording | None = None


def start(path: str | None = None, *, sink: Sink | None = None, **options: Any) -> Recording:
    """Start recording into ``path`` (``{host}``, ``{pid}``, ``{process}`` expand).

    Args:
        path: output file pattern; default ``racelane-{host}-{pid}.jsonl``.
        sink: write somewhere else than a file (tests use a memory sink).
        **options: any field of ``tracer.record.options.Options``, for
            example ``flush_interval_s``, ``profile``, ``host``, ``clock``.

    Returns:
        The running ``Recording``; also a context manager that stops it.

    Raises:
        ConfigError: an option is malformed. RuntimeError: already recording.
    """
    global _current
    from .options import Options
    from .recorder import Recorder

    if path is not None:
        options["path"] = path
    opts = Options(**options)
    recorder = Recorder(opts, sink)
    recording = Recording(recorder)
    recorder.start()
    _current = recording
    if opts.profile:
        try:
            recording.profile_applied = apply_profile(opts.profile)
        except Exception:
            recording.stop()
            _current = None
            raise
    return recording


def stop() -> RecordingStats | None:
    """Stop the recording started by ``start``; return its counts (None if none ran)."""
    global _current
    recording, _current = _current, None
    if recording is None:
        active = core._active
        return active.stop() if active is not None else None
    return recording.stop()


def is_recording() -> bool:
    """Tell whether a recording is running in this process."""
    return core._active is not None


def traced_lock(lock: Any, name: str) -> TracedLock:
    """Wrap a lock-like object so waits and holds are recorded as ``lock`` spans."""
    from .locks import TracedLock

    return TracedLock(lock, name)


def instrument(
    target: str,
    *,
    cat: str = "",
    name: str | None = None,
    attrs: Any = None,
    result: Any = None,
    kind: str = "span",
    lock_arg: str | None = None,
) -> Instrumentation:
    """Wrap the function or method at dotted path ``target`` in a span (or mark, or lock).

    See ``tracer.record.instrument.instrument`` for the arguments.
    """
    from .instrument import instrument as _instrument

    return _instrument(target, cat=cat, name=name, attrs=attrs, result=result, kind=kind, lock_arg=lock_arg)


def uninstrument(target: str | None = None) -> int:
    """Restore ``target`` (or every instrumented target) exactly; return how many."""
    from .instrument import uninstrument as _uninstrument

    return _uninstrument(target)


def apply_profile(profile: str, eager: bool = False) -> AppliedProfile:
    """Apply a profile by name (``nova``) or TOML path; missing targets only warn.

    Targets in modules not imported yet are instrumented when those modules
    are imported; ``eager=True`` imports them now.
    """
    from .profiles import apply_profile as _apply

    return _apply(profile, eager=eager)


def options_from_env(**overrides: Any) -> Options:
    """Return options built from ``RACELANE_*`` environment variables."""
    from .options import Options

    return Options.from_env(**overrides)
