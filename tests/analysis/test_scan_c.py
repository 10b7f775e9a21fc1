"""The C reader of ``spans`` rows (tracer/analysis/_scanrows.c) against the numpy one, the reference.

Both must give the same ``Scanned`` result for any lines: the same lines
accepted, the same columns, rows, errors and interned strings. The C reader
is required wherever a C compiler exists (as the recorder's accelerator is);
without one these tests skip and racelane runs the numpy reader.
"""

from __future__ import annotations

import importlib
import itertools
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from canonical import canonical
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tracer
import tracer.analysis._scan as scan_module
from tracer.analysis import load
from tracer.analysis._columns import TIME_LIMIT, Interner
from tracer.analysis._scan import Scanned, SpanScanner, hash_strings
from tracer.record.sink import MemorySink

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROWS_PREFIX = b'{"type":"spans","rows":'
ATTRS_KEY = b',"attrs":'


def _compiler_available() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None and os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")


@pytest.fixture(scope="module")
def c_reader() -> Any:
    """The C reader, also under RACELANE_PURE=1 (which only changes the default); skip only without a compiler."""
    try:
        module = importlib.import_module("tracer.analysis._scanrows")
    except ImportError:
        if _compiler_available():
            pytest.fail("tracer.analysis._scanrows was not built (make setup builds it)")
        pytest.skip("no C compiler or Python headers: the numpy reader is expected")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_module, "_scanrows", module)
        yield module


def test_c_reader_is_built_and_used_where_a_compiler_exists():
    """Wherever a C compiler exists, the C reader is built and is the default."""
    if os.environ.get("RACELANE_PURE") == "1":
        pytest.skip("RACELANE_PURE=1 asks for the numpy reader")
    if not _compiler_available():
        pytest.skip("no C compiler or Python headers: the numpy reader is expected")
    assert scan_module.ACCELERATED, "tracer.analysis._scanrows was not built (make setup builds it)"
    assert SpanScanner(Interner(), Interner()).accelerated


