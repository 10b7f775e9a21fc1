"""Read the rows of ``spans`` lines in bulk, without making a Python object per value.

orjson parses a million rows in about half a second, and turning its lists
into numpy columns (transposing, converting five integer columns, interning
two string columns) takes as long again. But the recorder writes rows in one
exact layout (orjson's, compact)::

    [[id,parent,lane,start_ns,end_ns,"name","cat",null],[...,["Type","message"]],...]

so the rows of many lines are read at once here, as bytes: the positions of
quotes and commas give every field, the integers are converted eight digits
at a time (SWAR: a few multiplications on unaligned 64-bit loads), and the
strings are interned by a 64-bit hash of their bytes, checked byte for byte
against the bytes of the interned string (a hash collision cannot make a row
take the wrong name). Errors, rare, are parsed with orjson one by one.

Two readers do that work. The numpy one (``_read_numpy``) finds every field
of a block with about a hundred whole-array operations, whose fixed cost
dominates a live follower's small reads: 2,000 rows (190 KB) take it about
1.6 ms. The optional C one (``tracer.analysis._scanrows``, built from
_scanrows.c) reads each line once, front to back, giving up on a line at its
first byte off the layout: 0.3 ms for the same rows, 3.5 ms for a load's 2 MB
block (numpy: 13 ms). The C reader runs wherever it was built, unless
RACELANE_PURE=1 (``ACCELERATED`` says which runs). The numpy reader is the
reference: the two accept the same lines and read the same rows and errors
from them, and each hashes its strings as ``hash_strings`` does. Interning,
and the checks that need it, are shared (``finish``).

Every byte of a line's rows is accounted for: a line is *accepted* only when
its rows are exactly that layout, every integer is plain digits (no sign,
fraction or leading zero, at most 19 digits) in its column's range, every
string is free of backslashes and control characters and valid UTF-8, and
``end_ns >= start_ns``. An accepted line gives exactly the rows orjson would;
any other line is left to the general path (``RowTable``), which reports
what is wrong with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from ._columns import TIME_LIMIT, Interner, error_value

U64 = np.uint64
PAD = b"\0" * 24  # before the text: integers are loaded from up to 24 bytes before their end
_TAIL = b"\0" * 264  # after it: strings are loaded from their start, up to 256 bytes
_ASCII0 = U64(0x3030303030303030)
_LT10 = U64(0x7676767676767676)
_HIGH = U64(0x8080808080808080)
_M1 = U64(0x00FF00FF00FF00FF)
_M2 = U64(0x0000FFFF0000FFFF)
_M3 = U64(0x00000000FFFFFFFF)
_S8, _S16, _S29, _S32 = U64(8), U64(16), U64(29), U64(32)
_P1, _P2, _P3 = U64(2561), U64(6553601), U64(42949672960001)  # 10 * 2**8 + 1, 100 * 2**16 + 1, 10**4 * 2**32 + 1
_KEEP = np.array([((1 << 64) - 1) ^ ((1 << (8 * j)) - 1) if j < 8 else 0 for j in range(9)], U64)  # clear j low bytes
_LOW = np.array([(1 << (8 * j)) - 1 for j in range(9)], U64)  # keep j low bytes
_POWERS = [U64(10 ** (8 * k)) for k in range(3)]
_LEAST = np.array([0, 0, *(10 ** (d - 1) for d in range(2, 20))], U64)  # least value of d digits without a leading 0
_MAX_STRING_WORDS = 32  # longer names and categories (over 256 bytes) take the general path

_NULL_NEXT = U64(int.from_bytes(b',null],[', "little"))  # after a row's last string, before the next row
_NULL_LAST = U64(int.from_bytes(b',null]]\0', "little"))  # after the last row's last string (7 bytes)
_LOW7 = U64((1 << 56) - 1)
_ERROR_NEXT = int.from_bytes(b']],[', "little")  # after an error's last string, before the next row
_LOW4 = U64((1 << 32) - 1)
_MUL = U64(0x9E3779B97F4A7C15)
_MAX_DIGITS = 19  # 19 digits never overflow uint64; longer numbers take the general path
_INTEGER_COLUMNS = ("id", "parent", "lane", "start_ns", "end_ns")
_STACKED_ROWS = 8192  # up to this many rows, the integer columns are converted as one
_COLUMN_TYPES = {"id": U64, "parent": U64, "lane": np.int64, "start_ns": np.int64, "end_ns": np.int64,
                 "name": np.int32, "cat": np.int32}  # of ``Scanned.columns``

# The optional C reader (tracer/analysis/_scanrows.c); RACELANE_PURE=1 keeps the numpy one.
_scanrows: Any = None
if os.environ.get("RACELANE_PURE") != "1":
    try:
        from . import _scanrows  # type: ignore[attr-defined,no-redef]
    except ImportError:
        _scanrows = None
ACCELERATED = _scanrows is not None  # True when ``SpanScanner`` reads rows in C by default
# The int64 columns ``_scanrows.scan`` returns, in order (its COL_ enum).
_C_COLUMNS = ("line", *_INTEGER_COLUMNS, "name_start", "name_end", "name_length", "name_hash",
              "cat_start", "cat_end", "cat_length", "cat_hash")


@dataclass
class Scanned:
    """The rows of the accepted lines of one scan, in line order."""

    accepted: np.ndarray  # bool per line
    columns: dict[str, np.ndarray]  # id, parent (uint64), lane, start_ns, end_ns (int64), name, cat (int32)
    line: np.ndarray  # int64 per row: its line among those scanned
    index: np.ndarray  # int64 per row: its position in its line
    errors: dict[int, tuple[str, str]] = field(default_factory=dict)  # row -> error


def _loads(text: bytes, at: np.ndarray, count: int) -> np.ndarray:
    """Return the ``count`` little-endian 64-bit words at each byte offset ``at`` (rows of a 2-d array).

    One gather of ``8 * count``-byte items: far cheaper than ``count`` gathers
    of unaligned 64-bit words.
    """
    size = 8 * count
    items = np.ndarray((len(text) - size + 1,), f"V{size}", buffer=text, strides=(1,))
    words: np.ndarray = items[at].view("<u8").reshape(len(at), count)
    return words


def _integers(text: bytes, a: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, ok)`` of the digit runs ``text[start:end]``; ``ok`` False for anything but a plain integer.

    A run is loaded as the 8, 16 or 24 bytes that end where it ends, its
    bytes before the run cleared (they read as leading zeros); a byte that is
    not a digit sets a high bit in ``bad``; each eight digits become a number
    with three multiplications (Lemire's SWAR method).
    """
    n = end - start
    ok = (n >= 1) & (n <= _MAX_DIGITS)
    count = (min(int(n.max()), _MAX_DIGITS) + 7) // 8 if len(n) else 1
    x = _loads(text, end - 8 * count, count)  # PAD keeps the load inside the text
    for k in range(count):  # clear each word's bytes before the run (columns: long strided loops)
        junk = 8 * (count - k) - n
        np.minimum(np.maximum(junk, 0, out=junk), 8, out=junk)
        column = x[:, k]
        column ^= _ASCII0
        column &= _KEEP[junk]
    flat = x.reshape(-1)
    y = flat + _LT10
    y |= flat
    y = y.reshape(-1, count)
    bad = y[:, 0].copy()
    for k in range(1, count):
        bad |= y[:, k]
    flat *= _P1
    flat >>= _S8
    flat &= _M1
    flat *= _P2
    flat >>= _S16
    flat &= _M2
    flat *= _P3
    flat >>= _S32
    value = x[:, count - 1].copy()
    for k in range(1, count):
        value += x[:, count - 1 - k] * _POWERS[k]
    ok &= (bad & _HIGH) == 0
    ok &= value >= _LEAST[np.minimum(np.maximum(n, 1), _MAX_DIGITS)]  # no leading zero: n digits are >= 10**(n-1)
    return value, ok


