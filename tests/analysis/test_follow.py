"""The follower: what it reads as files grow, rotate and appear equals loading the final files whole."""

from __future__ import annotations

import dataclasses
import os
import random
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tracefiles import header

from tracer.analysis import Trace, load
from tracer.analysis.follow import Follower
from tracer.analysis.hazards import analyze
from tracer.analysis.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
BUGGY = ROOT / "sample_traces" / "nova-1896463-buggy.jsonl"
FIXED = ROOT / "sample_traces" / "nova-1896463-fixed.jsonl"
MONO = 5_000_000_000


def assert_same(expected: Trace, got: Trace) -> None:
    """The loader's tables, column by column, and what attribute refs and errors decode to."""
    for table in ("spans", "marks", "lanes"):
        for column in dataclasses.fields(getattr(expected, table)):
            if column.name == "attrs_ref":  # a handle into each trace's own store: compared by content below
                continue
            left, right = getattr(getattr(expected, table), column.name), getattr(getattr(got, table), column.name)
            if isinstance(left, np.ndarray):
                assert np.array_equal(left, right), (table, column.name, left, right)
            else:
                assert left == right, (table, column.name)
    assert expected.names == got.names and expected.cats == got.cats and expected.hosts == got.hosts
    rows = range(len(expected.spans))
    assert expected.attrs_many(rows) == got.attrs_many(rows)
    assert [expected.mark_attrs(i) for i in range(len(expected.marks))] == [got.mark_attrs(i) for i in range(len(got.marks))]
    assert [expected.error(i) for i in rows] == [got.error(i) for i in rows]
    assert expected.end_ns == got.end_ns and expected.t0_ns == got.t0_ns


def complete_lines(data: bytes) -> bytes:
    return data[: data.rfind(b"\n") + 1]


def load_bytes(tmp_path: Path, *parts: bytes) -> Trace:
    """Load ``parts`` as files, in order."""
    paths = []
    for k, part in enumerate(parts):
        path = tmp_path / f"expected-{k}.jsonl"
        path.write_bytes(part)
        paths.append(str(path))
    return load(paths).trace


def step(follower: Follower):
    follower.look()
    return follower.apply()


class Writer:
    """Appends to a file through one O_APPEND descriptor, as the recorder does (it survives renames)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def close(self) -> None:
        os.close(self.fd)


def followed_in_chunks(writer: Writer, follower: Follower, data: bytes, rng: random.Random, chunk: int):
    """Append ``data`` through ``writer`` in random chunks of at most ``chunk`` bytes, which ``follower`` follows.

    Yields ``(update, position)`` after each chunk was applied; closes ``writer`` at the end.
    """
    position = 0
    try:
        while position < len(data):
            n = rng.randint(1, chunk)
            writer.write(data[position : position + n])
            position += n
            yield step(follower), position
    finally:
        writer.close()


def lines(*records) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def spans_line(*rows, attrs=None) -> dict:
    return {"type": "spans", "rows": list(rows), "attrs": attrs if attrs is not None else [{"n": r[0]} for r in rows]}


def row(span_id: int, parent: int, lane: int, start: int, end: int, name: str = "s", cat: str = "") -> list:
    return [span_id, parent, lane, MONO + start, MONO + end, name, cat, None]


# --- growth in arbitrary pieces -------------------------------------------------------------------
def test_every_byte_split_gives_the_loaders_trace_at_every_line(tmp_path, sample_bytes):
    """Appended one byte at a time, the followed trace equals loading the complete lines so far, at each line end."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"")
    follower = Follower([str(path)])
    writer = Writer(path)
    try:
        for k in range(len(sample_bytes)):
            writer.write(sample_bytes[k : k + 1])
            update = step(follower)
            if sample_bytes[k] == ord("\n"):
                assert_same(load_bytes(tmp_path, sample_bytes[: k + 1]), update.trace)
            else:
                assert update.stats.spans == update.stats.marks == 0  # nothing until the newline
    finally:
        writer.close()
    assert follower.report().spans == len(load(str(path)).trace.spans)


@pytest.mark.parametrize("sample", [BUGGY, FIXED])
@pytest.mark.parametrize("seed", range(3))
def test_random_chunks_of_a_recorded_trace(tmp_path, sample, seed):
    """Appended in chunks of random size, a recorded trace loads the same at every chunk and at the end."""
    data = sample.read_bytes()
    rng = random.Random(seed)
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    follower = Follower([str(path)], rules="nova")
    position = 0
    try:
        while position < len(data):
            n = rng.randint(1, 3000)
            writer.write(data[position : position + n])
            position += n
            update = step(follower)
            if b"\n" in data[:position]:
                assert_same(load_bytes(tmp_path, complete_lines(data[:position])), update.trace)
    finally:
        writer.close()
    assert_same(load(str(sample)).trace, follower.trace())


