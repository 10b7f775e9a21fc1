"""Where serialized lines go: an ``O_APPEND`` file, or memory for tests.

A sink is anything with ``write(data)``, ``close()`` and a ``description``,
and optionally ``write_lines(lines)`` to take a flush's lines without joining
them first. Both receive whole lines only and must not raise: the recorder
counts what a sink could not take.
"""

from __future__ import annotations

import errno
import os
from typing import Protocol


class Sink(Protocol):
    """Destination of serialized trace lines."""

    description: str

    def write(self, data: bytes) -> OSError | None:
        """Write whole lines; return the error instead of raising it."""

    def close(self) -> None:
        """Release the destination; writing afterwards is an error."""


_IOV_MAX = 512  # buffers per writev, well under the system limit (1024 on Linux)


class JsonlSink:
    """Append whole lines to a file opened with ``O_APPEND`` and mode 0600.

    Each call is one ``os.write`` of complete lines (looped only on a short
    write), so concurrent writers never interleave inside a line on a local
    file system. The file is opened lazily on the first write, so a recorder
    that never records creates no file.
    """

    def __init__(self, path: str, mode: int = 0o600, fsync: bool = False) -> None:
        self.path = path
        self.description = path
        self.mode = mode
        self.fsync = fsync
        self._fd: int | None = None

    def _open(self) -> int:
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, self.mode)
        # Appending to a file that ends in a torn line (a killed writer): end
        # that line first, so our header starts a line of its own.
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
        return fd

    def write(self, data: bytes) -> OSError | None:
        try:
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                if written <= 0:
                    return OSError(errno.EIO, "short write", self.path)
                view = view[written:]
            if self.fsync:
                os.fsync(self._fd)
        except OSError as err:
            return err
        return None

    def write_lines(self, lines: list[bytes]) -> OSError | None:
        """Write ``lines`` (each whole) with one ``os.writev``: no joined copy of a flush.

        ``writev`` appends its buffers as one block, as ``write`` does; a short
        write goes on with what is left.
        """
        if len(lines) > _IOV_MAX:
            return self.write(b"".join(lines))
        try:
            if self._fd is None:
                self._fd = self._open()
            total = sum(len(line) for line in lines)
            written = os.writev(self._fd, lines)
            if written <= 0:
                return OSError(errno.EIO, "short write", self.path)
            if written < total:
                return self.write(b"".join(lines)[written:])
            if self.fsync:
                os.fsync(self._fd)
        except OSError as err:
            return err
        return None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


class MemorySink:
    """Keep written lines in memory (``tracer.testing.capture`` uses it)."""

    description = "<memory>"

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> OSError | None:
        self.chunks.append(bytes(data))
        return None

    def close(self) -> None:
        pass

    def lines(self) -> list[bytes]:
        """Return every line written so far."""
        return b"".join(self.chunks).splitlines()
