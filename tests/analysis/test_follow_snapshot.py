"""Snapshots of a followed trace share their unchanged rows, yet each equals the trace when taken and never changes."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_follow import Writer, _joined, followed_in_chunks, random_records, step
from tracefiles import header

from tracer.analysis import Trace
from tracer.analysis.follow import Follower
from tracer.analysis.follow_snapshot import SharedColumns

MONO = 5_000_000_000


def columns(trace: Trace) -> dict[str, np.ndarray]:
    """Copies of every span and mark column."""
    return {f"{table}.{column.name}": getattr(getattr(trace, table), column.name).copy()
            for table in ("spans", "marks") for column in dataclasses.fields(getattr(trace, table))}


def assert_columns_equal(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    assert expected.keys() == got.keys()
    for name in expected:
        assert expected[name].dtype == got[name].dtype, name
        assert np.array_equal(expected[name], got[name]), name


@given(seed=st.integers(0, 2**32), chunk=st.sampled_from([5, 40, 300, 4000]))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_snapshots_equal_the_trace_and_never_change(tmp_path, seed, chunk):
    """Repeated and unfinished spans, late parents and marks, new names and lanes: every snapshot is the trace then."""
    rng = random.Random(seed)
    data = b"".join(_joined(random_records(rng)))
    path = tmp_path / f"random-{seed}-{chunk}.jsonl"
    path.unlink(missing_ok=True)  # hypothesis runs examples again in one tmp_path
    taken: list[tuple[Trace, dict[str, np.ndarray]]] = []
    writer = Writer(path)
    follower = Follower([str(path)])
    for _update, _position in followed_in_chunks(writer, follower, data, rng, chunk):
        if rng.random() < 0.5:  # not at every update: a snapshot covers several commits
            snapshot = follower.live.snapshot()
            assert_columns_equal(columns(follower.trace()), columns(snapshot))
            taken.append((snapshot, columns(snapshot)))
    for snapshot, when_taken in taken:
        assert_columns_equal(when_taken, columns(snapshot))


def test_a_steady_writer_copies_only_what_it_appends(tmp_path):
    """Spans appended in order, as a recorder writes them: each snapshot copies the new rows, not the table."""
    path = tmp_path / "steady.jsonl"
    writer = Writer(path)
    writer.write(orjson.dumps(header("h1")) + b"\n")
    follower = Follower([str(path)])
    step(follower)
    previous = follower.live.snapshot()
    shared = follower.live._span_snapshots
    span_id, t, writes, sharing = 1, 0, 40, 0
    try:
        for _ in range(writes):
            rows = []
            for _ in range(50):
                rows.append([span_id, 0, span_id % 4, MONO + t, MONO + t + 5, "s", "", None])
                span_id, t = span_id + 1, t + 10
            writer.write(orjson.dumps({"type": "spans", "rows": rows, "attrs": [None] * len(rows)}) + b"\n")
            step(follower)
            snapshot = follower.live.snapshot()
            sharing += np.shares_memory(previous.spans.start_ns, snapshot.spans.start_ns)
            previous = snapshot
    finally:
        writer.close()
    spans = span_id - 1
    assert len(previous.spans) == spans
    assert sharing >= writes - 4  # a new array only when the shared one is full (it grows by half)
    assert shared.copied < 13 * 3 * spans  # each row copied a few times, not once per snapshot


def test_shared_columns_write_again_what_changed_before_the_last_end():
    shared = SharedColumns()
    source = {"a": np.arange(10), "b": np.arange(10) * 2}
    first = shared.publish(source, 4, stable=0)
    source["a"][2] = 99  # a row the first snapshot holds changed
    second = shared.publish(source, 6, stable=2)
    assert first["a"].tolist() == [0, 1, 2, 3] and second["a"].tolist() == [0, 1, 99, 3, 4, 5]
    source["b"][0] = -1  # changed, though only the rows after 6 are new: named in ``changed``
    third = shared.publish(source, 8, stable=6, changed=["b"])
    assert second["b"].tolist() == [0, 2, 4, 6, 8, 10] and third["b"].tolist() == [-1, 2, 4, 6, 8, 10, 12, 14]
    assert not third["a"].flags.writeable


def test_an_unfinished_spans_end_moves_in_the_new_snapshot_only(tmp_path):
    """An unfinished span ends at the trace's end: a later snapshot shows it longer, the earlier one as it was."""
    path = tmp_path / "open.jsonl"
    writer = Writer(path)
    writer.write(orjson.dumps(header("h1")) + b"\n")
    writer.write(orjson.dumps({"type": "open", "rows": [[1, 0, 0, MONO, "main", ""]], "attrs": [None]}) + b"\n")
    follower = Follower([str(path)])
    taken = []
    try:
        for k in range(6):
            rows = [[10 + k, 0, 1, MONO + 100 * k + 10, MONO + 100 * k + 50, "s", "", None]]
            writer.write(orjson.dumps({"type": "spans", "rows": rows, "attrs": [None]}) + b"\n")
            step(follower)
            snapshot = follower.live.snapshot()
            assert_columns_equal(columns(follower.trace()), columns(snapshot))
            taken.append((snapshot, columns(snapshot)))
    finally:
        writer.close()
    ends = [int(snapshot.spans.end_ns[snapshot.spans.open][0]) for snapshot, _ in taken]
    assert [end - ends[0] for end in ends] == [100 * k for k in range(6)]  # each at its trace's end
    for snapshot, when_taken in taken:
        assert_columns_equal(when_taken, columns(snapshot))