def random_records(rng: random.Random) -> list:
    """Records a writer could produce, and some it should not: repeated and unfinished spans, stray ids, bad lines."""
    records: list = []
    for segment in range(rng.choice([1, 1, 2])):
        records.append(header("h1", pid=100 + segment))
        base = rng.choice([1000, 1 << 40, rng.randrange(1, 1 << 60)])
        ids: list[int] = []
        t = 0
        for _ in range(rng.randint(1, 10)):
            kind = rng.random()
            if kind < 0.55:
                rows = []
                for _ in range(rng.randint(1, 6)):
                    span_id = rng.choice(ids) if ids and rng.random() < 0.15 else base + len(ids) * rng.choice([1, 1, 9]) + 1
                    ids.append(span_id)
                    start = max(0, rng.choice([t, t - rng.randint(0, 40), rng.randint(0, t + 1)]))
                    end = start + rng.choice([0, 1, 5, 30, 100])
                    t = max(t, rng.randint(start, end + 3))
                    error = ["ValueError", "bad"] if rng.random() < 0.1 else None
                    rows.append([span_id, rng.choice([0, *ids[-4:], span_id + 1]), rng.randint(0, 3), MONO + start,
                                 MONO + end, rng.choice("abc"), rng.choice(["", "db", "lock"]), error])
                records.append({"type": "spans", "rows": rows, "attrs": [rng.choice([None, {"k": 1}]) for _ in rows]})
            elif kind < 0.75:
                rows = []
                for _ in range(rng.randint(1, 3)):
                    span_id = rng.choice(ids) if ids and rng.random() < 0.2 else base + len(ids) + 1
                    ids.append(span_id)
                    rows.append([span_id, rng.choice([0, *ids[-4:]]), rng.randint(0, 3), MONO + max(0, t - rng.randint(0, 30)),
                                 rng.choice("ao"), rng.choice(["", "lock"])])
                records.append({"type": "open", "rows": rows, "attrs": [None] * len(rows)})
            elif kind < 0.9:
                rows = [[rng.randint(0, 4), MONO + rng.randint(0, t + 2), "m", "", rng.choice([0, *ids[-3:], base + len(ids) + 1])]
                        for _ in range(rng.randint(1, 3))]  # made in a span written later, sometimes
                records.append({"type": "marks", "rows": rows, "attrs": [None] * len(rows)})
            elif kind < 0.95:
                records.append({"type": "lane", "lane": rng.randint(0, 5), "kind": "thread", "name": rng.choice("wm"),
                                "spawned_by": rng.choice([0, *ids[-3:]])})
            else:
                records.append(b"not json" if rng.random() < 0.5 else {"type": "end", "monotonic_ns": MONO + t + 5})
    return records


@given(seed=st.integers(0, 2**32), chunk=st.sampled_from([5, 40, 300, 4000]))
# An unfinished span with no parent in a lane laid out by sweep: its sub-row
# changes when the trace's end moves past a finished span it overlaps.
@example(seed=87949290, chunk=5)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_traces_in_random_chunks(tmp_path, seed, chunk):
    """Repeated ids, unfinished spans finishing later, spans overlapping in a lane, late parents, concatenated processes."""
    rng = random.Random(seed)
    data = b"".join(r if isinstance(r, bytes) else orjson.dumps(r) for r in _joined(random_records(rng)))
    path = tmp_path / f"random-{seed}-{chunk}.jsonl"
    path.unlink(missing_ok=True)  # hypothesis runs examples again in one tmp_path
    writer = Writer(path)
    follower = Follower([str(path)])
    for update, position in followed_in_chunks(writer, follower, data, rng, chunk):
        if rng.random() < 15 * chunk / len(data) and b"\n" in data[:position]:  # about 30 checks per trace
            assert_same(load_bytes(tmp_path, complete_lines(data[:position])), update.trace)
    assert_same(load(str(path)).trace, follower.trace())


def _joined(records: list) -> list:
    out = []
    for record in records:
        out.append(record if isinstance(record, bytes) else orjson.dumps(record))
        out.append(b"\n")
    return out


