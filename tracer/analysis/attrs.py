"""Attributes kept as the raw JSON the recorder wrote, decoded only when asked for.

Each ``spans``, ``open`` and ``marks`` line carries the attributes of its rows
as one JSON array, its last key (``"attrs":[...]``). The loader never parses
it: it copies the array's bytes into the store as they are, one *batch* per
line. The batches read from one chunk of a file are joined into one bytes
object (a *blob*), so the store holds few, exactly sized objects, and a batch
is ``(blob, start, stop)`` plus its first *ref*: every row of every batch gets
one int32 ref, consecutive within a batch, so a span or mark needs a single
number (``attrs_ref``, -1 for none) to find its attributes, and the batch
holding ref ``r`` is found by bisection.

Reading a span's attributes decodes its batch (up to 1024 rows, a fraction of
a millisecond) and returns a fresh copy of one item. A few recently decoded
batches are kept (least recently used goes first), so walking spans in time
order decodes each batch about once. What a batch turns out to hold is checked
when it is decoded: an array of one object or null per row. When it is not
(invalid JSON, another length, not an array), the attributes of all its rows
are reported missing, once, with file and line, through ``Problems``; an item
that is neither an object nor null is reported and read as ``{}``. Nothing a
blob holds makes reading raise.

The store is appended to by one writer (a loader, or a follower that goes on
appending while others read); reads are safe from several threads (a lock
guards the cache and the reporting; decoding happens outside it). Readers see
the batches *published* by the writer's last ``seal`` and never seal
themselves: a seal from a reader, in the middle of the writer's ``add``,
would cut the pieces of the blob being built apart from the offsets already
given to them.
"""

from __future__ import annotations

import mmap
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from ._columns import describe

_MAP_FLAGS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)  # fault the pages in at once
CACHED_BATCHES = 16  # decoded batches kept for ``get``
MAX_REFS = (1 << 31) - 1  # refs are int32
_WRAP = b'{"attrs":'

Reporter = Callable[[int, int, str, int], None]  # (origin, line, reason, rows)


def fresh(value: Any) -> dict[str, Any]:
    """Return a deep copy of an attribute dict (``{}`` for None) that the caller may change."""
    if not value:
        return {}
    try:
        return orjson.loads(orjson.dumps(value))  # type: ignore[no-any-return]
    except (TypeError, orjson.JSONEncodeError):  # deeper than orjson writes (it reads deeper)
        return _copy(value)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    """Return a deep copy of a JSON value without recursion (it may be nested ~1000 deep)."""
    top: Any = {} if type(value) is dict else []
    stack: list[tuple[Any, Any]] = [(value, top)]
    while stack:
        source, target = stack.pop()
        for key, item in source.items() if type(source) is dict else enumerate(source):
            kind = type(item)
            if kind is dict or kind is list:
                item, inner = ({} if kind is dict else []), item
                stack.append((inner, item))
            if type(target) is dict:
                target[key] = item
            else:
                target.append(item)
    return top


_ITEM_TYPES = {dict, type(None)}


