"""Domain exceptions of the analysis core."""

from __future__ import annotations

from tracer.record.errors import RacelaneError


class TraceError(RacelaneError):
    """A file cannot be read as a racelane trace.

    The message is one sentence that names the file, and the line when one
    line is to blame (``trace.jsonl:1207: ...``). ``path`` and ``line`` carry
    the same facts for programs.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