@dataclass
class _Hashed:
    """Strings of the text, loaded as words and hashed (see ``hash_strings``)."""

    start: np.ndarray
    end: np.ndarray
    n: np.ndarray
    words: np.ndarray  # (strings, words): the bytes, zero-padded
    h: np.ndarray
    ok: np.ndarray  # False for strings too long to hash here


def hash_strings(text: bytes, start: np.ndarray, end: np.ndarray) -> _Hashed:
    """Load and hash the strings ``text[start:end]`` (thread-safe: touches nothing shared)."""
    n = end - start
    ok = n <= 8 * _MAX_STRING_WORDS  # longer names and categories are left to the general path
    n_loaded = np.where(ok, n, 0)
    count = max((int(n_loaded.max()) + 7) // 8, 1) if len(n) else 1
    x = _loads(text, start, count)  # the tail padding keeps the load inside the text
    h = n.astype(U64)
    for k in range(count):
        left = n_loaded - 8 * k
        np.minimum(np.maximum(left, 0, out=left), 8, out=left)
        column = x[:, k]
        column &= _LOW[left]
        h ^= column
        h *= _MUL
        h ^= h >> _S29
    return _Hashed(start, end, n, x, h, ok)


class _Strings:
    """Interning by hash of the bytes, verified against the bytes of the interned strings.

    Known hashes sit in a direct-mapped table (one slot per top bits of the
    hash) and, all of them, in a sorted array for the few that share a slot.
    The interned strings' bytes are kept as columns of 64-bit words, so that
    every string is compared with the one its hash names, word by word.
    """

    _BITS = 16

    def __init__(self, interner: Interner) -> None:
        self.interner = interner
        self.hashes = np.zeros(0, U64)  # sorted
        self.codes = np.zeros(0, np.int32)  # code of each hash
        self.slot_hash = np.zeros(1 << self._BITS, U64)
        self.slot_code = np.full(1 << self._BITS, -1, np.int32)
        self.lengths = np.zeros(0, np.int64)  # per code: byte length (-1 unknown)
        self.words: list[np.ndarray] = []  # word k of every code's bytes, zero-padded

    def resolve(self, text: bytes, strings: _Hashed, learnable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(codes, ok)`` of hashed strings, interning new ones; ``ok`` is False where they cannot be read.

        Only strings where ``learnable`` is True are interned (the others are
        looked up): the rows of a line refused anyway must not add to the
        interner, which is the trace's table of names.

        Not thread-safe: call from one thread (it changes the interner).
        """
        h, x, n = strings.h, strings.words, strings.n
        codes, known = self._find(h)
        ok = strings.ok.copy()
        new = ok & ~known
        new &= learnable
        if new.any():
            ok &= self._learn(text, h, strings.start, strings.end, new)
            codes, known = self._find(h)
        ok &= known
        if not len(self.lengths):
            return codes, np.zeros(len(h), bool)
        ok &= self.lengths[codes] == n  # verify: same length, same bytes
        ok &= n <= 8 * len(self.words)
        for k in range(min(x.shape[1], len(self.words))):
            ok &= self.words[k][codes] == x[:, k]
        return codes, ok

    def _find(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the code of each hash (0 when unknown) and whether it is known."""
        slot = (h >> U64(64 - self._BITS)).astype(np.intp)
        codes = self.slot_code[slot]
        known = (self.slot_hash[slot] == h) & (codes >= 0)
        if not known.all() and len(self.hashes):  # slots shared by two hashes: search them
            rows = np.flatnonzero(~known)
            at = np.minimum(np.searchsorted(self.hashes, h[rows]), len(self.hashes) - 1)
            found = self.hashes[at] == h[rows]
            codes[rows] = np.where(found, self.codes[at], -1)
            known[rows] = found
        return np.maximum(codes, 0), known

    def _learn(self, text: bytes, h: np.ndarray, start: np.ndarray, end: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Intern the strings of hashes not seen before; return False for those that cannot be."""
        ok = np.ones(len(h), bool)
        rows = np.flatnonzero(new)
        unique, first = np.unique(h[rows], return_index=True)
        # Interned in the order they first appear, not by hash: a hash depends on the longest string of
        # its block, so on which reader ran, and the codes must not.
        order = np.argsort(first)
        added_h, added_codes = [], []
        for value, row in zip(unique[order].tolist(), rows[first[order]].tolist()):
            raw = text[start[row] : end[row]]
            try:
                string = raw.decode("utf-8")
            except UnicodeDecodeError:
                ok[rows[h[rows] == value]] = False
                continue
            code = self.interner.code(string)
            self._remember(code, raw)
            added_h.append(value)
            added_codes.append(code)
            slot = value >> (64 - self._BITS)
            if self.slot_code[slot] < 0:
                self.slot_hash[slot], self.slot_code[slot] = value, code
        if added_h:
            hashes = np.concatenate([self.hashes, np.array(added_h, U64)])
            codes = np.concatenate([self.codes, np.array(added_codes, np.int32)])
            order = np.argsort(hashes, kind="stable")
            self.hashes, self.codes = hashes[order], codes[order]
        return ok

    def _remember(self, code: int, raw: bytes) -> None:
        """Keep the bytes of the string of ``code``."""
        nwords = (len(raw) + 7) // 8
        if code >= len(self.lengths):
            size = max(code + 1, 2 * len(self.lengths), 64)
            self.lengths = np.concatenate([self.lengths, np.full(size - len(self.lengths), -1, np.int64)])
            self.words = [np.concatenate([w, np.zeros(size - len(w), U64)]) for w in self.words]
        while len(self.words) < nwords:
            self.words.append(np.zeros(len(self.lengths), U64))
        self.lengths[code] = len(raw)
        padded = np.frombuffer(raw + b"\0" * (8 * nwords - len(raw)), "<u8")
        for k, word in enumerate(self.words):
            word[code] = padded[k] if k < nwords else 0


@dataclass
class _Block:
    """What ``SpanScanner.read`` found, waiting for ``finish``."""

    text: bytes
    bad_line: np.ndarray
    row_line: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    row_ok: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    names: _Hashed | None = None
    cats: _Hashed | None = None
    errors: dict[int, tuple[str, str]] = field(default_factory=dict)


class SpanScanner:
    """Scan the rows of ``spans`` lines laid out as the recorder writes them (see the module).

    ``scan`` is ``finish(read(parts))``: ``read`` does the bulk of the work
    and may run in worker threads (both readers release the GIL), ``finish``
    interns strings and must run in one thread, in the order of the lines.

    ``accelerated`` picks the reader: C (``_scanrows``) or numpy; by default
    C wherever it was built, unless RACELANE_PURE=1 (see ``ACCELERATED``).
    """

    def __init__(self, names: Interner, cats: Interner, *, accelerated: bool | None = None) -> None:
        self._names = _Strings(names)
        self._cats = _Strings(cats)
        if accelerated is None:
            accelerated = ACCELERATED
        if accelerated and _scanrows is None:
            raise RuntimeError("tracer.analysis._scanrows is not available (not built, or RACELANE_PURE=1)")
        self.accelerated = accelerated

    def scan(self, parts: list[Any]) -> Scanned:
        """Scan the rows regions ``parts`` (one per line, each ``[[...],...]``, no backslash in any)."""
        return self.finish(self.read(parts))

    def read(self, parts: list[Any]) -> _Block:
        """Do the work of ``scan`` that needs no shared state: safe in another thread."""
        lengths = np.fromiter(map(len, parts), np.int64, len(parts))
        text = b"".join([PAD, *parts, _TAIL])
        ls = np.empty(len(parts), np.int64)
        ls[0] = len(PAD)
        np.cumsum(lengths[:-1], out=ls[1:])
        ls[1:] += len(PAD)
        le = ls + lengths
        return self._read(text, ls, le)

    def _read(self, text: bytes, ls: np.ndarray, le: np.ndarray) -> _Block:
        """Read the lines ``text[ls[i]:le[i]]`` (``text`` padded with ``PAD`` and ``_TAIL``)."""
        if self.accelerated:
            return self._read_c(text, ls, le)
        return self._read_numpy(text, ls, le)

    def _read_c(self, text: bytes, ls: np.ndarray, le: np.ndarray) -> _Block:
        """``_read`` by the C reader: one pass over each line (see _scanrows.c); the errors are parsed here."""
        bad, nrows, table, flags, errors, name_words, cat_words = _scanrows.scan(
            text, ls, le, TIME_LIMIT, 8 * _MAX_STRING_WORDS)
        bad_line = np.frombuffer(bad, bool)
        if not nrows:
            return _Block(text, bad_line)
        # Columns of the result, each as long as the most rows the lines could hold: keep the rows read.
        c = dict(zip(_C_COLUMNS, np.frombuffer(table, np.int64).reshape(len(_C_COLUMNS), -1)[:, :nrows]))
        ok = np.frombuffer(flags, bool).reshape(2, -1)[:, :nrows]
        columns = {column: c[column] for column in _INTEGER_COLUMNS}
        columns["id"] = columns["id"].view(U64)
        columns["parent"] = columns["parent"].view(U64)
        names = _Hashed(c["name_start"], c["name_end"], c["name_length"], np.frombuffer(name_words, U64).reshape(nrows, -1),
                        c["name_hash"].view(U64), ok[0])
        cats = _Hashed(c["cat_start"], c["cat_end"], c["cat_length"], np.frombuffer(cat_words, U64).reshape(nrows, -1),
                       c["cat_hash"].view(U64), ok[1])
        row_ok = np.ones(nrows, bool)
        parsed = {}
        if errors:  # (row, begin, end) of each error
            found = np.frombuffer(errors, np.int64).reshape(-1, 3)
            parsed = self._errors(text, found[:, 0].tolist(), found[:, 1].tolist(), found[:, 2].tolist(), row_ok)
        return _Block(text, bad_line, c["line"], row_ok, columns, names, cats, parsed)

    def _read_numpy(self, text: bytes, ls: np.ndarray, le: np.ndarray) -> _Block:
        """``_read`` by numpy: every field of the block found with whole-array operations (the reference)."""
        nlines = len(ls)
        a = np.frombuffer(text, np.uint8)
        words = np.ndarray((len(text) - 7,), "<u8", buffer=text, strides=(1,))
        bad_line = (le - ls < 4) | (a[ls] != 91) | (a[ls + 1] != 91) | (a[le - 1] != 93) | (a[le - 2] != 93)
        body = a[len(PAD) : len(a) - len(_TAIL)]
        if len(body) and body.min() < 32:  # control characters are not JSON
            bad_line[np.unique(np.searchsorted(ls, np.flatnonzero(body < 32) + len(PAD), "right") - 1)] = True
        q = np.flatnonzero(a == 34)
        per_line = np.diff(np.searchsorted(q, np.append(ls, le[-1])))  # quotes of each line
        odd = per_line % 2 == 1
        if odd.any():  # quotes cannot pair up: a quote in a string, or broken text
            bad_line |= odd
            q = q[~np.repeat(odd, per_line)]
            per_line[odd] = 0
        so, sc = q[0::2], q[1::2]
        s_line = np.repeat(np.arange(nlines), per_line // 2)
        nstrings = len(so)
        before = a[so - 1]
        digit_before = (a[so - 2] - np.uint8(48)) <= 9  # uint8 wraps: only digits are <= 9
        name = np.flatnonzero((before == 44) & digit_before)  # a name: after ``<digit>,``
        nrows = len(name)
        if not nrows:
            return _Block(text, np.ones(nlines, bool))
        row_line = s_line[name]
        cat = np.minimum(name + 1, max(nstrings - 1, 0))
        row_ok = (name + 1 < nstrings) & (s_line[cat] == row_line)
        row_ok &= (a[sc[name] + 1] == 44) & (so[cat] == sc[name] + 2) & (a[sc[cat] + 1] == 44)
        # Where each row's first integer starts: after ``[[`` for a line's first row, else after the
        # previous row's end, whose bytes are checked here (``,null],[`` or, after an error, ``]],[``).
        first = np.ones(nrows, bool)
        first[1:] = row_line[1:] != row_line[:-1]
        line_first_string = np.searchsorted(s_line, np.arange(nlines))
        row_ok[first] &= name[first] == line_first_string[row_line[first]]
        anchor = sc[np.maximum(name - 1, 0)]  # the previous string's closing quote
        start = np.where(first, ls[row_line] + 2, anchor + 9)
        follows = ~first
        follows_error = follows.copy()
        follows_error[1:] &= name[1:] - 1 != cat[:-1]
        follows_error[0] = False
        plain = follows & ~follows_error
        row_ok[plain] &= words[anchor[plain] + 1] == _NULL_NEXT
        if follows_error.any():
            start[follows_error] = anchor[follows_error] + 5
            row_ok[follows_error] &= (words[anchor[follows_error] + 1] & _LOW4) == U64(_ERROR_NEXT)
        # Every line ends right after its last row.
        last = np.ones(nrows, bool)
        last[:-1] = row_line[:-1] != row_line[1:]
        line_strings_end = np.searchsorted(s_line, np.arange(nlines), "right")
        last_string = line_strings_end[row_line[last]] - 1
        ends_plain = last_string == cat[last]
        tail = sc[np.maximum(last_string, 0)]
        tail_ok = np.where(
            ends_plain,
            ((words[tail + 1] & _LOW7) == _NULL_LAST) & (tail + 8 == le[row_line[last]]),
            (a[tail + 1] == 93) & (a[tail + 2] == 93) & (tail + 3 == le[row_line[last]] - 1),
        )
        row_ok[last] &= tail_ok
        has_error = np.zeros(nrows, bool)
        has_error[:-1] = follows_error[1:]
        has_error[last] = ~ends_plain
        # The integers: the five comma-separated digit runs before the name.
        c = np.flatnonzero(a == 44)
        if len(c) < 5:
            return _Block(text, np.ones(nlines, bool))
        k = np.searchsorted(c, so[name] - 1)
        row_ok &= k >= 4
        k = np.minimum(np.maximum(k, 4), len(c) - 1)
        row_ok &= c[k - 4] > start
        row_ok &= (k < 5) | (c[np.maximum(k - 5, 0)] < start)
        columns = self._integer_columns(text, a, start, [c[k - 4 + j] for j in range(len(_INTEGER_COLUMNS))], row_ok)
        row_ok &= columns["id"] != 0
        for column in ("lane", "start_ns", "end_ns"):
            row_ok &= columns[column] < U64(TIME_LIMIT)
            columns[column] = columns[column].view(np.int64)
        row_ok &= columns["end_ns"] >= columns["start_ns"]
        names = hash_strings(text, so[name] + 1, sc[name])
        cats = hash_strings(text, so[cat] + 1, sc[cat])
        error_end = np.empty(nrows, np.int64)  # the last string of each row's error (where it has one)
        error_end[:-1] = name[1:] - 1
        error_end[last] = line_strings_end[row_line[last]] - 1
        rows = np.flatnonzero(has_error & row_ok)
        errors = self._errors(text, rows.tolist(), (sc[cat[rows]] + 2).tolist(), (sc[np.maximum(error_end[rows], 0)] + 2).tolist(), row_ok)
        return _Block(text, bad_line, row_line, row_ok, columns, names, cats, errors)

    def finish(self, block: _Block) -> Scanned:
        """Intern the strings of a block read by ``read`` and settle which lines are accepted (one thread only)."""
        bad_line, row_line, row_ok, columns, errors = block.bad_line, block.row_line, block.row_ok, block.columns, block.errors
        nlines, nrows = len(bad_line), len(row_line)
        if block.names is None or block.cats is None:  # no rows read
            columns = {column: np.zeros(0, dtype) for column, dtype in _COLUMN_TYPES.items()}
            return Scanned(np.zeros(nlines, bool), columns, np.zeros(0, np.int64), np.zeros(0, np.int64))
        # Strings are interned from lines read whole only: what the readers make of a broken line
        # differs (C stops at its first bad byte), and the interner must not depend on which ran.
        bad_line[row_line[~row_ok]] = True
        learnable = ~bad_line[row_line]
        columns["name"], ok = self._names.resolve(block.text, block.names, learnable)
        row_ok &= ok
        columns["cat"], ok = self._cats.resolve(block.text, block.cats, learnable)
        row_ok &= ok
        bad_line[row_line[~row_ok]] = True
        keep = ~bad_line[row_line]
        line_first_row = np.searchsorted(row_line, np.arange(nlines))
        index = np.arange(nrows) - line_first_row[row_line]
        if not keep.all():
            kept = np.flatnonzero(keep)
            renumber = np.cumsum(keep) - 1
            errors = {int(renumber[r]): e for r, e in errors.items() if keep[r]}
            columns = {key: value[kept] for key, value in columns.items()}
            row_line, index = row_line[kept], index[kept]
        accepted = ~bad_line
        accepted[np.bincount(row_line, minlength=nlines) == 0] = False  # no rows read: let the general path say why
        return Scanned(accepted, columns, row_line, index, errors)

    @staticmethod
    def _integer_columns(text: bytes, a: np.ndarray, start: np.ndarray, stops: list[np.ndarray],
                         row_ok: np.ndarray) -> dict[str, np.ndarray]:
        """Return the integer columns, each running from after the previous one's comma to its own; clear ``row_ok`` where one is not.

        Few rows (a follower's read) are converted as one column: the
        conversion costs a few dozen numpy calls whatever its length, and
        converting each column apart would pay them five times. Many rows
        (a load) are converted column by column, each loaded only as wide as
        its longest number.
        """
        begins = [start, *(stop + 1 for stop in stops[:-1])]
        nrows = len(start)
        if nrows > _STACKED_ROWS:
            columns = {}
            for column, begin, stop in zip(_INTEGER_COLUMNS, begins, stops):
                columns[column], ok = _integers(text, a, begin, stop)
                row_ok &= ok
            return columns
        values, ok = _integers(text, a, np.concatenate(begins), np.concatenate(stops))
        row_ok &= ok.reshape(len(stops), nrows).all(axis=0)
        return {column: values[j * nrows : (j + 1) * nrows] for j, column in enumerate(_INTEGER_COLUMNS)}

    @staticmethod
    def _errors(text: bytes, rows: list[int], begins: list[int], ends: list[int], row_ok: np.ndarray) -> dict[int, tuple[str, str]]:
        """Parse the ``error`` of each of ``rows`` (``text[begin:end]``); a row whose error is malformed is not ok."""
        errors = {}
        for r, begin, end in zip(rows, begins, ends):
            try:
                value = orjson.loads(text[begin:end])
            except orjson.JSONDecodeError:
                value = None
            parsed = error_value(value) if type(value) is list and all(type(v) is str for v in value) else None
            if parsed is None:
                row_ok[r] = False
            else:
                errors[r] = parsed
        return errors
