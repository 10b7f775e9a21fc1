"""Fuzzing the loader with mutated recordings: only TraceError may escape, nothing may hang."""

from __future__ import annotations

import random
import re
import time

import numpy as np
import orjson
import pytest

from tracer.analysis import Trace, TraceError, load

CASES = 3000
SEED = 20_240_601
HUGE = [b"1" * 40, b"-" + b"9" * 25, b"18446744073709551616", b"18446744073709551615", b"9223372036854775808",
        b"4611686018427387904", b"1e308", b"-0", b"1.5", b"-1", b"0"]
ODD_VALUES = ["", "x" * 300, 1.5, -1, 0, 2**63 - 1, 2**64 - 1, True, False, None, [], [1, "a"], {}, {"a": [1]}, [[[]]]]


def flip_bits(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def duplicate_lines(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 4)):
        lines.insert(rng.randrange(len(lines)), rng.choice(lines))
    return b"\n".join(lines)


def shuffle_lines(rng: random.Random, data: bytes) -> bytes:
    lines = data.rstrip(b"\n").split(b"\n")
    body = lines[1:] if rng.random() < 0.8 else lines
    rng.shuffle(body)
    return b"\n".join((lines[:1] if len(body) < len(lines) else []) + body) + b"\n"


def huge_numbers(rng: random.Random, data: bytes) -> bytes:
    numbers = list(re.finditer(rb"-?\d+", data))
    out = data
    for match in rng.sample(numbers, min(len(numbers), rng.randint(1, 3))):
        out = out[: match.start()] + rng.choice(HUGE) + out[match.end() :] if len(out) == len(data) else out
    return out


def deep_nesting(rng: random.Random, data: bytes) -> bytes:
    depth = rng.choice([10, 300, 600, 1100, 5000])
    nested = b"[" * depth + b"]" * depth if rng.random() < 0.5 else b'{"a":' * depth + b"1" + b"}" * depth
    spots = [m.start() for m in re.finditer(rb"null|\{\}", data)]
    if spots and rng.random() < 0.7:
        at = rng.choice(spots)
        end = at + (4 if data[at : at + 4] == b"null" else 2)
        return data[:at] + nested + data[end:]
    lines = data.split(b"\n")
    lines.insert(rng.randrange(1, len(lines) + 1), nested)
    return b"\n".join(lines)


def wrong_types(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(lines))
        try:
            record = orjson.loads(lines[k])
        except orjson.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        rows = record.get("rows")
        if rows and isinstance(rows, list) and rng.random() < 0.8:
            row = rng.choice(rows)
            if isinstance(row, list) and row:
                row[rng.randrange(len(row))] = rng.choice(ODD_VALUES)
            else:
                rows[rng.randrange(len(rows))] = rng.choice(ODD_VALUES)
        elif record:
            record[rng.choice(list(record))] = rng.choice(ODD_VALUES)
        try:
            lines[k] = orjson.dumps(record)
        except orjson.JSONEncodeError:  # deeper than orjson writes: an earlier mutation's doing
            continue
    return b"\n".join(lines)


def insert_bytes(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = bytes(rng.choice(b"\n\r\x00\xff{}[],:\"0123456789 ") for _ in range(rng.randint(1, 12)))
    return data[:at] + junk + data[at:]


MUTATIONS = [flip_bits, truncate, duplicate_lines, shuffle_lines, huge_numbers, deep_nesting, wrong_types, insert_bytes]


def check_invariants(trace: Trace) -> None:
    """What every loaded trace guarantees, however odd its input."""
    spans, marks, lanes = trace.spans, trace.marks, trace.lanes
    n = len(spans)
    assert np.all(np.diff(spans.start_ns) >= 0)
    assert np.all(spans.end_ns >= spans.start_ns)
    assert np.all(spans.parent < np.arange(n))
    assert np.all(spans.depth >= 0) and np.all(spans.sub_row >= 0)
    assert np.all((spans.lane >= 0) & (spans.lane < len(lanes)))
    assert np.all((marks.span >= -1) & (marks.span < n))
    assert np.all((lanes.spawned_by >= -1) & (lanes.spawned_by < n))
    assert all(0 <= code < len(trace.names) for code in np.concatenate([spans.name, marks.name]).tolist())
    assert all(isinstance(a, dict) for a in trace.attrs_many(np.arange(n)))
    assert all(isinstance(trace.mark_attrs(i), dict) for i in range(len(marks)))
    assert len(trace.locks) <= n
    assert sum(len(lanes_of) for _, processes in trace.lane_groups() for _, lanes_of in processes) == len(lanes)
    if trace.hosts:
        moved = trace.with_host_offsets({trace.hosts[0]: 1_000})
        assert len(moved.spans) == n


@pytest.mark.timeout(120)
def test_mutated_recordings_load_or_raise_trace_error(tmp_path, sample_bytes):
    """Thousands of mutated recordings: each loads (with sound columns) or raises TraceError, quickly."""
    rng = random.Random(SEED)
    path = tmp_path / "fuzz.jsonl"
    outcomes = {"loaded": 0, "refused": 0}
    slowest = 0.0
    for case in range(CASES):
        data = sample_bytes
        for mutate in rng.sample(MUTATIONS, rng.choice([1, 1, 2, 3])):
            if data:
                data = mutate(rng, data)
        path.write_bytes(data)
        started = time.perf_counter()
        try:
            trace, report = load(str(path), max_record_bytes=rng.choice([1 << 20, 1 << 20, 1 << 20, 600]), chunk_bytes=rng.choice([64, 1 << 22]))
        except TraceError:
            outcomes["refused"] += 1
            continue
        except Exception as err:  # pragma: no cover - the failure this test exists to find
            raise AssertionError(f"case {case}: {type(err).__name__}: {err}\ninput: {data[:2000]!r}") from err
        finally:
            slowest = max(slowest, time.perf_counter() - started)
        outcomes["loaded"] += 1
        check_invariants(trace)
        assert isinstance(report.summary(), str)
    assert outcomes["loaded"] > CASES // 4 and outcomes["refused"] > 0, outcomes
    assert slowest < 5.0, f"one load took {slowest:.1f} s"
