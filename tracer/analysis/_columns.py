"""Turn the ``rows`` of ``spans``, ``open`` and ``marks`` lines into numpy columns.

Rows arrive as lists parsed by orjson (attributes are not in them: they stay
raw in the ``AttrStore``, and each row only carries its ref there). Rows are
transposed line by line (``zip(*rows)``) into one Python list per column and
converted every ``BLOCK_ROWS`` rows: integers through ``array.array`` (which
refuses floats, strings, None and out-of-range numbers in C), strings
interned in bulk. When a block does not convert cleanly, its rows are checked
one by one instead; rows that fail are dropped and reported with their line
and the reason, the others are kept (with their own attributes).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from itertools import islice, repeat
from operator import is_not
from typing import Any, cast

import numpy as np
import orjson

from ._buffer import Columns

BLOCK_ROWS = 4096
TIME_LIMIT = 1 << 62  # times and lane ids stay below, so sums of two never overflow int64
_U64_LIMIT = 1 << 64

# What each column of the format holds (column names from tracer.record.format).
_KINDS = {
    "id": "id",
    "parent": "ref",
    "span": "ref",
    "lane": "lane",
    "start_ns": "time",
    "end_ns": "time",
    "ts_ns": "time",
    "name": "str",
    "cat": "str",
    "error": "error",
}
_RANGES = {"id": (1, _U64_LIMIT), "ref": (0, _U64_LIMIT), "lane": (0, TIME_LIMIT), "time": (0, TIME_LIMIT)}
_RANGE_TEXT = {"id": "1 and 2**64-1", "ref": "0 and 2**64-1", "lane": "0 and 2**62-1", "time": "0 and 2**62-1"}
_DTYPES = {"id": np.uint64, "ref": np.uint64, "lane": np.int64, "time": np.int64, "str": np.int32}


class Interner:
    """Strings interned to dense int32 codes, in order of first appearance."""

    __slots__ = ("index", "values")

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str) -> int:
        """Return the code of ``value``, adding it when new."""
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found

    def codes(self, column: list[Any]) -> np.ndarray:
        """Return the codes of a column of strings; raise _Invalid on anything else."""
        try:
            found = list(map(self.index.get, column))
        except TypeError:  # an unhashable value: an array or object
            raise _Invalid from None
        try:
            codes = array("i", cast("list[int]", found))
        except TypeError:  # None: a value seen for the first time (or not a string)
            for j, code in enumerate(found):
                if code is None:
                    value = column[j]
                    if type(value) is not str:
                        raise _Invalid from None
                    found[j] = self.code(value)
            codes = array("i", cast("list[int]", found))
        return np.frombuffer(codes, np.int32)


class _Invalid(Exception):
    """A block holds at least one bad row: check its rows one by one."""


def describe(value: Any) -> str:
    """Return a short JSON-like rendering of ``value`` for an error message."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is list:
        return f"an array of {len(value)} items"
    if type(value) is dict:
        return "an object"
    if type(value) is str:
        text = orjson.dumps(value[:60]).decode()
        return text if len(value) <= 60 else text[:-1] + '…"'
    return repr(value)[:60]


def error_value(value: Any) -> tuple[str, str] | None:
    """Return ``(type, message)`` from an ``error`` column value, None when malformed."""
    if type(value) is not list or not value or not all(type(item) is str for item in value[:2]):
        return None
    return (value[0], value[1] if len(value) > 1 else "")


