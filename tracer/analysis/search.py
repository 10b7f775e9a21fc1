"""Find spans and marks by name or attribute value, over the columns and the raw attribute bytes.

A query is plain text, matched case-insensitively (ASCII letters) as a
substring of span and mark names and of attribute *values*: strings, numbers,
``true``/``false``/``null`` and list or object items at any depth, never
keys. ``key=text`` matches the spans whose attribute ``key`` holds a value
containing ``text`` (``key=`` alone: spans that have the attribute).

Names are interned, so each distinct name is tested once and the hits reach
the rows through one numpy lookup. Attributes stay the JSON bytes the loader
kept (``AttrStore``): each blob is searched with ``bytes.find``, and only the
batches holding the text are scanned further, in numpy, to tell values from
keys and to find which row each hit belongs to (the commas at the top level
of the batch's array separate its rows). A plain query decodes nothing; a
``key=`` query decodes the rows that hold the text, to check the key.
Complexity: O(bytes of attributes) for the ``find``, plus O(bytes of the
batches holding the text) for the scans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from .attrs import AttrStore
from .model import Trace

_KEY_QUERY = re.compile(r"^([A-Za-z_][\w.\-]*)=(.*)$", re.DOTALL)
_LITERAL = frozenset(b"0123456789+-.eEtruefalsn")  # what a value outside quotes is made of
_BACKSLASH, _COLON = 92, 58
# Byte classes of the structural scan: a lookup table, so one pass finds them all.
_Q, _OPENING, _CLOSING, _SEPARATOR = 1, 2, 3, 4
_CLASS = np.zeros(256, np.uint8)
_CLASS[34] = _Q  # "
_CLASS[[91, 123]] = _OPENING  # [ {
_CLASS[[93, 125]] = _CLOSING  # ] }
_CLASS[44] = _SEPARATOR  # ,
_STEP = np.zeros(5, np.int32)
_STEP[_OPENING], _STEP[_CLOSING] = 1, -1
_SCAN_BYTES = 1 << 21  # batches scanned together: bounds the scan's temporary arrays (about 40 bytes per byte)
_BLANK = np.zeros(256, bool)
_BLANK[[32, 9, 10, 13]] = True


@dataclass(frozen=True)
class Query:
    """A parsed query: ``text`` (lowered) in any value, or in attribute ``key``'s value."""

    text: str
    key: str | None = None

    @property
    def names_too(self) -> bool:
        """Whether the query also matches span and mark names (plain text does, ``key=`` does not)."""
        return self.key is None


def parse_query(text: str) -> Query | None:
    """Return the query ``text`` means (see the module docstring), or None when there is nothing to look for."""
    stripped = text.strip()
    found = _KEY_QUERY.match(stripped)
    if found:
        return Query(found.group(2).strip().lower(), found.group(1))
    return Query(stripped.lower()) if stripped else None


@dataclass(frozen=True)
class SearchHits:
    """The rows a query matched, ascending (spans are in start order, marks in time order)."""

    spans: np.ndarray  # int64 span rows
    marks: np.ndarray  # int64 mark rows

    def __len__(self) -> int:
        return len(self.spans) + len(self.marks)


def search(trace: Trace, query: str | Query) -> SearchHits:
    """Return the spans and marks of ``trace`` that ``query`` matches."""
    q = parse_query(query) if isinstance(query, str) else query
    if q is None:
        return SearchHits(np.zeros(0, np.int64), np.zeros(0, np.int64))
    refs = matching_refs(trace.store, q)
    spans, marks = trace.spans, trace.marks
    span_hit = _in_sorted(spans.attrs_ref, refs)
    mark_hit = _in_sorted(marks.attrs_ref, refs)
    if q.names_too:
        named = np.array([q.text in name.lower() for name in trace.names], bool)
        if named.any():
            span_hit |= named[spans.name]
            mark_hit |= named[marks.name]
    return SearchHits(np.flatnonzero(span_hit).astype(np.int64), np.flatnonzero(mark_hit).astype(np.int64))


