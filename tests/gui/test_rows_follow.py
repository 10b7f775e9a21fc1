"""The row index of a followed trace, carried from update to update, equals the one built whole from each snapshot."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gui.rows import Layer, RowIndex
from tracer.analysis.follow import Follower

MONO = 5_000_000_000
LEVELS = (3, 8, 12)


def header() -> dict:
    return {"type": "header", "format": "racelane", "version": 1, "host": "h1", "pid": 7, "process": "p",
            "clock": {"monotonic_ns": 0, "wall_ns": 0, "source": "monotonic"}}


def records(rng: random.Random, n_writes: int, overlaps: bool = True, late: bool = True, tick: int = 1) -> list[dict]:
    """What a recorder could write: nested spans finishing in order, long ones finishing late (out of order),
    unfinished spans written open then finished, lock waits and holds, spans overlapping without nesting,
    new lanes and names appearing as it goes."""
    out: list[dict] = [header(), *({"type": "lane", "lane": k, "kind": "thread", "name": f"t{k}"} for k in range(3))]
    next_id, t = 1, 0
    running: list[list] = []  # long spans written later (open first, sometimes)
    for _ in range(n_writes):
        rows = []
        for _ in range(rng.randint(1, 12)):
            lane = rng.choice([0, 1, 2, 2, 3 if rng.random() < 0.3 else 1])
            root, start = next_id, t + rng.randint(0, 20) * tick
            kind = rng.random()
            if late and kind < 0.15:  # a long span, finished in a later write
                running.append([root, 0, lane, MONO + start, MONO + start + rng.randint(50, 400), "long", "rpc", None])
                next_id += 1
                continue
            name, cat = (rng.choice(["lock.wait a", "lock.held a", "lock.wait"]), "lock") if kind < 0.3 else (
                rng.choice(["q", "r", "s" if rng.random() < 0.5 else "late-name"]), rng.choice(["db", "rpc"]))
            end = start + rng.randint(0, 30) * tick
            if rng.random() < 0.6:  # a child, written first
                rows.append([root + 1, root, lane, MONO + start + 1, MONO + max(start + 1, end - 1), "child", "db", None])
            if overlaps and rng.random() < 0.1:  # overlapping its neighbour without nesting: the lane is swept
                rows.append([root + 2, 0, lane, MONO + start + 2, MONO + end + 25, "overlap", "rpc", None])
            rows.append([root, 0, lane, MONO + start, MONO + end, name, cat, None])
            next_id += 3
            t = start
        if running and rng.random() < 0.4:  # finish some long spans (their starts reach back)
            rows.extend(running.pop(rng.randrange(len(running))) for _ in range(rng.randint(1, len(running))))
        if rows:
            out.append({"type": "spans", "rows": rows, "attrs": [None] * len(rows)})
        if running and rng.random() < 0.3:  # the recorder's flush writes spans still running as open
            out.append({"type": "open", "rows": [r[:4] + [r[5], r[6]] for r in running], "attrs": [None] * len(running)})
        if rng.random() < 0.05:
            out.append({"type": "lane", "lane": rng.randint(3, 5), "kind": "thread", "name": "late"})
        t += rng.randint(0, 15) * tick
    return out


def content(layer: Layer, order: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The items of ``layer`` in (row, start) order, whatever positions hold them; ``src`` as span rows."""
    pos = layer.positions()
    got = {name: getattr(layer, name)[pos].copy() for name in ("row", "start", "end", "cat", "weight", "style", "endmax")}
    got["count"] = layer.hi - layer.lo
    if layer.src is not None and order is not None:
        src = layer.src[pos]
        got["span"] = np.where(src >= 0, order[np.maximum(src, 0)], -1)
    return got


def snapshot(index: RowIndex) -> dict[str, np.ndarray]:
    """Everything the painting reads of ``index``, levels included, copied."""
    pos = index.raw.positions()
    out = {f"raw.{k}": v for k, v in content(index.raw).items()}
    out["order"], out["open"] = index.order[pos].copy(), index.open_by_pos[pos].copy()
    for name in ("span_row", "lane_rows", "lane_first_row", "row_lane", "row_local"):
        out[name] = getattr(index, name).copy()
    out["rows"] = np.array([index.n_rows, index.duration_ns])
    for k in LEVELS:
        for part, layer in zip(("long", "buckets"), index.level(k), strict=True):
            out.update({f"{k}.{part}.{name}": v for name, v in content(layer, index.order).items()})
    return out


