"""``racelane demo``: record a small audit-versus-evacuation program and show what was captured.

Two real threads share a ``compute_resources`` lock the way Nova's resource
tracker does: the audit reads the instance list and the migration list under
the lock, while the evacuation finishes (host, migration status) outside it.
The demo records them with the real recorder into a file and prints each
lane's spans, marks and lock waits on a text timeline.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from typing import Any

import orjson

import tracer
from tracer.record.format import iter_rows


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = sub.add_parser(
        "demo",
        help="record a small audit-vs-evacuation program and print what was captured",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  racelane demo -o /tmp/demo.jsonl",
    )
    parser.add_argument("-o", "--output", default=None, help="where to write the trace (default: a temporary file)")
    parser.set_defaults(handler=run)


def _program() -> None:
    compute_resources = tracer.traced_lock(threading.Lock(), "compute_resources")
    db = {"host": "host1", "migration": "pre-migrating"}
    read_instances = threading.Event()

    def audit() -> None:
        with tracer.span("rt._update_available_resource", cat="audit", host="host2", node="node2"), compute_resources:
            with tracer.span("db.InstanceList.get_by_host_and_node", cat="db", host="host2") as s:
                time.sleep(0.002)
                s.set("result_uuids", ["X"] if db["host"] == "host2" else [])
            read_instances.set()
            time.sleep(0.004)  # the gap between the two reads
            with tracer.span("db.MigrationList.get_in_progress_and_error", cat="db", host="host2") as s:
                time.sleep(0.002)
                s.set("statuses", [db["migration"]] if db["migration"] != "done" else [])

    def evacuation() -> None:
        with tracer.span("compute.rebuild_instance", cat="evacuation", instance_uuid="X", migration_id=7):
            with tracer.span("rt.rebuild_claim", cat="evacuation"), compute_resources:
                time.sleep(0.001)
            read_instances.wait(1.0)
            with tracer.span("db.Instance.save", cat="db", instance_uuid="X", host="host2"):
                db["host"] = "host2"
                time.sleep(0.001)
            with tracer.span("db.Migration.save", cat="db", migration_id=7, status="done"):
                db["migration"] = "done"
                tracer.mark("migration status", cat="evacuation", before="pre-migrating", after="done")
                time.sleep(0.001)

    threads = [threading.Thread(target=evacuation, name="rpc rebuild_instance X"),
               threading.Thread(target=audit, name="periodic audit")]
    threads[0].start()
    time.sleep(0.003)
    threads[1].start()
    for t in threads:
        t.join()


def run(args: argparse.Namespace) -> int:
    """Record the demo program, then print its lanes on a text timeline."""
    path = args.output or os.path.join(tempfile.mkdtemp(prefix="racelane-demo-"), "demo.jsonl")
    with tracer.start(path, handle_sigterm=False):
        _program()
    print_timeline(path)
    print(f"\ntrace written to {path}")
    print("coming next: the deterministic Nova scenario, hazard analysis (`racelane check`) and the swimlane viewer")
    return 0


def print_timeline(path: str, width: int = 60) -> None:
    """Print every lane of a racelane trace as rows of bars on a shared time axis."""
    with open(path, "rb") as fh:
        records = [orjson.loads(line) for line in fh if line.endswith(b"\n")]
    lanes = {r["lane"]: r["name"] for r in records if r["type"] == "lane"}
    spans = [row for r in records if r["type"] == "spans" for row in iter_rows(r)]
    done = {s["id"] for s in spans}
    spans += [dict(row, end_ns=None) for r in records if r["type"] == "open" for row in iter_rows(r) if row["id"] not in done]
    marks = [row for r in records if r["type"] == "marks" for row in iter_rows(r)]
    if not spans:
        print("nothing was recorded")
        return
    t0 = min(s["start_ns"] for s in spans)
    t1 = max((s["end_ns"] or s["start_ns"]) for s in spans)
    scale = width / max(1, t1 - t0)
    print(f"{len(spans)} spans, {len(marks)} marks in {len(lanes)} lanes over {(t1 - t0) / 1e6:.1f} ms\n")
    for lane_id, lane_name in lanes.items():
        lane_spans = sorted((s for s in spans if s["lane"] == lane_id), key=lambda s: s["start_ns"])
        if not lane_spans:
            continue
        print(f"[{lane_name}]")
        for s in lane_spans:
            end = s["end_ns"] if s["end_ns"] is not None else t1
            a = int((s["start_ns"] - t0) * scale)
            b = max(a + 1, int((end - t0) * scale))
            bar = " " * a + ("#" if s["cat"] != "lock" else "~") * (b - a)
            print(f"  {bar:<{width}} +{(s['start_ns'] - t0) / 1e6:6.2f} ms {(end - s['start_ns']) / 1e6:6.2f} ms  {s['name']}")
        for m in (m for m in marks if m["lane"] == lane_id):
            a = int((m["ts_ns"] - t0) * scale)
            print(f"  {' ' * a + '|':<{width}} +{(m['ts_ns'] - t0) / 1e6:6.2f} ms  mark: {m['name']} {m['attrs'] or ''}")