def matching_refs(store: AttrStore, query: Query) -> np.ndarray:
    """Return the sorted attribute refs whose attributes ``query`` matches (never their names)."""
    blob_of, starts, stops, firsts, counts = store.batch_table()
    text = orjson.dumps(query.text)[1:-1].lower()  # as it is written inside a JSON string: quotes escaped
    key_needle = orjson.dumps(query.key).lower() if query.key is not None else b""
    needle = text or key_needle
    if not needle:
        return np.zeros(0, np.int64)
    found: list[np.ndarray] = []
    for blob in np.unique(blob_of).tolist():
        batches = np.flatnonzero(blob_of == blob)
        lo = int(starts[batches[0]])
        ends = stops[batches] - lo
        data = bytes(store.blobs[blob][lo : int(stops[batches[-1]])]).lower()
        # Which batches hold the text: one ``find`` per batch that does, one per gap between them.
        holding = []
        pos = data.find(needle)
        while pos >= 0:
            k = int(np.searchsorted(ends, pos, side="right"))
            if k >= len(batches):
                break
            a0, a1 = int(starts[batches[k]]) - lo, int(ends[k])
            if not key_needle or data.find(key_needle, a0, a1) >= 0:
                holding.append(k)
            pos = data.find(needle, a1)
        if not holding:
            continue
        picked = batches[holding]
        if not text:  # ``key=``: every row of those batches, checked below
            found += [np.arange(int(firsts[b]), int(firsts[b] + counts[b])) for b in picked.tolist()]
            continue
        # Scan runs of consecutive batches holding the text together, up to _SCAN_BYTES at a time.
        holding_a = np.asarray(holding)
        size = ends[holding_a] - (starts[batches[holding_a]] - lo)
        piece = np.cumsum(size) // _SCAN_BYTES
        cuts = np.flatnonzero((np.diff(holding_a) != 1) | (np.diff(piece) != 0)) + 1
        for run in np.split(holding_a, cuts):
            region = batches[run]
            r0, r1 = int(starts[region[0]]) - lo, int(ends[run[-1]])
            raw = np.frombuffer(data, np.uint8, r1 - r0, r0)
            batch, item = value_items(raw, text, starts[region] - lo - r0, counts[region])
            found.append(firsts[region][batch] + item)
    refs = _sorted_unique(np.concatenate(found)) if found else np.zeros(0, np.int64)
    if query.key is not None and len(refs):
        refs = _check_key(store, refs, query.key, query.text)
    return refs