def assert_same(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert np.array_equal(value, got[key]), key


def follow_in_chunks(tmp_path: Path, data: bytes, rng: random.Random, chunk: int) -> tuple[int, int]:
    """Follow ``data`` appended in random chunks; at each update the carried index equals one built whole.

    Also checks that deriving an index never changes what the previous one shows (the painting thread
    may still be drawing it). Returns how many updates were carried and how many built whole.
    """
    path = tmp_path / "trace.jsonl"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    follower = Follower([str(path)])
    previous: RowIndex | None = None
    shown: dict[str, np.ndarray] = {}
    carried = whole = 0
    position = 0
    try:
        while position < len(data):
            n = rng.randint(1, chunk)
            os.write(fd, data[position : position + n])
            position += n
            follower.look()
            follower.apply()
            if not follower.live.trace().files:
                continue
            trace = follower.live.snapshot()
            index = RowIndex.following(previous, trace, follower.live.take_stable_rows())
            if previous is not None:
                assert_same(shown, snapshot(previous))  # the index shown before is untouched
            built_whole = index._version == 0  # carried indexes count their store's versions from 1
            carried, whole = carried + (not built_whole), whole + built_whole
            shown = snapshot(index)
            assert_same(snapshot(RowIndex(trace)), shown)
            previous = index
    finally:
        os.close(fd)
    return carried, whole


@given(seed=st.integers(0, 2**32), chunk=st.sampled_from([200, 1500, 6000]))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_carried_index_equals_the_index_built_whole(tmp_path, seed, chunk):
    rng = random.Random(seed)
    data = b"".join(orjson.dumps(r) + b"\n" for r in records(rng, rng.randint(5, 60)))
    follow_in_chunks(tmp_path, data, rng, chunk)


def test_a_steady_writer_is_carried_not_built_again(tmp_path):
    """Once lanes, names and nesting depths are known, a writer appending in time order carries the index on.

    (Rows where old spans are written again move whole, and the columns are packed again, so built whole,
    once moves wrote as many positions as there are spans: the test above covers those.)
    """
    out: list[dict] = [header(), *({"type": "lane", "lane": k, "kind": "thread", "name": f"t{k}"} for k in range(4))]
    next_id = 1
    for write in range(300):
        rows = []
        for lane in range(4):
            start = MONO + 1_000_000 * write + 200_000 * lane
            rows.append([next_id + 1, next_id, lane, start + 10_000, start + 90_000, "child", "db", None])
            rows.append([next_id, 0, lane, start, start + 150_000, "request", "rpc", None])
            next_id += 2
        out.append({"type": "spans", "rows": rows, "attrs": [None] * len(rows)})
    data = b"".join(orjson.dumps(r) + b"\n" for r in out)
    carried, whole = follow_in_chunks(tmp_path, data, random.Random(7), 1500)
    assert carried > 20 * whole, (carried, whole)


def test_the_row_index_of_a_recorded_trace_followed_in_chunks(tmp_path):
    data = (Path(__file__).resolve().parents[2] / "sample_traces" / "nova-1896463-buggy.jsonl").read_bytes()
    follow_in_chunks(tmp_path, data, random.Random(3), 2000)


def test_levels_are_carried_across_rows_moved_and_columns_packed(tmp_path, monkeypatch):
    """Rows that move to other columns (a row outgrew its room, or the columns were packed again) keep their levels.

    Their items are where they were in the row, only further on: the level items before the last stable
    span are the previous level's, their positions shifted, never built again (a level of every span
    would cost the painting thread O(spans) at each move).
    """
    built: list[int] = []
    level_items = RowIndex._level_items
    monkeypatch.setattr(RowIndex, "_level_items", lambda self, k, pos: built.append(len(pos)) or level_items(self, k, pos))
    path = tmp_path / "steady.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, orjson.dumps(header()) + b"\n")
    follower = Follower([str(path)])
    index: RowIndex | None = None
    packed = 0
    next_id, per_write = 1, 40
    try:
        for write in range(150):
            rows = []
            for k in range(per_write // 2):
                start = MONO + 1_000_000 * write + 20_000 * k
                lane = int(k % 5 == 0)
                rows.append([next_id + 1, next_id, lane, start + 1_000, start + 9_000, "child", "db", None])
                rows.append([next_id, 0, lane, start, start + 15_000, "request", "rpc", None])
                next_id += 2
            os.write(fd, orjson.dumps({"type": "spans", "rows": rows, "attrs": [None] * len(rows)}) + b"\n")
            follower.look()
            follower.apply()
            trace = follower.live.snapshot()
            previous = index
            index = RowIndex.following(previous, trace, follower.live.take_stable_rows())
            built.clear()
            index.level(10)
            packed += previous is not None and index._store is not previous._store
            if write > 1:
                assert sum(built) <= 3 * per_write, (write, built)  # the new spans (and a bucket), not every span
            assert_same(snapshot(RowIndex(trace)), snapshot(index))
    finally:
        os.close(fd)
    assert packed >= 3  # every row moved to new columns, several times, and the levels were carried
