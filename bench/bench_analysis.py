"""Benchmark: full hazard analysis of a 1M-span trace (target: at most 0.5 s).

The trace (generated here, 5 hosts x 10 lanes, 1,000,000 spans, 200 names)
holds Nova audits and evacuations (the ``nova`` rules' windows, with lock
spans) and a background of jobs of short ``query`` spans, with a long ``batch``
span every other cycle. The rule set is ``nova`` plus a rule that pairs every
``batch`` with every ``query`` on its host: about 470,000 overlapping pairs. The baseline is the same overlap search
written the plain way (Python loop over windows, ``bisect`` on sorted starts),
timed in the same run on the same windows.

    python bench/bench_analysis.py
"""

from __future__ import annotations

import bisect
import os
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracer.analysis import load
from tracer.analysis.hazards import analyze
from tracer.analysis.rules import load_rules, parse_rules

HOSTS = 5
LANES_PER_HOST = 10
TARGET_SPANS = 1_000_000
PAIRS_RULE = """
[[window]]
id = "batch"
span = "batch"
keys = { host = "$host" }

[[window]]
id = "query"
span = "query"
keys = { host = "$host" }

[[hazard]]
id = "batch-query"
windows = ["batch", "query"]
join = ["host"]
"""


def generate(directory: str, audit_every: int = 1) -> list[str]:
    """Write one file per host; return their paths.

    An audit runs every ``audit_every`` cycles of 10 ms (1: every 10 ms, a
    stress density; Nova's default is one audit a minute).
    """
    paths = []
    per_host = TARGET_SPANS // HOSTS
    for h in range(HOSTS):
        host = f"host{h + 1}"
        path = os.path.join(directory, f"{host}.jsonl")
        paths.append(path)
        lines = [orjson.dumps({"type": "header", "format": "racelane", "version": 1, "host": host, "pid": 100 + h,
                               "process": "nova-compute", "clock": {"monotonic_ns": 0, "wall_ns": 1_790_000_000_000_000_000}})]
        for lane in range(1, LANES_PER_HOST + 1):
            lines.append(orjson.dumps({"type": "lane", "lane": lane, "kind": "greenthread", "name": f"worker {lane}"}))
        rows: list[list[object]] = []
        attrs: list[object] = []
        next_id = (h + 1) << 40
        made = 0

        def span(lane: int, start: int, end: int, name: str, cat: str, parent: int = 0, a: object = None,
                 rows: list[list[object]] = rows, attrs: list[object] = attrs) -> int:
            nonlocal next_id, made
            next_id += 1
            rows.append([next_id, parent, lane, start, end, name, cat, None])
            attrs.append(a)
            made += 1
            return next_id

        t = 1_000_000
        cycle = 0
        while made < per_host:
            cycle += 1
            if cycle % audit_every == 0:
                # Lane 1: the periodic audit, under compute_resources.
                audit = span(1, t, t + 6_000_000, "rt._update_available_resource", "audit", a={"host": host, "node": "n1"})
                held = span(1, t + 100_000, t + 5_900_000, "lock.held compute_resources", "lock", audit,
                            {"lock": "compute_resources"})
                span(1, t + 200_000, t + 2_200_000, "db.InstanceList.get_by_host_and_node", "db", held,
                     {"host": host, "node": "n1", "result_uuids": [f"i-{cycle - 1}"]})
                span(1, t + 2_400_000, t + 5_000_000, "db.MigrationList.get_in_progress_and_error", "db", held,
                     {"host": host, "node": "n1", "instance_uuids": []})
            # Lane 2: an evacuation whose unlocked finish lands between the audit's reads every 50th cycle.
            if cycle % 50 == 0:
                base = t + 2_250_000
                evac = span(2, base - 100_000, base + 2_000_000, "compute.rebuild_instance", "evacuation",
                            a={"instance_uuid": f"i-{cycle}", "source_host": "hostX"})
                span(2, base, base + 500_000, "db.Instance.save", "db", evac,
                     {"instance_uuid": f"i-{cycle}", "host": host, "node": "n1", "changed": ["host", "node"]})
                span(2, base + 600_000, base + 1_000_000, "db.Migration.save", "db", evac,
                     {"instance_uuid": f"i-{cycle}", "status": "done", "dest_node": "n1", "migration_id": cycle})
            # Lanes 3..10: jobs of short queries; every other cycle a long batch on lane 3
            # overlaps all of them (the rule below pairs each batch with every query on its host).
            for lane in range(3, LANES_PER_HOST + 1):
                job = span(lane, t, t + 9_000_000, f"job.{cycle % 190}", "work", a={"n": cycle})
                for q in range(24):
                    start = t + 10_000 + q * 370_000
                    span(lane, start, start + 300_000, "query", "db", job, {"i": q, "name": f"q{q % 200}"})
            if cycle % 2 == 0:
                span(2, t, t + 9_000_000, "batch", "work", a={"n": cycle})
            t += 10_000_000
        for i in range(0, len(rows), 1024):
            lines.append(orjson.dumps({"type": "spans", "rows": rows[i:i + 1024], "attrs": attrs[i:i + 1024]}))
        Path(path).write_bytes(b"\n".join(lines) + b"\n")
    return paths