# --- rotation ---------------------------------------------------------------------------------------
def first_and_rest(data: bytes, lines_first: int) -> tuple[bytes, bytes]:
    cut = 0
    for _ in range(lines_first):
        cut = data.index(b"\n", cut) + 1
    return data[:cut], data[cut:]


def test_copytruncate_reads_again_from_the_start_and_reports_it(tmp_path):
    """``copytruncate`` (copy, then truncate in place) while a line is half written: the writer goes on, nothing is lost."""
    data = BUGGY.read_bytes()
    before, after = first_and_rest(data, 8)
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    follower = Follower([str(path)])
    writer.write(before + after[:20])  # and the start of a line that is never finished
    step(follower)
    (tmp_path / "trace.jsonl.1").write_bytes(path.read_bytes())  # logrotate's copy ...
    os.truncate(path, 0)  # ... and truncation; the writer keeps its descriptor
    writer.write(after)
    writer.close()
    update = step(follower)
    assert [n.kind for n in update.notices] == ["truncated"]
    assert "reading it again from the start" in update.notices[0].message
    assert_same(load_bytes(tmp_path, before + after), update.trace)


def test_truncation_then_regrowth_past_the_offset_is_noticed(tmp_path):
    """A file rewritten in place and already longer than what was read is still read again from 0."""
    data = BUGGY.read_bytes()
    before, after = first_and_rest(data, 6)
    path = tmp_path / "trace.jsonl"
    path.write_bytes(before)
    follower = Follower([str(path)])
    step(follower)
    path.write_bytes(after + after)  # truncated, then more than before was written
    update = step(follower)
    assert [n.kind for n in update.notices] == ["truncated"]
    assert_same(load_bytes(tmp_path, before + after + after), update.trace)