def test_racelane_pure_selects_the_numpy_reader():
    """RACELANE_PURE=1 keeps the numpy reader, as it keeps the recorder's pure-Python hot path."""
    code = ("from tracer.analysis import _columns, _scan\n"
            "print(_scan.ACCELERATED, _scan.SpanScanner(_columns.Interner(), _columns.Interner()).accelerated)")
    env = dict(os.environ, RACELANE_PURE="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


# --- comparing the readers ---------------------------------------------------------------------------
def _scan(lines: list[bytes], accelerated: bool) -> tuple[Scanned, Interner, Interner, Any]:
    names, cats = Interner(), Interner()
    scanner = SpanScanner(names, cats, accelerated=accelerated)
    block = scanner.read([memoryview(line) for line in lines])
    return scanner.finish(block), names, cats, block


def assert_same(lines: list[bytes]) -> Scanned:
    """Scan ``lines`` with both readers, check the results are the same, and return the C one."""
    expected, names, cats, reference = _scan(lines, accelerated=False)
    got, c_names, c_cats, block = _scan(lines, accelerated=True)
    assert got.accepted.tolist() == expected.accepted.tolist(), lines
    assert sorted(got.columns) == sorted(expected.columns)
    for key, values in expected.columns.items():
        assert got.columns[key].dtype == values.dtype, key
        assert got.columns[key].tolist() == values.tolist(), key
    assert got.line.dtype == expected.line.dtype and got.line.tolist() == expected.line.tolist()
    assert got.index.dtype == expected.index.dtype and got.index.tolist() == expected.index.tolist()
    assert got.errors == expected.errors
    assert c_names.values == names.values and c_cats.values == cats.values  # interned alike, in the same order
    if block.names is not None:
        _assert_hashed_as_numpy_does(block)
    if _every_line_read(reference) and reference.names is not None:  # same rows read: the same hashes, bit for bit
        assert block.names.h.tolist() == reference.names.h.tolist()
        assert block.cats.h.tolist() == reference.cats.h.tolist()
    return got


def _assert_hashed_as_numpy_does(block: Any) -> None:
    """The C reader's strings are loaded and hashed exactly as ``hash_strings`` loads and hashes them."""
    for hashed in (block.names, block.cats):
        again = hash_strings(block.text, hashed.start, hashed.end)
        assert hashed.h.tolist() == again.h.tolist()
        assert np.array_equal(hashed.words, again.words)
        assert hashed.n.tolist() == again.n.tolist() and hashed.ok.tolist() == again.ok.tolist()


def _every_line_read(block: Any) -> bool:
    return not block.bad_line.any() and bool(block.row_ok.all())


def rows_of(jsonl: bytes) -> list[bytes]:
    """Return the rows regions of the ``spans`` lines of a recording (what the file parser hands the scanner)."""
    out = []
    for line in jsonl.splitlines():
        if line.startswith(ROWS_PREFIX):
            out.append(line[len(ROWS_PREFIX) : line.index(ATTRS_KEY)])
    return out


def record_rows() -> list[bytes]:
    """Record spans with errors, unicode and long names with the real recorder; return their rows regions."""
    sink = MemorySink()
    clock = itertools.count(10**15, 1_000).__next__
    recording = tracer.start(sink=sink, clock=clock, flush_interval_s=3600, handle_sigterm=False)
    try:
        for k in range(40):
            with tracer.span(f"job {k % 7}", cat="db" if k % 2 else ""):
                pass
            if k % 5 == 0:
                try:
                    with tracer.span("fails é", cat="rpc ☃"):
                        raise KeyError(f"instance {k} 😀")
                except KeyError:
                    pass
            if k in (9, 27):
                with tracer.span("n" * (240 + k), cat="c" * (k + 1)):
                    pass
                with tracer.span("ü" * 129):  # 258 bytes: longer than the scanner hashes
                    pass
            if k % 6 == 0:
                recording.flush()
    finally:
        recording.stop()
    return rows_of(b"".join(line + b"\n" for line in sink.lines()))


# Rows at and around every edge the readers check.
EDGE_ROWS = [
    [1, 0, 0, 0, 0, "", "", None],
    [10**19 - 1, 10**19 - 1, TIME_LIMIT - 1, TIME_LIMIT - 1, TIME_LIMIT - 1, "max", "", None],
    [10**19 - 2, 1, 1, 5, 5, "a" * 256, "b" * 256, ["E" * 300, "m" * 300]],
    [7, 0, 1, 10**18, 10**18 + 1, "é ü ☃ 😀", "\u2028", ["ValueError", "no such instance é"]],
    [8, 0, 1, 5, 9, "a,b", "[1]", ["OnlyType"]],
    [9, 0, 1, 5, 9, "x", "y", ["A", "b", "c"]],
    [10, 0, 12345678, 99999999, 100000000, "12345678", "1234567890123456789", None],
]

# (line, whether the scanner accepts it): anything but the exact layout with values in range is left to the general path.
EDGE_LINES = [
    (orjson.dumps(EDGE_ROWS), True),
    *[(orjson.dumps([row]), True) for row in EDGE_ROWS],
    (b'[[01,0,1,5,9,"n","",null]]', False),  # leading zero
    (b'[[1,00,1,5,9,"n","",null]]', False),
    (b'[[1,0,1,5,09,"n","",null]]', False),
    (b'[[1,0,1,5,9,"n","",null],[2,0,1,5,10,"n","",null]]', True),
    (b'[[12345678901234567890,0,1,5,9,"n","",null]]', False),  # 20 digits
    (b'[[1,12345678901234567890,1,5,9,"n","",null]]', False),
    (b'[[1,0,1,5,9999999999999999999,"n","",null]]', False),  # 19 digits, over the time limit
    (b'[[1,0,1,5,4611686018427387903,"n","",null]]', True),  # the time limit - 1
    (b'[[1,0,1,5,4611686018427387904,"n","",null]]', False),  # the time limit
    (b'[[1,0,4611686018427387904,5,9,"n","",null]]', False),
    (b'[[1,0,1,4611686018427387904,4611686018427387905,"n","",null]]', False),
    (b'[[1,0,1,-5,9,"n","",null]]', False),
    (b'[[-1,0,1,5,9,"n","",null]]', False),
    (b'[[1,0,1,5.0,9,"n","",null]]', False),
    (b'[[1,0,1,5e3,9000,"n","",null]]', False),
    (b'[[1,0,1,9,5,"n","",null]]', False),  # ends before it starts
    (b'[[0,0,1,5,9,"n","",null]]', False),  # id 0
    (b'[[1,0,1,,9,"n","",null]]', False),
    (b'[[1,0,1,5,9,"n","",null,3]]', False),
    (b'[[1,0,1,5,9,"n","",[]]]', False),
    (b'[[1,0,1,5,9,"n","",["E",1]]]', False),
    (b'[[1,0,1,5,9,"n","", ["E","m"]]]', True),  # spaces: JSON, read by both
    (b'[[1,0,1,5,9,"n","",["E" , "m"]]]', True),
    (b'[[1,0,1,5,9,"n","",["E","m" ]]]', False),  # JSON, but not the layout: the general path reads it
    (b'[[1,0,1,5,9,"n","",["E"],["F"]]]', False),
    (b'[[1,0,1,5,9,"n","",["E"]],[2,0,1,5,9,"n","",null]]', True),
    (b'[[1,0,1,5,9,"n","",["E"]],[2,0,1,5,9,"n","",["F","g"]]]', True),
    (b'[[1,0,1,5,9,"n","",nul]]', False),
    (b'[[1,0,1,5,9,"n","",null],]', False),
    (b'[[1,0,1,5,9,"n","",null] ]', False),
    (b'[[1,0,1,5,9,"n","",null]] ', False),
    (b' [[1,0,1,5,9,"n","",null]]', False),
    (b'[[1,0,1,5,9,"n","",null],[2,0,1,5,9,"n","",null]', False),
    (b'[[1,0,1,5,9,"n\x01","",null]]', False),
    (b'[[1,0,1,5,9,"n","",["E\x1f"]]]', False),
    (b'[[1,0,1,5,9,"n","",["E",\t"m"]]]', False),  # JSON whitespace, but a control character
    (b'[[1,0,1,5,9,"n","",\r["E"]]]', False),
    (b'[[1,0,1,5,9,"\xff","",null]]', False),  # not UTF-8
    (b'[[1,0,1,5,9,"n","\xc3",null]]', False),
    (b'[[1,0,1,5,9,"n","",["\xff"]]]', False),
    (b'[[1,0,1,5,9,"n,"",null]]', False),
    (b'[[1,0,1,5,9,"n","",null]]]', False),
    (b'[[1,0,1,5,9,n,"",null]]', False),
    (b'[[1,0,1,5,9,"n" ,"",null]]', False),
    (b'[[1,0,1,5,9]]', False),
    (b"[[]]", False),
    (b"[]", False),
    (b"[[", False),
    (b"", False),
    (b'"', False),
]


def test_recorded_and_edge_rows_read_alike(c_reader):
    """Rows the recorder wrote (errors, unicode, long names) and hand-made edge cases: both readers agree."""
    recorded = record_rows()
    assert len(recorded) >= 4 and any(b'"fails' in line for line in recorded)
    got = assert_same(recorded)
    assert got.accepted.any() and not got.accepted.all()  # the long names are left to the general path
    assert any(error[0] == "KeyError" for error in got.errors.values())
    lines = [line for line, _ in EDGE_LINES]
    got = assert_same(lines)
    assert got.accepted.tolist() == [accepted for _, accepted in EDGE_LINES]
    assert_same([line for line in lines if line] * 3 + recorded)


def test_sample_recording_reads_alike(c_reader, sample_bytes):
    """The analysis tests' real recording: read alike, every line accepted."""
    got = assert_same(rows_of(sample_bytes))
    assert got.accepted.all() and got.errors


def test_the_shortest_rows_fit_in_the_room_reserved(c_reader):
    """Rows as short as the C reader takes (a three-byte error, refused later): later lines still get their rows."""
    shortest = b"[" + b",".join([b'[1,0,1,5,9,"","",""]]'] * 24) + b"]"
    got = assert_same([shortest, *[b'[[1,0,1,5,9,"","",null]]'] * 5])
    assert got.accepted.tolist() == [False] + [True] * 5


def test_bounds_outside_the_text_are_refused(c_reader):
    """Line bounds outside the text, or starts and ends of different lengths, raise instead of reading past it."""
    text = b"[[1,0,1,5,9,\"n\",\"\",null]]"
    with pytest.raises(ValueError, match="line 0"):
        c_reader.scan(text, np.array([0], np.int64), np.array([len(text) + 1], np.int64), TIME_LIMIT, 256)
    with pytest.raises(ValueError, match="int64"):
        c_reader.scan(text, np.array([0, 1], np.int64), np.array([2], np.int64), TIME_LIMIT, 256)


# --- damaged lines -------------------------------------------------------------------------------------
texts = st.text(st.characters(exclude_characters='"\\', exclude_categories=["Cc", "Cs"]), max_size=12) | st.sampled_from(
    ["", "db", "é ü ☃", "a" * 256, "b" * 257, "ü" * 128, "12,3", "[x]", "null"])
digits = st.integers(0, 10**19 - 1) | st.sampled_from([0, 1, 9, 10, 10**18, 10**19 - 1, TIME_LIMIT - 1, TIME_LIMIT])
errors = st.none() | st.lists(texts, min_size=1, max_size=3)
REPLACEMENTS = b'"""",,,[[]]]0000123456789  -.enul\t\n\r\x00\x01\x1f\x7f\xff\xc3\x80\xe2'
STRUCTURE = frozenset(b'",[]')


@st.composite
def row(draw):
    start = draw(digits)
    end = draw(digits) if draw(st.booleans()) else min(start + draw(digits), 2**64 - 1)
    return [draw(digits), draw(digits), draw(digits), start, end, draw(texts), draw(texts), draw(errors)]


@st.composite
def damage(draw, data: bytes) -> bytes:
    """Delete, insert or replace a few bytes of ``data`` (quotes, commas, brackets, digits and garbage)."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(out)))
        marks = [k for k, byte in enumerate(out) if byte in STRUCTURE]
        if marks and draw(st.booleans()):  # at or just after a quote, comma or bracket, where fields begin and end
            at = min(draw(st.sampled_from(marks)) + draw(st.integers(0, 1)), len(out))
        kind = draw(st.sampled_from(["delete", "insert", "replace"]))
        byte = draw(st.sampled_from(REPLACEMENTS))
        if kind == "insert" or not out:
            out[at:at] = bytes([byte])
        elif kind == "delete":
            del out[min(at, len(out) - 1)]
        else:
            out[min(at, len(out) - 1)] = byte
    return bytes(out)


@st.composite
def damaged_lines(draw) -> list[bytes]:
    """Valid lines, some damaged, joined and split again into lines at random places."""
    lines = [orjson.dumps(draw(st.lists(row(), min_size=1, max_size=4))) for _ in range(draw(st.integers(1, 5)))]
    lines = [draw(damage(line)) for line in lines]
    text = b"".join(lines)
    cuts = [len(line) for line in lines]
    if draw(st.booleans()):  # split anywhere instead of at the lines' ends
        cuts = draw(st.lists(st.integers(1, 40), min_size=1, max_size=8))
    parts, at = [], 0
    for size in cuts:
        parts.append(text[at : at + size])
        at += size
    if at < len(text):
        parts.append(text[at:])
    return [part for part in parts if b"\\" not in part] or [b"[]"]


# Fields written out one by one: right, or a near miss of one of the checks.
integers = st.integers(0, 10**19 - 1).map(str)
integers_off = st.sampled_from(
    ["00", "01", "007", "-5", "-0", "5.0", "1e3", "", " 5", "5 ", "+5", "1" + "0" * 19, "9" * 20, str(TIME_LIMIT),
     str(2**64 - 1), "1,2", '"5"', "null", "\t5"])
strings = texts.map(lambda text: f'"{text}"')
strings_off = st.sampled_from(['"a"b"', '"', "a", '"a" ', ' "a"', '"\t"', '"\x01"', '"\n"', '"\x1f"'])
tails = st.lists(texts, min_size=1, max_size=3).map(lambda items: orjson.dumps(items).decode()) | st.just("null")
tails_off = st.sampled_from(
    ["nul", "nulll", "null ", "[]", '["E",1]', ' ["E"]', '["E" ]', '["E"] ', '[ "E" , "m"]', '\t["E"]', '["E",\n"m"]',
     '["E"],["F"]', '{"E":1}', '"E"', "1", '[["E"]]', '["E\r"]'])
FIELDS = [(integers, integers_off)] * 5 + [(strings, strings_off)] * 2 + [(tails, tails_off)]


@st.composite
def row_texts(draw) -> str:
    """A row written field by field, all right or one of them just off."""
    off = draw(st.integers(-1, len(FIELDS) - 1))
    fields = [draw(wrong if k == off else right) for k, (right, wrong) in enumerate(FIELDS)]
    return f"[{','.join(fields)}]"


@given(st.lists(st.lists(row_texts(), min_size=1, max_size=4).map(lambda rows: f"[{','.join(rows)}]"), min_size=1, max_size=6))
@SETTINGS
def test_lines_off_by_a_field_read_alike(c_reader, lines):
    """Rows whose fields are each right or just off (signs, leading zeros, fractions, lengths, spaces, limits)."""
    assert_same([line.encode() for line in lines if "\\" not in line])


@given(damaged_lines())
@SETTINGS
def test_damaged_lines_read_alike(c_reader, lines):
    """Any lines (valid, damaged, split anywhere): both readers accept the same lines and read the same rows."""
    assert_same(lines)


@given(st.lists(st.lists(row(), min_size=1, max_size=6), min_size=1, max_size=4))
@SETTINGS
def test_valid_lines_read_alike(c_reader, batches):
    """Lines as the recorder writes them: read alike (and hashed alike, bit for bit, when all are read)."""
    assert_same([orjson.dumps(batch) for batch in batches])


# --- whole loads -----------------------------------------------------------------------------------------
def _racelane_traces() -> list[list[Path]]:
    """The racelane files of sample_traces/ (not the exports to other formats), each alone, and the directory's whole."""
    samples = ROOT / "sample_traces"
    files = sorted(path for path in samples.rglob("*.jsonl") if path.read_bytes().startswith(b'{"type":"header"'))
    return [[path] for path in files] + [sorted((samples / "multi-host-skew").glob("*.jsonl"))]


@pytest.mark.parametrize("paths", _racelane_traces(), ids=lambda paths: ",".join(path.name for path in paths))
def test_sample_traces_load_alike(c_reader, monkeypatch, paths):
    """Every sample trace loads to the same trace with either reader (RACELANE_PURE=1 or not)."""
    loaded = {}
    for accelerated in (False, True):
        monkeypatch.setattr(scan_module, "ACCELERATED", accelerated)
        loaded[accelerated] = load([str(path) for path in paths])
    pure, fast = loaded[False], loaded[True]
    assert canonical(fast.trace) == canonical(pure.trace)
    assert fast.trace.names == pure.trace.names and fast.trace.cats == pure.trace.cats
    for table in ("spans", "marks"):
        for column, values in vars(getattr(pure.trace, table)).items():
            if isinstance(values, np.ndarray):
                assert np.array_equal(values, getattr(getattr(fast.trace, table), column)), column
    assert fast.report.problems == pure.report.problems


def test_damaged_file_loads_alike(c_reader, monkeypatch, tmp_path, sample_bytes):
    """A recording with damaged ``spans`` lines among good ones: the same trace, names and problems either way."""
    lines = sample_bytes.split(b"\n")[:-1]
    extra = []
    for k, (line, _) in enumerate(EDGE_LINES * 2):
        if line.startswith(b"[[") and b"\\" not in line:
            extra.append(ROWS_PREFIX + line + ATTRS_KEY + orjson.dumps([None] * 20) + b"}")
        if k % 5 == 0:
            extra.append(lines[2 + k % (len(lines) - 3)])
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(b"\n".join([lines[0], *extra, *lines[1:]]) + b"\n")
    loaded = {}
    for accelerated in (False, True):
        monkeypatch.setattr(scan_module, "ACCELERATED", accelerated)
        loaded[accelerated] = load(str(path))
    pure, fast = loaded[False], loaded[True]
    assert pure.report.skipped_rows or pure.report.problems
    assert canonical(fast.trace) == canonical(pure.trace)
    assert fast.trace.names == pure.trace.names and fast.trace.cats == pure.trace.cats
    assert fast.report.problems == pure.report.problems and fast.report.skipped_rows == pure.report.skipped_rows
