"""Benchmark: export a 1M-span trace as Chrome Trace Event JSON (target: at most 3 s).

The trace is bench_analysis's (5 hosts x 10 greenthread lanes, 1,000,000
spans, every span with attributes), generated and loaded first (not timed).
``export_chrome`` is timed beside a baseline doing the same job the plain
way: a Python list of one event dict per span (attributes decoded one span at
once with ``Trace.attrs_many``), then ``json.dump`` to a file. Both files are
read back and compared by event count. Also printed, not targeted: OTLP
export, and Chrome import of the exported file.

    python bench/bench_convert.py
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_analysis import generate

from tracer.analysis import load
from tracer.analysis.formats import export_chrome, export_otlp, import_chrome

TARGET_S = 3.0


def baseline(trace, path: str) -> int:  # type: ignore[no-untyped-def]
    """Write the X events of every span the plain way: a list of event dicts, then json.dump."""
    spans, lanes = trace.spans, trace.lanes
    t0 = trace.t0_ns
    attrs = trace.attrs_many(range(len(spans)))  # decoded in one call, as export_chrome does
    events = []
    for i in range(len(spans)):
        lane = int(spans.lane[i])
        start = int(spans.start_ns[i])
        events.append({
            "ph": "X", "name": trace.names[spans.name[i]], "cat": trace.cats[spans.cat[i]],
            "pid": int(lanes.pid[lane]), "tid": int(lanes.lane_id[lane]),
            "ts": (start - t0) / 1000, "dur": (int(spans.end_ns[i]) - start) / 1000, "args": attrs[i],
        })
    with open(path, "w", encoding="utf-8") as out:
        json.dump(events, out)
    return len(events)


def main() -> int:
    directory = tempfile.mkdtemp(prefix="racelane-bench-convert-")
    try:
        t = time.perf_counter()
        trace = load(generate(directory)).trace
        print(f"trace: {len(trace.spans):,} spans, {len(trace.lanes)} lanes, {len(trace.hosts)} hosts "
              f"(generated and loaded in {time.perf_counter() - t:.1f} s, not measured)")
        out = os.path.join(directory, "out.json")
        runs = []
        for _ in range(3):
            t, cpu = time.perf_counter(), time.process_time()
            events = export_chrome(trace, out)
            runs.append((time.perf_counter() - t, time.process_time() - cpu))
        chrome_s, chrome_cpu = min(runs)
        size = os.path.getsize(out)
        print(f"export_chrome: {chrome_s:.2f} s (best of 3; CPU {chrome_cpu:.2f} s), {events:,} events, {size / 1e6:.0f} MB")
        base_out = os.path.join(directory, "baseline.json")
        t, cpu = time.perf_counter(), time.process_time()
        base_events = baseline(trace, base_out)
        baseline_s, baseline_cpu = time.perf_counter() - t, time.process_time() - cpu
        print(f"baseline (event dicts + json.dump): {baseline_s:.2f} s (CPU {baseline_cpu:.2f} s), {base_events:,} events, "
              f"{os.path.getsize(base_out) / 1e6:.0f} MB")
        os.unlink(base_out)
        t = time.perf_counter()
        otlp_out = os.path.join(directory, "out.otlp.jsonl")
        export_otlp(trace, otlp_out)
        print(f"export_otlp (not targeted): {time.perf_counter() - t:.2f} s, {os.path.getsize(otlp_out) / 1e6:.0f} MB")
        os.unlink(otlp_out)
        t = time.perf_counter()
        data, report = import_chrome(out)
        print(f"import_chrome of that file (not targeted): {time.perf_counter() - t:.2f} s, {report.spans:,} spans, "
              f"{report.skipped} skipped")
        assert report.spans == len(trace.spans), (report.spans, len(trace.spans))
        del data
        verdict = "met" if chrome_s <= TARGET_S else "NOT met"
        print(f"convert: chrome {chrome_s:.2f} s (<=3 s, {verdict}), baseline {baseline_s:.2f} s, "
              f"ratio {baseline_s / chrome_s:.1f}x")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