class AttrStore:
    """The attribute arrays of every batch of a load, addressed by int32 refs."""

    def __init__(self, report: Reporter | None = None, *, mapped: bool = True) -> None:
        self.blobs: list[mmap.mmap | bytes] = []
        self._mapped = mapped  # blobs in anonymous maps (a load's few big ones) or bytes (a follower's many small ones)
        self._blob = array("i")  # per batch: its blob
        self._start = array("q")  # per batch: where its array starts in the blob
        self._stop = array("q")
        self._first = array("q")  # per batch: its first ref (ascending)
        self._rows = array("i")  # per batch: how many rows (items) it must hold
        self._line = array("q")  # per batch: its line in its file
        self._origin = array("i")  # per batch: who to blame (see ``Reporter``)
        self._parts: list[Any] = []  # pieces of the blob being built
        self._parts_bytes = 0
        self._refs = 0
        self._published = 0  # batches a reader may see: sealed, with their blob in ``blobs``
        self._published_refs = 0  # refs of those batches
        self._report = report
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, list[Any]] = OrderedDict()
        self._failed: set[int] = set()  # batches already reported

    def __len__(self) -> int:
        """Return how many batches the store holds."""
        return len(self._first)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the blobs as bytes, without the lock and the cache."""
        self.seal()
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_cache")}
        state["blobs"] = [bytes(blob) for blob in self.blobs]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._cache = OrderedDict()

    @property
    def refs(self) -> int:
        """Return how many refs were given out."""
        return self._refs

    @property
    def nbytes(self) -> int:
        """Return how many bytes of JSON the store holds."""
        return sum(map(len, self.blobs)) + self._parts_bytes

    # --- loading ---------------------------------------------------------------
    def add(self, raw: bytes | memoryview, rows: int, line: int, origin: int) -> int:
        """Take the JSON array ``raw`` (copied at the next ``seal``) for ``rows`` rows; return its first ref.

        Raises:
            OverflowError: more than 2**31-1 rows in one load.
        """
        first = self._refs
        if first + rows > MAX_REFS:
            raise OverflowError("more than 2**31-1 rows of attributes in one load")
        self._refs = first + rows
        self._blob.append(len(self.blobs))
        self._start.append(self._parts_bytes)
        self._parts_bytes += len(raw)
        self._stop.append(self._parts_bytes)
        self._first.append(first)
        self._rows.append(rows)
        self._line.append(line)
        self._origin.append(origin)
        self._parts.append(raw)
        return first

    def seal(self) -> None:
        """Copy the batches taken since the last seal into one blob (call before their buffers go).

        A blob is an anonymous memory map, not a bytes object: blobs live as
        long as the trace, and on the heap they would pin the memory of the
        loader's short-lived buffers freed around them (the process would
        keep tens of MB it no longer uses). A follower seals after every read
        (``mapped=False``): its blobs are small and many, kept as bytes.
        """
        if self._parts_bytes and not self._mapped:
            self.blobs.append(b"".join(self._parts))
        elif self._parts_bytes:
            blob = mmap.mmap(-1, self._parts_bytes, flags=_MAP_FLAGS)
            for part in self._parts:
                blob.write(part)
            self.blobs.append(blob)
        elif self._parts:
            self.blobs.append(b"")
        self._parts, self._parts_bytes = [], 0
        self._published_refs = self._refs  # after the blob is in place: a reader of these refs finds it
        self._published = len(self._first)

    def check(self, first_batch: int = 0) -> None:
        """Decode the batches from ``first_batch`` on, reporting what is wrong with them (strict loads)."""
        self.seal()
        for batch in range(first_batch, len(self)):
            self._decode(batch)

    # --- reading ---------------------------------------------------------------
    def get(self, ref: int) -> dict[str, Any]:
        """Return the attributes of ``ref`` as a fresh dict; ``{}`` when there are none or -1."""
        if not 0 <= ref < self._published_refs:
            return {}
        batch = bisect_right(self._first, ref) - 1
        with self._lock:
            values = self._cache.get(batch)
            if values is not None:
                self._cache.move_to_end(batch)
        if values is None:
            values = self._decode(batch)
            with self._lock:
                self._cache[batch] = values
                while len(self._cache) > CACHED_BATCHES:
                    self._cache.popitem(last=False)
        return fresh(values[ref - self._first[batch]])

    def many(self, refs: np.ndarray) -> list[dict[str, Any]]:
        """Return the attributes of many refs (-1 for none), decoding each batch once.

        Every dict returned is the caller's own. Complexity: O(refs + bytes
        of the batches touched).
        """
        out: list[dict[str, Any]] = [{} for _ in range(len(refs))]
        for positions, batch, items in self._grouped(refs):
            values, shared = self._values_of(batch)
            handed: set[int] = set()
            for k, item in zip(positions, items):
                value = values[item]
                if value:
                    out[k] = fresh(value) if shared or item in handed else value
                    handed.add(item)
        return out

    def values(self, refs: np.ndarray, key: str) -> list[Any]:
        """Return attribute ``key`` of each ref (None when absent), not copied: for reading, not changing.

        Batches whose JSON does not hold the key (``"key"``) are not decoded.
        """
        out: list[Any] = [None] * len(refs)
        needle = orjson.dumps(key)
        for positions, batch, items in self._grouped(refs):
            if self.blobs[self._blob[batch]].find(needle, self._start[batch], self._stop[batch]) < 0:
                continue
            values, _shared = self._values_of(batch)
            for k, item in zip(positions, items):
                value = values[item]
                if value:
                    out[k] = value.get(key)
        return out

    def batch_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return the published batches as columns ``(blob, start, stop, first ref, rows)`` (int64), for byte-level scans.

        Batch ``b``'s JSON array is ``blobs[blob[b]][start[b]:stop[b]]``, its
        rows have refs ``first[b] .. first[b] + rows[b] - 1``. Batches added
        since the writer's last ``seal`` are left out (no row of a trace
        handed out refers to them yet).
        """
        n = self._published
        columns = (self._blob, self._start, self._stop, self._first, self._rows)
        return tuple(np.array(a[:n], np.int64) for a in columns)  # type: ignore[return-value]

    def _grouped(self, refs: np.ndarray) -> list[tuple[list[int], int, list[int]]]:
        """Group ``refs`` by batch: ``[(positions in refs, batch, items in the batch)]``."""
        refs = np.asarray(refs, np.int64)
        wanted = np.flatnonzero((refs >= 0) & (refs < self._published_refs))
        if len(wanted) == 0:
            return []
        # A copy: a view would pin the array's buffer, and the writer's next ``add`` could not grow it.
        first = np.frombuffer(self._first[: self._published], np.int64)
        batches = np.searchsorted(first, refs[wanted], "right") - 1
        order = np.argsort(batches, kind="stable")
        wanted, batches = wanted[order], batches[order]
        cuts = np.flatnonzero(np.diff(batches)) + 1
        groups = []
        for rows in np.split(np.arange(len(wanted)), cuts):
            batch = int(batches[rows[0]])
            positions = wanted[rows]
            groups.append((positions.tolist(), batch, (refs[positions] - first[batch]).tolist()))
        return groups

    def _values_of(self, batch: int) -> tuple[list[Any], bool]:
        """Return batch ``batch`` decoded, and whether that list is the cache's (hand out copies then)."""
        with self._lock:
            values = self._cache.get(batch)
        return (values, True) if values is not None else (self._decode(batch), False)

    def _decode(self, batch: int) -> list[Any]:
        """Return the items of ``batch``: one dict or None per row (all None when unreadable)."""
        rows = self._rows[batch]
        raw = memoryview(self.blobs[self._blob[batch]])[self._start[batch] : self._stop[batch]]
        try:
            values = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            values = _after_last_key(raw)  # keys after ``attrs``: not as written, but readable
            if values is None:
                return self._fail(batch, f"the 'attrs' array is not valid JSON ({err})")
        if type(values) is not list:
            return self._fail(batch, f"'attrs' must be an array, got {describe(values)}")
        if len(values) != rows:
            return self._fail(batch, f"'attrs' holds {len(values)} items for {rows} rows")
        if set(map(type, values)) <= _ITEM_TYPES:  # the common case, checked without a Python loop
            return values
        odd = [k for k, value in enumerate(values) if value is not None and type(value) is not dict]
        if odd:
            more = f" (and {len(odd) - 1} more)" if len(odd) > 1 else ""
            self._blame(batch, f"attrs item {odd[0]} must be an object or null, got {describe(values[odd[0]])}{more}; read as {{}}", len(odd))
            for k in odd:
                values[k] = None
        return values

    def _fail(self, batch: int, reason: str) -> list[Any]:
        rows = self._rows[batch]
        self._blame(batch, f"{reason}; the attributes of its {rows} rows are missing", rows)
        return [None] * rows

    def _blame(self, batch: int, reason: str, rows: int) -> None:
        with self._lock:
            if batch in self._failed or self._report is None:
                return
            self._failed.add(batch)
            self._report(self._origin[batch], self._line[batch], reason, rows)


def _after_last_key(raw: memoryview) -> Any:
    """Read ``raw`` as the value of ``attrs`` followed by more keys (``[...],"x":1``), else None."""
    try:
        record = orjson.loads(_WRAP + bytes(raw) + b"}")
    except orjson.JSONDecodeError:
        return None
    return record.get("attrs") if type(record) is dict else None