def test_rename_and_recreate_drains_the_old_file_and_keeps_reading_it(tmp_path):
    """Rotation by rename while the writer still holds the old file: its late lines are read too."""
    old_data, new_data = BUGGY.read_bytes(), FIXED.read_bytes()
    first, rest = first_and_rest(old_data, 10)
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    writer.write(first)
    follower = Follower([str(path)], rules="nova")
    step(follower)
    os.rename(path, tmp_path / "trace.jsonl.1")
    writer.write(rest[: len(rest) // 2])  # before the follower notices
    new_writer = Writer(path)
    new_writer.write(new_data)
    update = step(follower)
    assert [n.kind for n in update.notices] == ["replaced"]
    writer.write(rest[len(rest) // 2 :])  # the old writer is not done yet
    writer.close()
    new_writer.close()
    update = step(follower)
    expected = load([str(tmp_path / "trace.jsonl.1"), str(path)]).trace
    assert_same(expected, update.trace)
    assert update.trace.files == expected.files
    assert follower.files() == [str(tmp_path / "trace.jsonl.1"), str(path)]  # the old file is still read


def test_rotated_file_is_dropped_after_it_stops_growing(tmp_path):
    """A rotated file no longer written is closed after ``linger_s``; what it held stays in the trace."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(BUGGY.read_bytes())
    follower = Follower([str(path)], linger_s=0.0)
    spans = len(step(follower).trace.spans)
    os.rename(path, tmp_path / "old.jsonl")
    path.write_bytes(FIXED.read_bytes())
    update = step(follower)
    assert [n.kind for n in update.notices] == ["replaced", "retired"]
    assert len(update.trace.spans) == spans + len(load(str(FIXED)).trace.spans)
    assert len(follower.files()) == 1


def test_delete_then_recreate_waits_for_the_name(tmp_path):
    """A deleted file is read to its end; when the name comes back, the new file is followed from its start."""
    old_data, new_data = BUGGY.read_bytes(), FIXED.read_bytes()
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    writer.write(old_data[:3000])
    follower = Follower([str(path)])
    step(follower)
    writer.write(old_data[3000:])  # written, but not yet read, when the file is deleted
    writer.close()
    path.unlink()
    update = step(follower)
    assert [n.kind for n in update.notices] == ["deleted"]
    assert_same(load(str(BUGGY)).trace, update.trace)
    assert step(follower).notices == []  # said once
    path.write_bytes(new_data)
    update = step(follower)
    assert [n.kind for n in update.notices] == ["replaced"]
    assert_same(load([str(BUGGY), str(path)]).trace, update.trace)


def test_new_file_in_a_watched_directory_joins_the_trace(tmp_path):
    """Following a directory: files there are taken in name order, new ones join as they appear."""
    (tmp_path / "b.jsonl").write_bytes(FIXED.read_bytes())
    (tmp_path / "notes.txt").write_text("not a trace")
    follower = Follower([str(tmp_path)], glob="*.jsonl")
    step(follower)
    (tmp_path / "a.jsonl").write_bytes(b"")  # appears empty: the writer has not written its header yet
    update = step(follower)
    assert [n.kind for n in update.notices] == ["new"]
    (tmp_path / "a.jsonl").write_bytes(BUGGY.read_bytes())
    update = step(follower)
    assert_same(load([str(tmp_path / "b.jsonl"), str(tmp_path / "a.jsonl")]).trace, update.trace)


def test_a_directory_file_that_is_not_a_trace_is_skipped_with_a_notice(tmp_path):
    """Other JSON Lines files in a followed directory are skipped, named, and do not stop the others."""
    (tmp_path / "app.jsonl").write_bytes(b'{"level": "info"}\n')
    (tmp_path / "trace.jsonl").write_bytes(BUGGY.read_bytes())
    follower = Follower([str(tmp_path)])
    update = step(follower)
    assert [(n.kind, n.fatal) for n in update.notices] == [("skipped", False)]
    assert "app.jsonl is not a racelane trace" in update.notices[0].message
    assert len(update.trace.spans) == len(load(str(BUGGY)).trace.spans)


def test_a_named_file_that_is_not_a_trace_is_fatal(tmp_path):
    """A file named explicitly that is not a racelane trace is an error the caller must stop on."""
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"level": "info"}\n')
    update = step(Follower([str(path)]))
    assert [(n.kind, n.fatal) for n in update.notices] == [("error", True)]
    assert str(path) in update.notices[0].message


def test_a_missing_path_is_refused_naming_it(tmp_path):
    """Nothing to follow is a clear error, not a silent wait."""
    from tracer.analysis import TraceError

    with pytest.raises(TraceError, match=r"nope\.jsonl: No such file"):
        Follower([str(tmp_path / "nope.jsonl")])


def test_several_files_growing_together(tmp_path):
    """Two processes appending in turns give the trace of both files loaded together."""
    datas = [BUGGY.read_bytes(), FIXED.read_bytes()]
    paths = [tmp_path / "host-a.jsonl", tmp_path / "host-b.jsonl"]
    writers = [Writer(p) for p in paths]
    follower = Follower([str(p) for p in paths])
    offsets = [0, 0]
    rng = random.Random(7)
    while any(o < len(d) for o, d in zip(offsets, datas)):
        k = rng.randrange(2)
        n = rng.randint(1, 2500)
        writers[k].write(datas[k][offsets[k] : offsets[k] + n])
        offsets[k] += n
        step(follower)
    for w in writers:
        w.close()
    assert_same(load([str(p) for p in paths]).trace, step(follower).trace)


# --- watching -------------------------------------------------------------------------------------
def wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("poll_s", [None, 0.02])
def test_file_events_or_polling_wake_the_consumer(tmp_path, poll_s):
    """With file events (the backstop far away) or with polling, ``wait`` returns when the file grows."""
    path = tmp_path / "trace.jsonl"
    path.write_bytes(b"")
    with Follower([str(path)], poll_s=poll_s, backstop_s=60.0) as follower:
        follower.wait(0.5)
        follower.apply()

        def append() -> None:
            time.sleep(0.2)
            with open(path, "ab") as out:
                out.write(BUGGY.read_bytes())

        import threading

        writer = threading.Thread(target=append)
        writer.start()
        started = time.monotonic()
        assert follower.wait(10.0)
        assert time.monotonic() - started < 5.0  # an event, not the 60 s backstop
        writer.join()
        expected = len(load(str(BUGGY)).trace.spans)

        def seen() -> bool:
            follower.wait(0.05)
            return len(follower.apply().trace.spans) == expected

        wait_for(seen)


# --- hazards ----------------------------------------------------------------------------------------
def with_audit_running(data: bytes) -> tuple[bytes, bytes]:
    """Split the buggy trace so the audit is first written unfinished (an ``open`` row), then finished at the end."""
    records = [orjson.loads(line) for line in data.splitlines()]
    for k in range(len(records) - 1, -1, -1):  # host2's audit: the last process's
        record = records[k]
        if record["type"] == "spans":
            for j, r in enumerate(record["rows"]):
                if r[5] == "rt._update_available_resource":
                    audit, audit_attrs = r, record["attrs"][j]
                    del record["rows"][j], record["attrs"][j]
                    opened = {"type": "open", "rows": [[*audit[:4], audit[5], audit[6]]], "attrs": [audit_attrs]}
                    head = records[: k + 1] + [opened]
                    tail = records[k + 1 :] + [{"type": "spans", "rows": [audit], "attrs": [audit_attrs]}]
                    return lines(*head), lines(*tail)
    raise AssertionError("no audit span")


def test_hazard_open_while_the_audit_runs_then_decided_once(tmp_path):
    """An overlap with a running audit is open; once the audit finished it is decided, reported once, as check finds it."""
    head, rest = with_audit_running(BUGGY.read_bytes())
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    writer.write(head)
    follower = Follower([str(path)], rules="nova")
    update = step(follower)
    decided = list(update.hazards)
    assert all(h.state == "decided" for h in decided)
    writer.write(rest)
    update = step(follower)
    assert update.hazards == [] or all(h.rule != "nova-1896463" for h in update.hazards)
    decided += update.hazards
    decided += step(follower).hazards  # decided once the follower looked again (nothing more was written)
    expected = analyze(load(str(path)).trace, load_rules("nova"))
    again = [line for line in rest.splitlines() if line.startswith(b'{"type":"spans"')]
    writer.write(b"\n".join(again) + b"\n")  # the last process's spans again: repeats, dropped
    writer.close()
    assert step(follower).hazards == step(follower).hazards == []  # never reported twice
    assert sorted(h.class_name for h in decided) == sorted(h["class"] for h in expected.hazards())
    by_rule = {h.rule: h.as_dict() for h in decided}
    for hazard in expected.hazards():
        got = by_rule[hazard["rule"]]
        assert got["explanation"] == hazard["explanation"]
        assert got["state"] == "decided"
        assert [s["id"] for s in got["spans"]] == [s["id"] for s in hazard["spans"]]


def test_open_overlap_is_shown_before_the_window_completes(tmp_path):
    """The overlap of the evacuation with the still-running audit is reported as open first."""
    head, rest = with_audit_running(BUGGY.read_bytes())
    records = head.splitlines()
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    follower = Follower([str(path)], rules="nova")
    opened, states = [], []
    for line in records + rest.splitlines():
        writer.write(line + b"\n")
        update = step(follower)
        opened += update.opened
        states += [(h.rule, h.state) for h in update.hazards]
    writer.close()
    states += [(h.rule, h.state) for h in step(follower).hazards]  # the look after the last write decides
    assert ("nova-1896463", "decided") in states
    first_open = [h for h in opened if h.rule == "nova-1896463"]
    assert first_open and first_open[0].state == "open"
    assert not first_open[0].windows[0].complete  # the audit still ran


def test_irrelevant_growth_does_not_run_the_rules(tmp_path):
    """Spans no rule names cost no analysis: the rules run only when a span or mark they name arrives."""
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    writer.write(BUGGY.read_bytes())
    follower = Follower([str(path)], rules="nova")
    step(follower)
    step(follower)  # the hazards are decided
    assert not follower.hazards.waiting
    runs = follower.hazards.analyses
    for k in range(5):
        writer.write(lines(spans_line(row(10**6 + k, 0, 99, 10**9 + k, 10**9 + k + 1, "unrelated.work"))))
        step(follower)
    writer.close()
    assert follower.hazards.analyses == runs


def test_lines_over_the_size_limit_are_skipped_as_the_loader_does(tmp_path):
    """A line longer than ``max_record_bytes``, arriving in pieces, is skipped and reported, never held whole."""
    records = [spans_line(row(k + 1, 0, 1, k * 10, k * 10 + 5)) for k in range(6)]
    records[2]["attrs"] = [{"blob": "x" * 5000}]
    data = orjson.dumps(header()) + b"\n" + lines(*records)
    path = tmp_path / "trace.jsonl"
    writer = Writer(path)
    follower = Follower([str(path)], max_record_bytes=1000)
    try:
        for k in range(0, len(data), 333):
            writer.write(data[k : k + 333])
            step(follower)
    finally:
        writer.close()
    expected = load(str(path), max_record_bytes=1000)
    assert_same(expected.trace, follower.trace())
    report = follower.report()
    assert report.skipped_lines == expected.report.skipped_lines == 1
    assert "longer than max_record_bytes" in report.problems[0]
