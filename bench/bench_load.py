"""Loader benchmark: racelane's loader against the stdlib ``json`` module, in one run.

    .venv/bin/python bench/bench_load.py [--runs 5] [--spans 1000000] [--keep DIR]

The script first writes its own trace in the native format (see
docs/FORMAT.md): 5 hosts, 2 processes each (10 files), 5 lanes per process
(50 lanes), 200 span names, nested spans, lock spans, a few unfinished spans
and marks, and attributes like the Nova profile's (``{"instance_uuid": ...,
"host": ..., "result_uuids": [...]}``) on every span. Rows are written with
orjson in batches of 1024, ``rows`` then ``attrs``, in the order spans
finish, as the recorder writes them.

Then every measurement runs in a fresh subprocess (this script re-invoked
with ``--child VARIANT``), the variants interleaved round after round, and
each figure is the median of the runs:

- ``racelane``: ``tracer.analysis.load(paths)``, the whole load: reading,
  validation, open spans, marks, lanes, merge, sort, parents, depth,
  sub-rows; attributes are kept as raw JSON. The first
  ``trace.locks.acquired`` (which decodes the attributes of every batch that
  holds a lock wait: here, all of them) is timed apart and reported.
- ``json``: the baseline: each line parsed whole with ``json.loads``, each
  row's values appended to per-column lists, names and categories interned,
  each batch's attributes written back with ``json.dumps`` into the same
  attribute store (decodable on demand), and the columns handed to racelane's
  own merge, so it builds the same ``Trace``. It validates nothing. The
  garbage collector is paused in both.
- ``orjson-parse-only``: nothing but ``orjson.loads`` of every whole line,
  for context: what parsing everything with orjson alone costs.

A run is valid only when it produced the expected number of spans. Peak RSS
added is ``ru_maxrss`` after the load minus before it (imports done), in the
child. Linux carries the high-water mark of the process that started a child
into the child's ``ru_maxrss``, so the trace is written by a child too and
this process stays small. The script reports; it never fails: it exits 0
whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

TARGET_S = 1.2
TARGET_RATIO = 4.0
TARGET_RSS_MB = 250.0
HOSTS = 5
PROCESSES_PER_HOST = 2
LANES_PER_PROCESS = 5
NAMES = 200
ROWS_PER_LINE = 1024
GROUP_ROWS = 64


# --- the trace ------------------------------------------------------------------
def generate(directory: str, n_spans: int, seed: int = 7) -> tuple[list[str], int]:
    """Write the benchmark trace into ``directory``; return its paths and span count."""
    import orjson

    rng = random.Random(seed)
    pool = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5000)]
    names = [f"nova.{['db', 'compute', 'rpc', 'virt'][i % 4]}.Thing{i}.method_{i % 7}" for i in range(NAMES)]
    cats = ["db", "audit", "evacuation", "rpc", ""]
    files = HOSTS * PROCESSES_PER_HOST
    trees_per_lane = max(1, n_spans // (files * LANES_PER_PROCESS * 4))
    paths = []
    total = 0
    for f in range(files):
        host = f"host{f // PROCESSES_PER_HOST + 1}"
        pid = 4000 + f
        mono0 = 5_000_000_000 + f * 977_000_123
        wall0 = 1_795_238_677_692_139_352 + f * 1_000_003
        next_id = rng.getrandbits(62) | 1
        lines = [orjson.dumps({
            "type": "header", "format": "racelane", "version": 1, "host": host, "pid": pid,
            "process": "nova-compute", "argv": ["/usr/bin/nova-compute"],
            "clock": {"monotonic_ns": mono0, "wall_ns": wall0, "source": "monotonic"},
            "profile": "nova", "concurrency": "eventlet", "python": "3.11.7", "tracer": "racelane 0.1.0",
        })]
        rows: list[tuple[int, list[Any], Any]] = []  # (end_ns, row, attrs)
        opened: list[tuple[list[Any], Any]] = []  # (row, attrs)
        marks: list[tuple[list[Any], Any]] = []
        for lane in range(1, LANES_PER_PROCESS + 1):
            lines.append(orjson.dumps({"type": "lane", "lane": lane, "kind": "greenthread", "name": f"greenthread-{lane}",
                                       "native_id": None, "spawned_by": None}))
            t = mono0 + 1_000 + lane * 37
            for tree in range(trees_per_lane):
                root, child, grandchild, lock_wait, lock_held = range(next_id, next_id + 5)
                next_id += 5
                shape = [
                    (root, 0, t, t + 40_000, rng.choice(names), rng.choice(cats)),
                    (child, root, t + 1_000, t + 19_000, rng.choice(names), "db"),
                    (grandchild, child, t + 2_000, t + 9_000, rng.choice(names), "rpc"),
                    (lock_wait if tree % 2 else lock_held, root, t + 20_000, t + 39_000,
                     "lock.wait compute_resources" if tree % 2 else "lock.held compute_resources", "lock"),
                ]
                for span_id, parent, start, end, name, cat in shape:
                    attrs = {"instance_uuid": rng.choice(pool), "host": host, "result_uuids": rng.sample(pool, rng.randint(0, 3))}
                    if cat == "lock":
                        attrs = {"lock": "compute_resources", "acquired": True} if tree % 2 else {"lock": "compute_resources"}
                    error = ["InstanceNotFound", "instance gone"] if tree % 997 == 3 and parent == 0 else None
                    rows.append((end, [span_id, parent, lane, start, end, name, cat, error], attrs))
                if tree % 500 == 0:
                    marks.append(([lane, t + 5_000, "migration status", "evacuation", child], {"before": "pre-migrating", "after": "done"}))
                t += 50_000
            opened.append(([next_id, 0, lane, t, "nova.compute.manager.stuck", "audit"], {"instance_uuid": rng.choice(pool)}))
            next_id += 1
        rows.sort(key=lambda r: r[0])
        for start in range(0, len(rows), ROWS_PER_LINE):
            batch = rows[start : start + ROWS_PER_LINE]
            lines.append(orjson.dumps({"type": "spans", "rows": [r for _, r, _ in batch], "attrs": [a for _, _, a in batch]}))
        lines.append(orjson.dumps({"type": "open", "rows": [r for r, _ in opened], "attrs": [a for _, a in opened]}))
        lines.append(orjson.dumps({"type": "marks", "rows": [r for r, _ in marks], "attrs": [a for _, a in marks]}))
        path = os.path.join(directory, f"racelane-{host}-{pid}.jsonl")
        with open(path, "wb") as out:
            out.write(b"\n".join(lines) + b"\n")  # no end record: the processes were still running
        paths.append(path)
        total += len(rows) + len(opened)
    return paths, total


# --- the variants (run in children) --------------------------------------------------
def run_racelane(paths: list[str]) -> tuple[int, dict[str, float]]:
    import resource

    from tracer.analysis import load

    trace, _report = load(paths)
    loaded_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu = time.perf_counter(), time.process_time()
    locks = len(trace.locks.acquired)  # decodes the attributes of every batch holding a lock wait
    return len(trace.spans), {"locks_seconds": time.perf_counter() - started, "locks_cpu": time.process_time() - cpu,
                              "locks": locks, "loaded_kb": loaded_kb}


def run_json(paths: list[str]) -> int:
    """The baseline: stdlib ``json`` parses every line whole; the same columns and the same ``Trace`` come out.

    Each line goes through ``json.loads`` (it has no way to leave the
    attributes unparsed), its rows are appended to per-column lists, names
    and categories interned, each batch's attributes written back with
    ``json.dumps`` into the same kind of store racelane keeps (decoded on
    demand), and the columns handed to racelane's own merge (open spans,
    parents, wall clock, sort, layout) to build the ``Trace``. It checks
    nothing (racelane validates every value), which favours it.
    """
    import gc

    import numpy as np

    from tracer.analysis._build import Merger
    from tracer.analysis._file import FileData, LaneInfo
    from tracer.analysis.attrs import AttrStore
    from tracer.analysis.report import FileReport

    gc.disable()
    merger = Merger(sum(os.path.getsize(p) for p in paths))
    store = AttrStore()
    names: dict[str, int] = {}
    cats: dict[str, int] = {}
    dumps = json.dumps
    for origin, path in enumerate(paths):
        spans: list[list[Any]] = [[] for _ in range(9)]  # id parent lane start end name cat ref error
        opens: list[list[Any]] = [[] for _ in range(7)]
        marks: list[list[Any]] = [[] for _ in range(6)]
        lanes: dict[int, LaneInfo] = {}
        with open(path, "rb") as stream:
            header = json.loads(stream.readline())
            clock = header["clock"]
            for number, line in enumerate(stream, 2):
                record = json.loads(line)
                kind = record.get("type")
                if kind in ("spans", "open", "marks"):
                    rows = record["rows"]
                    ref = store.add(dumps(record["attrs"], separators=(",", ":")).encode(), len(rows), number, origin)
                    if kind == "spans":
                        for j, (span_id, parent, lane, start, end, name, cat, error) in enumerate(rows):
                            for column, value in zip(spans, (span_id, parent, lane, start, end,
                                                             names.setdefault(name, len(names)), cats.setdefault(cat, len(cats)),
                                                             ref + j, error)):
                                column.append(value)
                    elif kind == "open":
                        for j, (span_id, parent, lane, start, name, cat) in enumerate(rows):
                            for column, value in zip(opens, (span_id, parent, lane, start, names.setdefault(name, len(names)),
                                                             cats.setdefault(cat, len(cats)), ref + j)):
                                column.append(value)
                    else:
                        for j, (lane, ts, name, cat, span) in enumerate(rows):
                            for column, value in zip(marks, (lane, ts, names.setdefault(name, len(names)),
                                                             cats.setdefault(cat, len(cats)), span, ref + j)):
                                column.append(value)
                elif kind == "lane":
                    lanes[record["lane"]] = LaneInfo(kind=record["kind"], name=record["name"])
        store.seal()
        sinks = merger.sinks
        first, first_open, first_mark = sinks.spans.size, sinks.opens.size, sinks.marks.size
        errors = {first + j: tuple(e) for j, e in enumerate(spans[8]) if e}
        sinks.spans.append({
            "id": np.array(spans[0], np.uint64), "parent": np.array(spans[1], np.uint64), "lane": np.array(spans[2], np.int64),
            "start_ns": np.array(spans[3], np.int64), "end_ns": np.array(spans[4], np.int64), "name": np.array(spans[5], np.int32),
            "cat": np.array(spans[6], np.int32), "attrs_ref": np.array(spans[7], np.int32),
        })
        sinks.opens.append({
            "id": np.array(opens[0], np.uint64), "parent": np.array(opens[1], np.uint64), "lane": np.array(opens[2], np.int64),
            "start_ns": np.array(opens[3], np.int64), "name": np.array(opens[4], np.int32), "cat": np.array(opens[5], np.int32),
            "attrs_ref": np.array(opens[6], np.int32),
        })
        sinks.marks.append({
            "lane": np.array(marks[0], np.int64), "ts_ns": np.array(marks[1], np.int64), "name": np.array(marks[2], np.int32),
            "cat": np.array(marks[3], np.int32), "span": np.array(marks[4], np.uint64), "attrs_ref": np.array(marks[5], np.int32),
        })
        merger.add(FileData(
            report=FileReport(path=path, host=header["host"], pid=header["pid"], process=header["process"], version=1),
            header=header, clock_offset_ns=clock["wall_ns"] - clock["monotonic_ns"], clock_source=clock["source"],
            spans=(first, sinks.spans.size), opens=(first_open, sinks.opens.size), marks=(first_mark, sinks.marks.size),
            span_errors=errors, lanes=lanes,
        ))
    trace, _counts = merger.finish(list(names), list(cats), store)
    assert trace.attrs(0) == json.loads(json.dumps(trace.attrs(0)))  # attributes decode, as racelane's do
    return len(trace.spans)


def run_parse_only(paths: list[str]) -> int:
    """Only ``orjson.loads`` of every whole line: what parsing everything with orjson costs, for context."""
    import gc

    import orjson

    gc.disable()
    n = 0
    for path in paths:
        with open(path, "rb") as stream:
            for line in stream:
                record = orjson.loads(line)
                if record.get("type") in ("spans", "open"):
                    n += len(record["rows"])
    return n


VARIANTS = {"racelane": run_racelane, "json": run_json, "orjson-parse-only": run_parse_only}


def child_generate(directory: str, n_spans: int) -> None:
    started = time.perf_counter()
    paths, expected = generate(directory, n_spans)
    print(json.dumps({"paths": paths, "spans": expected, "seconds": time.perf_counter() - started}))


def child(variant: str, paths: list[str]) -> None:
    import resource

    import numpy  # noqa: F401  (imports are not part of the load)
    import orjson  # noqa: F401

    import tracer.analysis  # noqa: F401

    before = resource.getrusage(resource.RUSAGE_SELF)
    before_kb = before.ru_maxrss
    started = time.perf_counter()
    result = VARIANTS[variant](paths)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    after_kb = after.ru_maxrss
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    spans, extra = result if isinstance(result, tuple) else (result, {})
    seconds -= extra.get("locks_seconds", 0.0)  # the load alone
    after_kb = extra.pop("loaded_kb", after_kb)
    cpu -= extra.pop("locks_cpu", 0.0)
    print(json.dumps({"variant": variant, "seconds": seconds, "cpu_seconds": cpu, "spans": spans,
                      "rss_added_mb": (after_kb - before_kb) / 1024, **extra}))


# --- the parent ------------------------------------------------------------------
def measure(variant: str, paths: list[str]) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--child", variant, *paths]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except Exception as err:
        print(f"  {variant}: run failed: {err!r} {getattr(err, 'stderr', '')}", flush=True)
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="write the trace here and keep it")
    parser.add_argument("--child", choices=[*sorted(VARIANTS), "generate"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        child_generate(args.paths[0], args.spans)
        return 0
    if args.child:
        child(args.child, args.paths)
        return 0
    directory = args.keep or tempfile.mkdtemp(prefix="racelane-bench-load-")
    os.makedirs(directory, exist_ok=True)
    try:
        command = [sys.executable, __file__, "--child", "generate", "--spans", str(args.spans), directory]
        written = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        paths, expected = written["paths"], written["spans"]
        size_mb = sum(os.path.getsize(p) for p in paths) / 1e6
        print(f"trace: {expected} spans in {len(paths)} files, {size_mb:.0f} MB, written in {written['seconds']:.1f} s", flush=True)
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the runs", flush=True)
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
        for run in range(args.runs):
            for variant in VARIANTS:
                result = measure(variant, paths)
                if result is None:
                    continue
                if result["spans"] < expected - len(paths) * LANES_PER_PROCESS:
                    print(f"  {variant} run {run + 1}: {result['spans']} spans, expected {expected}: not counted", flush=True)
                    continue
                results[variant].append(result)
                locks = f", then trace.locks.acquired {result['locks_seconds']:.2f} s" if "locks_seconds" in result else ""
                print(f"  {variant} run {run + 1}: {result['seconds']:.2f} s (CPU {result['cpu_seconds']:.2f} s), "
                      f"peak RSS +{result['rss_added_mb']:.0f} MB{locks}", flush=True)
        if not results["racelane"] or not results["json"]:
            print("load: not enough valid runs to report")
            return 0
        ours = statistics.median(r["seconds"] for r in results["racelane"])
        base = statistics.median(r["seconds"] for r in results["json"])
        ours_cpu = statistics.median(r["cpu_seconds"] for r in results["racelane"])
        base_cpu = statistics.median(r["cpu_seconds"] for r in results["json"])
        rss = statistics.median(r["rss_added_mb"] for r in results["racelane"])
        print(f"json-baseline peak RSS +{statistics.median(r['rss_added_mb'] for r in results['json']):.0f} MB")
        locks = statistics.median(r["locks_seconds"] for r in results["racelane"])
        print(f"racelane: trace.locks.acquired after the load (decodes the lock waits' attributes): {locks:.2f} s")
        if results["orjson-parse-only"]:
            floor = statistics.median(r["seconds"] for r in results["orjson-parse-only"])
            print(f"orjson.loads of every line alone: {floor:.2f} s ({floor / ours:.0%} of racelane's load)")
        print(f"machine: load average {os.getloadavg()[0]:.2f} after the runs (other work on the machine skews wall times)")
        verdict = [("time", ours <= TARGET_S), ("ratio", base / ours >= TARGET_RATIO), ("rss", rss <= TARGET_RSS_MB)]
        missed = [name for name, ok in verdict if not ok]
        print("targets met" if not missed else f"targets missed: {', '.join(missed)}")
        print(f"CPU time (user+sys, all threads): racelane {ours_cpu:.2f} s, json-baseline {base_cpu:.2f} s, "
              f"ratio {base_cpu / ours_cpu:.1f}x")
        print(f"load: racelane {ours:.2f} s, json-baseline {base:.2f} s, ratio {base / ours:.1f}x (>=4x), "
              f"peak RSS +{rss:.0f} MB (<=250 MB)")
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
