"""Split a file into lines, streaming it in binary chunks.

Lines are cut on ``b"\\n"`` only: a JSON text never holds a raw newline, so a
newline always ends a record. A line longer than ``max_record_bytes`` is not
kept: the reader discards it chunk by chunk as it goes and hands on ``None``
in its place, so memory stays bounded by ``max_record_bytes + chunk_bytes``.
The unterminated tail of the file (a line being written, or the last line of a
killed process) is never handed on; ``torn_tail_bytes`` says how long it was.

Lines are handed on as positions in the chunk that holds them, not as copies:
the parser searches them with ``bytes.find`` and ``bytes.startswith`` (which
take bounds) and parses slices of a ``memoryview`` of the chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

DEFAULT_CHUNK_BYTES = 1 << 22

Bounds = tuple[int, int]


class LineReader:
    """Iterate over a binary file as ``(chunk, bounds)`` pairs.

    ``chunk`` is a bytes object and ``bounds`` lists its complete lines as
    ``(start, end)`` positions (newline excluded), with ``None`` standing for
    a line over ``max_record_bytes``; ``oversized`` maps the position of such
    a line (its index among all lines handed on, from 0) to its length in
    bytes.
    """

    def __init__(self, stream: BinaryIO, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES, max_record_bytes: int = 1 << 20) -> None:
        if chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be at least 1, got {chunk_bytes}")
        if max_record_bytes < 1:
            raise ValueError(f"max_record_bytes must be at least 1, got {max_record_bytes}")
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self.max_record_bytes = max_record_bytes
        self.bytes_read = 0
        self.torn_tail_bytes = 0
        self.oversized: dict[int, int] = {}
        self._handed = 0  # lines handed on so far

    def __iter__(self) -> Iterator[tuple[bytes, list[Bounds | None]]]:
        read = self._stream.read
        size = self._chunk_bytes
        limit = self.max_record_bytes
        pending: list[bytes] = []  # pieces of an unfinished line, joined once its end arrives
        pending_bytes = 0
        skipping = -1  # length so far of an oversized line being discarded, -1 when none
        while data := read(size):
            self.bytes_read += len(data)
            first = data.find(b"\n")
            if first < 0:  # no line ends in this chunk
                if skipping >= 0:
                    skipping += len(data)
                else:
                    pending.append(data)
                    pending_bytes += len(data)
                    if pending_bytes > limit:
                        skipping, pending, pending_bytes = pending_bytes, [], 0
                continue
            start = 0
            if skipping >= 0 or pending:  # the line begun in earlier chunks ends here: only it is copied
                out: list[Bounds | None] = []
                if skipping >= 0:
                    self._note_oversized(out, skipping + first)
                    skipping = -1
                elif pending_bytes + first > limit:
                    self._note_oversized(out, pending_bytes + first)
                else:
                    joined = b"".join([*pending, data[:first]])
                    out.append((0, len(joined)))
                    self._handed += 1
                    yield joined, out
                    out = []
                pending, pending_bytes = [], 0
                start = first + 1
                if out:
                    self._handed += len(out)
                    yield data, out  # an oversized line: no bytes to look at
            out = []
            find = data.find
            while (end := find(b"\n", start)) >= 0:
                if end - start > limit:
                    self._note_oversized(out, end - start)
                else:
                    out.append((start, end))
                start = end + 1
            if len(data) - start > limit:
                skipping = len(data) - start
            elif start < len(data):
                pending, pending_bytes = [data[start:]], len(data) - start
            self._handed += len(out)
            if out:
                yield data, out
        self.torn_tail_bytes = skipping if skipping >= 0 else pending_bytes

    def _note_oversized(self, out: list[Bounds | None], length: int) -> None:
        self.oversized[self._handed + len(out)] = length
        out.append(None)