def value_items(raw: np.ndarray, needle: bytes, batch_start: np.ndarray | None = None,
                rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(batch, item)`` of the rows that hold ``needle`` in a value, in order.

    ``raw`` (uint8) holds consecutive ``attrs`` arrays, ``[{...}, null, ...]``,
    the batches, starting at the offsets ``batch_start`` (default: one batch
    at 0) and holding ``rows`` rows each (default: unbounded). A hit counts
    when it lies wholly inside a string that is not an object key, or outside
    strings where only a number or ``true``/``false``/``null`` can be, inside
    an item (not a ``null`` item itself). Each batch is read on its own (the
    counts of quotes and brackets restart at its first byte), so a malformed
    batch cannot disturb the next; items past ``rows`` are dropped.
    Complexity: O(len(raw)), in a few numpy passes.
    """
    first = np.zeros(1, np.int64) if batch_start is None else np.asarray(batch_start, np.int64)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    hits = _occurrences(raw, needle)
    if not len(hits):
        return empty
    n = len(raw)
    # Every byte that matters to the structure, in order, with what it is.
    structure = np.flatnonzero(_CLASS[raw]).astype(np.int32)
    kind = _CLASS[raw[structure]]
    is_quote = kind == _Q
    is_quote[is_quote] = _unescaped(raw, structure[is_quote])
    quote = structure[is_quote]
    per_batch = np.diff(np.append(np.searchsorted(structure, first), len(structure)))
    s_batch = np.repeat(np.arange(len(first), dtype=np.int32), per_batch)
    quotes_upto = np.cumsum(is_quote, dtype=np.int32)  # real quotes at or before each structural byte
    q_before = np.searchsorted(quote, first).astype(np.int32)  # string parity restarts at each batch
    s_in_string = ((quotes_upto - is_quote - q_before[s_batch]) & 1).astype(bool)
    step = _STEP[kind]
    step[s_in_string] = 0
    level = np.cumsum(step, dtype=np.int32)  # bracket depth after each structural byte
    del step
    start_at = np.searchsorted(structure, first) - 1
    level_before = np.where(start_at >= 0, level[np.maximum(start_at, 0)], 0)  # depth where each batch starts

    hit_batch = np.searchsorted(first, hits, side="right") - 1
    at = np.searchsorted(structure, hits) - 1  # the last structural byte before each hit
    seen = np.where(at >= 0, quotes_upto[np.maximum(at, 0)], 0)
    inside = ((seen - q_before[hit_batch]) % 2) == 1
    close = np.append(quote, n)[np.minimum(seen, len(quote))]  # the closing quote, for hits inside a string
    ok = np.where(inside, hits + len(needle) <= close, set(needle) <= _LITERAL)
    if inside.any():
        after = close + 1
        for _ in range(64):  # skip whitespace between a string and a colon
            blank = (after < n) & _BLANK[raw[np.minimum(after, n - 1)]]
            if not blank.any():
                break
            after = after + blank
        ok &= ~(inside & (after < n) & (raw[np.minimum(after, n - 1)] == _COLON))  # a key, not a value
    depth = np.where(at >= 0, level[np.maximum(at, 0)], 0) - level_before[hit_batch]
    ok &= depth >= 2  # inside an item, not the batch's array itself
    hits, hit_batch = hits[ok], hit_batch[ok]
    if not len(hits):
        return empty
    separator = (kind == _SEPARATOR) & ~s_in_string & (level - level_before[s_batch] == 1)
    separators = structure[separator]
    item = np.searchsorted(separators, hits) - np.searchsorted(separators, first)[hit_batch]
    pair = hit_batch * (int(item.max()) + 1) + item
    fresh = np.ones(len(pair), bool)
    fresh[1:] = pair[1:] != pair[:-1]  # hits are in order: a row's hits are neighbours
    batch, item = hit_batch[fresh], item[fresh]
    if rows is not None:
        fits = item < np.asarray(rows, np.int64)[batch]
        batch, item = batch[fits], item[fits]
    return batch.astype(np.int64), item.astype(np.int64)


def _occurrences(raw: np.ndarray, needle: bytes) -> np.ndarray:
    """Return every start position of ``needle`` in ``raw`` (overlapping ones included)."""
    m = len(needle)
    if m == 0 or len(raw) < m:
        return np.zeros(0, np.int64)
    pos = np.flatnonzero(raw[: len(raw) - m + 1] == needle[0])
    for j in range(1, m):
        if not len(pos):
            break
        pos = pos[raw[pos + j] == needle[j]]
    return pos.astype(np.int64)


def _unescaped(raw: np.ndarray, quote: np.ndarray) -> np.ndarray:
    """Return which of the quotes open or close strings: those after an even run of backslashes."""
    escaped = np.zeros(len(quote), bool)
    run = quote[(quote > 0) & (raw[np.maximum(quote - 1, 0)] == _BACKSLASH)]
    if len(run):
        count = np.zeros(len(run), np.int64)
        at = run - 1
        alive = np.ones(len(run), bool)
        while alive.any():  # walk back over each run of backslashes, all runs at once
            alive &= (at >= 0) & (raw[np.maximum(at, 0)] == _BACKSLASH)
            count += alive
            at -= 1
        escaped[np.isin(quote, run[count % 2 == 1])] = True
    return ~escaped


def _check_key(store: AttrStore, refs: np.ndarray, key: str, text: str) -> np.ndarray:
    """Keep the refs whose attribute ``key`` is present and (if ``text``) holds ``text`` in its value."""
    keep = [value is not _ABSENT and (not text or _holds(value, text))
            for value in _values_or_absent(store, refs, key)]
    return refs[np.array(keep, bool)] if keep else refs


class _Absent:
    pass


_ABSENT = _Absent()


def _values_or_absent(store: AttrStore, refs: np.ndarray, key: str) -> list[Any]:
    return [attrs.get(key, _ABSENT) for attrs in store.many(refs)]


def _holds(value: Any, text: str) -> bool:
    """Whether ``value`` (any JSON value) holds ``text`` (lowered) in a string, number or literal."""
    stack = [value]
    while stack:
        v = stack.pop()
        if type(v) is dict:
            stack.extend(v.values())
        elif type(v) is list:
            stack.extend(v)
        elif type(v) is str:
            if text in v.lower():
                return True
        elif text in orjson.dumps(v).decode():
            return True
    return False


def _in_sorted(refs: np.ndarray, sorted_refs: np.ndarray) -> np.ndarray:
    """Return, per ref, whether it is in ``sorted_refs`` (ascending, unique); -1 never is."""
    if not len(sorted_refs) or not len(refs):
        return np.zeros(len(refs), bool)
    pos = np.minimum(np.searchsorted(sorted_refs, refs), len(sorted_refs) - 1)
    found: np.ndarray = (sorted_refs[pos] == refs) & (refs >= 0)
    return found


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Return ``values`` sorted, each once (they usually come sorted: then O(n) without a sort)."""
    if len(values) > 1 and not bool(np.all(values[1:] >= values[:-1])):
        values = np.sort(values)
    keep = np.ones(len(values), bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]