class RowTable:
    """Rows of one kind (``spans``, ``open`` or ``marks``) of one file, as columns.

    Converted rows are appended to ``sink`` (see ``dtypes`` for its columns);
    ``errors`` maps sink rows to the ``(type, message)`` of their ``error``.

    Args:
        columns: the column names of a row, from ``tracer.record.format``.
        sink: where converted rows go.
        names, cats: interners shared by every file of a load.
        reject: called with ``(line, reason)`` for every row dropped.
    """

    def __init__(
        self,
        columns: tuple[str, ...],
        sink: Columns,
        *,
        names: Interner,
        cats: Interner,
        reject: Callable[[int, str], None],
    ) -> None:
        self.columns = columns
        self.width = len(columns)
        self.kinds = tuple(_KINDS[name] for name in columns)
        self._interners = {"name": names, "cat": cats}
        self._reject = reject
        self._pending: list[list[Any]] = [[] for _ in columns]
        self._batches: list[tuple[int, list[Any], np.ndarray]] = []  # (line, rows, attribute refs)
        self._count = 0
        self.sink = sink
        self.errors: dict[int, tuple[str, str]] = {}

    @staticmethod
    def dtypes(columns: tuple[str, ...]) -> dict[str, Any]:
        """Return the sink columns that rows with ``columns`` fill, and their types."""
        out: dict[str, Any] = {name: _DTYPES[_KINDS[name]] for name in columns if _KINDS[name] in _DTYPES}
        out["attrs_ref"] = np.int32
        return out

    def add(self, line: int, rows: list[Any], ref: int) -> None:
        """Take the rows of one line (``line`` is its 1-based number).

        ``ref`` is the attribute ref of the line's first row (row ``j`` has
        ``ref + j``), or -1 when the line's attributes are not available.
        """
        n = len(rows)
        if not n:
            return
        refs = np.arange(ref, ref + n, dtype=np.int32) if ref >= 0 else np.full(n, -1, np.int32)
        try:
            columns = list(islice(zip(*rows), self.width))  # stops at the shortest row
        except TypeError:  # a row that is not an array: a number, null, true
            columns = []
        if len(columns) < self.width:
            keep = self._checked(line, rows)
            if not keep:
                return
            rows, refs = [rows[j] for j in keep], refs[keep]
            columns = list(islice(zip(*rows), self.width))
        for pending, column in zip(self._pending, columns):
            pending.extend(column)
        self._batches.append((line, rows, refs))
        self._count += len(rows)
        if self._count >= BLOCK_ROWS:
            self.flush()

    def add_columns(self, columns: dict[str, np.ndarray], refs: np.ndarray, errors: dict[int, tuple[str, str]]) -> None:
        """Append rows already converted (and checked) elsewhere, after the rows taken so far.

        ``errors`` maps positions among these rows to their error.
        """
        self.flush()
        if not len(refs):
            return
        base = self.sink.size
        self.sink.append({**columns, "attrs_ref": refs})
        self.errors.update({base + row: error for row, error in errors.items()})

    def flush(self) -> None:
        """Convert the rows taken since the last flush."""
        if not self._count:
            return
        batches = self._batches
        try:
            out, errors = self._convert(self._pending)
            refs = [r for _, _, r in batches]
        except _Invalid:
            rows: list[Any] = []
            refs = []
            for line, batch, batch_refs in batches:
                keep = self._checked(line, batch)
                rows.extend(batch[j] for j in keep)
                refs.append(batch_refs[keep])
            pending = [list(column) for column in zip(*rows)] if rows else []
            out, errors = self._convert(pending) if rows else ({}, {})
        self.errors.update(errors)
        if out:
            out["attrs_ref"] = np.concatenate(refs) if len(refs) > 1 else refs[0]
            self.sink.append(out)
        self._pending = [[] for _ in self.columns]
        self._batches = []
        self._count = 0

    # --- conversion ------------------------------------------------------------
    def _convert(self, columns: list[list[Any]]) -> tuple[dict[str, np.ndarray], dict[int, tuple[str, str]]]:
        n = len(columns[0])
        out: dict[str, np.ndarray] = {}
        errors: dict[int, tuple[str, str]] = {}
        for name, kind, column in zip(self.columns, self.kinds, columns):
            if kind == "str":
                out[name] = self._interners[name].codes(column)
            elif kind == "error":
                if column.count(None) != n:
                    errors = self._errors(column)
            else:
                try:
                    values = np.frombuffer(array("Q", column), np.uint64)
                except (TypeError, OverflowError):
                    raise _Invalid from None
                if kind == "id" and values.min() == 0:
                    raise _Invalid
                if kind in ("lane", "time"):
                    if values.max() >= TIME_LIMIT:
                        raise _Invalid
                    values = values.view(np.int64)
                out[name] = values
        if "end_ns" in out and (out["end_ns"] < out["start_ns"]).any():
            raise _Invalid
        return out, errors

    def _errors(self, column: list[Any]) -> dict[int, tuple[str, str]]:
        found = {}
        present = np.fromiter(map(is_not, column, repeat(None)), bool, len(column))
        for j in np.flatnonzero(present).tolist():
            parsed = error_value(column[j])
            if parsed is None:
                raise _Invalid
            found[self.sink.size + j] = parsed
        return found

    # --- row by row ------------------------------------------------------------
    def _checked(self, line: int, rows: list[Any]) -> list[int]:
        """Return the positions of the good rows of ``rows``; report the others."""
        good = []
        for j, row in enumerate(rows):
            reason = self._check(row)
            if reason is None:
                good.append(j)
            else:
                self._reject(line, f"row {j}: {reason}")
        return good

    def _check(self, row: Any) -> str | None:
        if type(row) is not list:
            return f"a row must be an array, got {describe(row)}"
        if len(row) < self.width:
            return f"a row needs {self.width} columns ({', '.join(self.columns)}), got {len(row)}"
        for name, kind, value in zip(self.columns, self.kinds, row):
            if kind in _RANGES:
                low, high = _RANGES[kind]
                if not isinstance(value, int) or not low <= value < high:
                    return f"'{name}' must be an integer between {_RANGE_TEXT[kind]}, got {describe(value)}"
            elif kind == "str":
                if type(value) is not str:
                    return f"'{name}' must be a string, got {describe(value)}"
            elif kind == "error" and value is not None and error_value(value) is None:
                return f"'error' must be null or [type, message], got {describe(value)}"
        if "end_ns" in self.columns:
            start, end = row[self.columns.index("start_ns")], row[self.columns.index("end_ns")]
            if end < start:
                return f"'end_ns' must be >= 'start_ns', got {end} < {start}"
        return None
