"""Cut the bytes of a growing file into complete lines, keeping the unfinished last one for later.

The loader's ``LineReader`` reads a file to its end once; a follower reads
the same file again and again as it grows, so the line being written when a
read ends (a *partial* line) must wait for its newline across reads. The
conventions are the loader's, so the same ``FileParser`` takes the output:
lines are ``(start, end)`` positions in the chunk that holds them (newline
excluded), a line longer than ``max_record_bytes`` is discarded as it goes and
handed on as ``None`` with its length in ``oversized`` (keyed by the line's
index among every line handed on), and memory stays bounded by
``max_record_bytes`` plus one read.
"""

from __future__ import annotations

from ._lines import Bounds


class LineSplitter:
    """Split pushed bytes on ``b"\\n"``; see the module docstring. Not thread-safe."""

    def __init__(self, max_record_bytes: int) -> None:
        if max_record_bytes < 1:
            raise ValueError(f"max_record_bytes must be at least 1, got {max_record_bytes}")
        self.max_record_bytes = max_record_bytes
        self.oversized: dict[int, int] = {}
        self.handed = 0  # lines handed on so far
        self._pending: list[bytes] = []  # pieces of the unfinished line
        self._pending_bytes = 0
        self._skipping = -1  # length so far of an oversized line being discarded, -1 when none

    @property
    def partial_bytes(self) -> int:
        """Return the length of the unfinished line waiting for its newline (0: the last read ended a line)."""
        return self._skipping if self._skipping >= 0 else self._pending_bytes

    def drop_partial(self) -> int:
        """Forget the unfinished line (its file was truncated or is gone); return its length."""
        dropped = self.partial_bytes
        self._pending, self._pending_bytes, self._skipping = [], 0, -1
        return dropped

    def push(self, data: bytes) -> list[tuple[bytes, list[Bounds | None]]]:
        """Return the complete lines that ``data`` finishes or holds, as ``(chunk, bounds)`` pairs.

        Complexity: O(len(data)), plus one copy of a line begun in earlier pushes.
        """
        out: list[tuple[bytes, list[Bounds | None]]] = []
        if not data:
            return out
        limit = self.max_record_bytes
        first = data.find(b"\n")
        if first < 0:  # no line ends here
            if self._skipping >= 0:
                self._skipping += len(data)
            else:
                self._pending.append(data)
                self._pending_bytes += len(data)
                if self._pending_bytes > limit:
                    self._skipping, self._pending, self._pending_bytes = self._pending_bytes, [], 0
            return out
        start = 0
        if self._skipping >= 0 or self._pending:  # the line begun earlier ends here: only it is copied
            if self._skipping >= 0 or self._pending_bytes + first > limit:
                self.oversized[self.handed] = (self._skipping if self._skipping >= 0 else self._pending_bytes) + first
                self.handed += 1
                out.append((data, [None]))
            else:
                joined = b"".join([*self._pending, data[:first]])
                out.append((joined, [(0, len(joined))]))
                self.handed += 1
            self._pending, self._pending_bytes, self._skipping = [], 0, -1
            start = first + 1
        bounds: list[Bounds | None] = []
        find = data.find
        while (end := find(b"\n", start)) >= 0:
            if end - start > limit:
                self.oversized[self.handed + len(bounds)] = end - start
                bounds.append(None)
            else:
                bounds.append((start, end))
            start = end + 1
        self.handed += len(bounds)
        if bounds:
            out.append((data, bounds))
        if len(data) - start > limit:
            self._skipping = len(data) - start
        elif start < len(data):
            self._pending, self._pending_bytes = [data[start:]], len(data) - start
        return out