def naive_pairs(a_start: list[int], a_end: list[int], a_key: list[int], b_start: list[int], b_end: list[int],
                b_key: list[int]) -> int:
    """Count overlapping pairs per key with a Python loop and bisect (the baseline)."""
    by_key: dict[int, list[tuple[int, int]]] = {}
    for s, e, k in zip(b_start, b_end, b_key, strict=True):
        by_key.setdefault(k, []).append((s, e))
    sorted_b = {k: sorted(v) for k, v in by_key.items()}
    starts = {k: [s for s, _ in v] for k, v in sorted_b.items()}
    longest = {k: max(e - s for s, e in v) for k, v in sorted_b.items()}
    count = 0
    for s, e, k in zip(a_start, a_end, a_key, strict=True):
        bs = starts.get(k)
        if bs is None:
            continue
        lo = bisect.bisect_left(bs, s - longest[k])
        hi = bisect.bisect_left(bs, e)
        for j in range(lo, hi):
            if sorted_b[k][j][1] > s:
                count += 1
    return count


def measure(audit_every: int) -> tuple[float, float]:
    """Generate, load, and time ``analyze`` (median of 5) and the baseline (median of 3)."""
    directory = tempfile.mkdtemp(prefix="racelane-bench-analysis-")
    t = time.perf_counter()
    trace = load(generate(directory, audit_every)).trace
    print(f"trace (an audit every {audit_every * 10} ms per host): {len(trace.spans):,} spans, {len(trace.lanes)} lanes, "
          f"{len(trace.hosts)} hosts (generated and loaded in {time.perf_counter() - t:.1f} s, not measured)")
    nova = load_rules("nova")
    extra = parse_rules(tomllib.loads(PAIRS_RULE), "<bench pairs rule>")
    nova.windows.update(extra.windows)
    nova.hazards.extend(extra.hazards)
    runs, result = [], None
    for _ in range(5):
        t = time.perf_counter()
        result = analyze(trace, nova)
        runs.append(time.perf_counter() - t)
    assert result is not None
    counts = result.counts()
    racelane_s = statistics.median(runs)
    batch, query = result.windows["batch"], result.windows["query"]
    base_runs = []
    for _ in range(3):
        t = time.perf_counter()
        pairs = naive_pairs(batch.start_ns.tolist(), batch.end_ns.tolist(), batch.host.tolist(), query.start_ns.tolist(),
                            query.end_ns.tolist(), query.host.tolist())
        base_runs.append(time.perf_counter() - t)
    baseline_s = statistics.median(base_runs)
    found_pairs = int((result.table.rule == result.rule_ids.index("batch-query")).sum())
    assert pairs == found_pairs, (pairs, found_pairs)
    print(f"  hazards: {len(result.table):,} ({', '.join(f'{v} {k}' for k, v in counts.items())}); "
          f"batch/query pairs {found_pairs:,}")
    print(f"  racelane analyze: {racelane_s:.3f} s median of 5; baseline (python loop + bisect, the pairs rule alone): "
          f"{baseline_s:.3f} s median of 3")
    return racelane_s, baseline_s


def main() -> int:
    realistic = measure(audit_every=10)
    stress = measure(audit_every=1)
    for label, (r, b) in (("audit every 100 ms", realistic), ("stress, audit every 10 ms", stress)):
        print(f"analysis ({label}): racelane {r:.3f} s, baseline {b:.3f} s, ratio {b / r:.1f}x, "
              f"target <= 0.5 s {'met' if r <= 0.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
