"""Recorder benchmark: racelane against OpenTelemetry and VizTracer, in one run.

    .venv/bin/python bench/bench_recorder.py [--runs 7] [--n 100000]

Every measurement runs in a fresh subprocess (this script re-invoked with
``--child VARIANT``); the runs of all variants are interleaved, round after
round, so that the machine's noise falls on every variant alike, and each
figure is the median of the valid runs. A run is valid only when the file it
wrote holds exactly the spans it was asked to record (parsed back after the
clock stopped): nothing is measured that did not actually write.

Timed for the recording variants: from just before the loop to just after the
call that flushes and closes the file (``rec.stop()``, ``provider.shutdown()``,
``t.stop(); t.save()``), divided by the number of spans. Starting the recorder
is not timed. The loop body is the same everywhere: one span named ``query``
with an integer attribute ``i``, and nothing inside.

The script reports; it never fails: it exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

N_DEFAULT = 100_000
RUNS_DEFAULT = 7
MIN_RUNS = 5
INNER_REPEATS = 5  # loops timed per subprocess for the sub-microsecond variants
HEAVY_MODULES = ("numpy", "watchdog", "PySide6")

TARGET_RACELANE_US = 1.0
TARGET_OTEL_RATIO = 20.0
TARGET_VIZ_RATIO = 2.5
TARGET_OFF_NS = 50.0


# --- children: each measures one variant once and prints one JSON line -------


def _loop_ns(body: Callable[[int], None], n: int) -> int:
    t0 = time.perf_counter_ns()
    body(n)
    return time.perf_counter_ns() - t0


def child_empty(n: int, _dir: str) -> dict[str, Any]:
    def body(n: int) -> None:
        for _i in range(n):
            pass

    times = [_loop_ns(body, n) for _ in range(INNER_REPEATS)]
    return {"ok": True, "per_ns": statistics.median(times) / n}


def child_noop_with(n: int, _dir: str) -> dict[str, Any]:
    class Noop:
        def __enter__(self) -> Noop:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    noop = Noop()

    def body(n: int) -> None:
        for _i in range(n):
            with noop:
                pass

    times = [_loop_ns(body, n) for _ in range(INNER_REPEATS)]
    return {"ok": True, "per_ns": statistics.median(times) / n}


def child_racelane_off(n: int, _dir: str) -> dict[str, Any]:
    import tracer

    span = tracer.span
    if tracer.is_recording() or type(span("query")).__name__ != "_NoopSpan":
        return {"ok": False, "why": "racelane is recording in the 'off' child"}

    def body(n: int) -> None:
        for i in range(n):
            with span("query", cat="db", i=i):
                pass

    times = [_loop_ns(body, n) for _ in range(INNER_REPEATS)]
    return {"ok": True, "per_ns": statistics.median(times) / n}


def child_racelane_off_call(n: int, _dir: str) -> dict[str, Any]:
    """The issue's literal measure: the ``span(...)`` call alone while nothing records."""
    import tracer

    span = tracer.span
    if tracer.is_recording():
        return {"ok": False, "why": "racelane is recording in the 'off' child"}

    def body(n: int) -> None:
        for i in range(n):
            span("query", cat="db", i=i)

    times = [_loop_ns(body, n) for _ in range(INNER_REPEATS)]
    return {"ok": True, "per_ns": statistics.median(times) / n}


def child_racelane_pure(n: int, directory: str) -> dict[str, Any]:
    """racelane with its pure-Python hot path (RACELANE_PURE=1 is set by the parent)."""
    from tracer.record import core

    if core.accelerated():
        return {"ok": False, "why": "the C accelerator is loaded in the pure-Python child"}
    return child_racelane(n, directory)


def child_racelane(n: int, directory: str) -> dict[str, Any]:
    import orjson

    import tracer

    path = os.path.join(directory, f"racelane-{os.getpid()}.jsonl")
    span = tracer.span
    rec = tracer.start(path, flush_interval_s=0.1)
    # racelane looks lanes up through greenlet whenever greenlet is importable.
    lane_mode = "greenlet" if rec.recorder.registry._getcurrent is not None else "thread"
    from tracer.record import core

    hot_path = "C accelerator" if core.accelerated() else "pure Python"
    t0 = time.perf_counter_ns()
    for i in range(n):
        with span("query", cat="db", i=i):
            pass
    t1 = time.perf_counter_ns()
    stats = rec.stop()
    t2 = time.perf_counter_ns()

    # Verify, outside the clock: every span is in the file, once.
    seen: set[int] = set()
    rows = 0
    kinds: list[str] = []
    with open(path, "rb") as f:
        for line in f:
            record = orjson.loads(line)
            kinds.append(record["type"])
            if record["type"] == "spans":
                # Attributes are column 7 of each row, or (newer layout) a
                # parallel ``attrs`` list: accept either.
                attrs_column = record.get("attrs")
                for k, row in enumerate(record["rows"]):
                    rows += 1
                    attrs = attrs_column[k] if attrs_column is not None else row[7]
                    if row[5] == "query" and row[6] == "db" and attrs:
                        seen.add(attrs["i"])
    size = os.path.getsize(path)
    os.remove(path)
    # ``open`` lines are legitimate: a flush that finds a span still running
    # writes it as unfinished; it is written again, finished, in a ``spans`` line.
    ok = rows == n and seen == set(range(n)) and kinds[0] == "header" and kinds[-1] == "end"
    why = "" if ok else (f"file holds {rows} span rows ({len(seen)} distinct i) of {n}, "
                         f"first line {kinds[0]!r}, last {kinds[-1]!r}; stats={stats.as_dict()}")
    return {"ok": ok, "why": why, "total_ns": t2 - t0, "loop_ns": t1 - t0, "spans": rows, "bytes": size,
            "lane_mode": lane_mode, "hot_path": hot_path}


def child_otel(n: int, directory: str) -> dict[str, Any]:
    from collections.abc import Sequence

    import orjson
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    path = os.path.join(directory, f"otel-{os.getpid()}.jsonl")

    class CompactFileExporter(SpanExporter):
        """One compact JSON line per span (orjson, as racelane uses), one write per batch."""

        def __init__(self, path: str) -> None:
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            lines = []
            for s in spans:
                ctx = s.context
                parent = s.parent
                lines.append(
                    orjson.dumps(
                        {
                            "name": s.name,
                            "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
                            "span_id": f"{ctx.span_id:016x}" if ctx else None,
                            "parent_id": f"{parent.span_id:016x}" if parent else None,
                            "start": s.start_time,
                            "end": s.end_time,
                            "attributes": dict(s.attributes or {}),
                        },
                        option=orjson.OPT_APPEND_NEWLINE,
                    )
                )
            os.write(self.fd, b"".join(lines))
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            os.close(self.fd)

    provider = TracerProvider()
    # The queue must hold every span, or the processor drops them; the
    # schedule matches racelane's 100 ms flush interval.
    provider.add_span_processor(
        BatchSpanProcessor(CompactFileExporter(path), max_queue_size=2 * n, schedule_delay_millis=100)
    )
    start_span = provider.get_tracer("bench").start_as_current_span
    t0 = time.perf_counter_ns()
    for i in range(n):
        with start_span("query", attributes={"i": i}):
            pass
    t1 = time.perf_counter_ns()
    provider.shutdown()
    t2 = time.perf_counter_ns()

    seen: set[int] = set()
    rows = 0
    with open(path, "rb") as f:
        for line in f:
            record = orjson.loads(line)
            rows += 1
            if record["name"] == "query":
                seen.add(record["attributes"]["i"])
    size = os.path.getsize(path)
    os.remove(path)
    ok = rows == n and seen == set(range(n))
    why = "" if ok else f"file holds {rows} spans ({len(seen)} distinct i) of {n}"
    return {"ok": ok, "why": why, "total_ns": t2 - t0, "loop_ns": t1 - t0, "spans": rows, "bytes": size}


def child_viztracer(n: int, directory: str) -> dict[str, Any]:
    from viztracer import VizTracer

    path = os.path.join(directory, f"viztracer-{os.getpid()}.json")
    # The ring buffer must hold every event, or the oldest are overwritten.
    t = VizTracer(output_file=path, verbose=0, tracer_entries=max(1_000_000, 2 * n))
    t.start()
    t0 = time.perf_counter_ns()
    for _i in range(n):
        with t.log_event("query"):
            pass
    t1 = time.perf_counter_ns()
    t.stop()
    t.save()
    t2 = time.perf_counter_ns()

    with open(path, "rb") as f:
        data = json.load(f)
    events = data["traceEvents"]
    rows = sum(1 for e in events if e.get("ph") == "X" and str(e.get("name", "")).startswith("query ("))
    overflow = data.get("viztracer_metadata", {}).get("overflow", False)
    size = os.path.getsize(path)
    os.remove(path)
    ok = rows == n and not overflow
    why = "" if ok else f"file holds {rows} query events of {n} (overflow={overflow})"
    return {"ok": ok, "why": why, "total_ns": t2 - t0, "loop_ns": t1 - t0, "spans": rows, "bytes": size,
            "events": len(events)}


CHILDREN: dict[str, Callable[[int, str], dict[str, Any]]] = {
    "racelane": child_racelane,
    "otel": child_otel,
    "viztracer": child_viztracer,
    "racelane_pure": child_racelane_pure,
    "racelane_off": child_racelane_off,
    "racelane_off_call": child_racelane_off_call,
    "empty": child_empty,
    "noop_with": child_noop_with,
}


def run_child(variant: str, n: int, directory: str) -> None:
    try:
        result = CHILDREN[variant](n, directory)
    except Exception as err:
        result = {"ok": False, "why": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
    print(json.dumps(result), flush=True)


# --- parent: interleave fresh subprocesses, take medians, print ---------------


def _child_env(variant: str = "") -> dict[str, str]:
    # RACELANE_OUT would start a recording by itself; nothing else should leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACELANE_")}
    if variant == "racelane_pure":
        env["RACELANE_PURE"] = "1"
    return env


def spawn_child(variant: str, n: int, directory: str) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", variant, "--n", str(n), "--dir", directory]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=_child_env(variant))
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": "timed out after 900 s"}
    lines = proc.stdout.strip().splitlines()
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        result = {"ok": False, "why": f"exit {proc.returncode}, no result"}
    if proc.stderr.strip():
        result["stderr"] = proc.stderr.strip()
    return result


def import_time_us() -> float | None:
    """Cumulative µs of the ``tracer`` line of ``python -X importtime -c 'import tracer'``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import tracer"],
                          capture_output=True, text=True, env=_child_env())
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s?(.*)$", line)
        if m and m.group(3).strip() == "tracer" and not m.group(3).startswith(" "):
            return float(m.group(2))
    return None


def heavy_modules_after_import() -> tuple[list[str], int]:
    code = (
        "import sys, json; before = set(sys.modules); import tracer; "
        f"print(json.dumps([sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules), "
        "len(set(sys.modules) - before)]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_child_env())
    heavy, count = json.loads(proc.stdout.strip().splitlines()[-1])
    return heavy, count


def _cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs from /proc/stat, None where unavailable."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        return (fields[7] if len(fields) > 7 else 0), sum(fields)
    except (OSError, ValueError):
        return None


def _git_head() -> str:
    try:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tracer/record"], capture_output=True,
                               text=True, cwd=root).stdout.strip()
        return proc.stdout.strip() + (" (tracer/record modified)" if dirty else "")
    except OSError:
        return "unknown"


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def parent(runs: int, n: int) -> None:
    runs = max(MIN_RUNS, runs)
    variants = list(CHILDREN)
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    invalid: dict[str, list[str]] = {v: [] for v in variants}
    print(f"racelane recorder benchmark: {n:,} spans per run, {runs} runs per variant, one fresh subprocess per run")
    print(f"python {sys.version.split()[0]} ({sys.executable}), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    sys.stdout.flush()
    started = time.monotonic()
    cpu_before = _cpu_times()
    with tempfile.TemporaryDirectory(prefix="racelane-bench-") as directory:
        attempts = 0
        max_attempts = 2 * runs + 3
        while attempts < max_attempts:
            pending = [v for v in variants if len(results[v]) < runs]
            if not pending:
                break
            # Rotate the order every round so no variant always runs first.
            shift = attempts % len(pending)
            for variant in pending[shift:] + pending[:shift]:
                result = spawn_child(variant, n, directory)
                result["round"] = attempts
                if result.get("ok"):
                    results[variant].append(result)
                else:
                    why = result.get("why", "?")
                    stderr = result.get("stderr", "")
                    if stderr:
                        why += " | stderr: " + stderr.splitlines()[-1][:200]
                    invalid[variant].append(why)
                    print(f"  INVALID {variant} run (not counted): {why}", flush=True)
            attempts += 1
            print(f"  round {attempts} done ({time.monotonic() - started:.0f} s)", flush=True)
    cpu_after = _cpu_times()
    steal = None
    if cpu_before and cpu_after and cpu_after[1] > cpu_before[1]:
        steal = 100.0 * (cpu_after[0] - cpu_before[0]) / (cpu_after[1] - cpu_before[1])
    import_times: list[float] = []
    import_time_us()  # warm-up: compiles bytecode if needed
    for _ in range(5):
        t = import_time_us()
        if t is not None:
            import_times.append(t)
    heavy, module_count = heavy_modules_after_import()

    def per_span_us(variant: str, key: str = "total_ns") -> list[float]:
        return [r[key] / n / 1000 for r in results[variant]]

    def per_iter_ns(variant: str) -> list[float]:
        return [r["per_ns"] for r in results[variant]]

    rows: list[tuple[str, list[float], str]] = [
        ("racelane: record + write", per_span_us("racelane"), "µs/span"),
        ("  of which the loop", per_span_us("racelane", "loop_ns"), "µs/span"),
        ("OpenTelemetry SDK: record + export", per_span_us("otel"), "µs/span"),
        ("  of which the loop", per_span_us("otel", "loop_ns"), "µs/span"),
        ("VizTracer log_event: record + save", per_span_us("viztracer"), "µs/span"),
        ("  of which the loop", per_span_us("viztracer", "loop_ns"), "µs/span"),
        ("racelane, pure-Python hot path", per_span_us("racelane_pure"), "µs/span"),
        ("racelane off: span() call", per_iter_ns("racelane_off_call"), "ns/iter"),
        ("racelane off: with span(): pass", per_iter_ns("racelane_off"), "ns/iter"),
        ("empty loop (baseline)", per_iter_ns("empty"), "ns/iter"),
        ("with NOOP: pass (calibration)", per_iter_ns("noop_with"), "ns/iter"),
        ("import tracer (-X importtime, cumul.)", import_times, "µs"),
    ]
    print()
    print(f"{'measurement':<40} {'median':>10} {'min':>10} {'max':>10}  {'unit':<8} {'valid':>5} {'bad':>4}")
    print("-" * 94)
    bad_of = {
        "racelane: record + write": "racelane",
        "OpenTelemetry SDK: record + export": "otel",
        "VizTracer log_event: record + save": "viztracer",
        "racelane, pure-Python hot path": "racelane_pure",
        "racelane off: span() call": "racelane_off_call",
        "racelane off: with span(): pass": "racelane_off",
        "empty loop (baseline)": "empty",
        "with NOOP: pass (calibration)": "noop_with",
    }
    for label, values, unit in rows:
        spec = ".2f" if unit == "µs/span" else ".1f" if unit == "ns/iter" else ".0f"
        bad = str(len(invalid[bad_of[label]])) if label in bad_of else ""
        print(f"{label:<40} {_fmt(_med(values), spec):>10} {_fmt(min(values) if values else None, spec):>10} "
              f"{_fmt(max(values) if values else None, spec):>10}  {unit:<8} {len(values):>5} {bad:>4}")
    print()

    racelane = _med(per_span_us("racelane"))
    otel = _med(per_span_us("otel"))
    viz = _med(per_span_us("viztracer"))
    off = _med(per_iter_ns("racelane_off_call"))
    off_with = _med(per_iter_ns("racelane_off"))
    pure = _med(per_span_us("racelane_pure"))
    empty = _med(per_iter_ns("empty"))
    noop = _med(per_iter_ns("noop_with"))
    otel_ratio = otel / racelane if otel and racelane else None
    viz_ratio = viz / racelane if viz and racelane else None
    off_overhead = off - empty if off is not None and empty is not None else None
    noop_overhead = noop - empty if noop is not None and empty is not None else None

    # The same ratios taken round by round (variants of one round ran within
    # seconds of each other), then their median: less sensitive to the slow
    # spells of a shared machine than the ratio of medians above.
    def paired(a: str, b: str, f: Callable[[dict[str, Any], dict[str, Any]], float]) -> float | None:
        by_round = {r["round"]: r for r in results[b]}
        return _med([f(r, by_round[r["round"]]) for r in results[a] if r["round"] in by_round])

    p_otel = paired("otel", "racelane", lambda a, b: a["total_ns"] / b["total_ns"])
    p_viz = paired("viztracer", "racelane", lambda a, b: a["total_ns"] / b["total_ns"])
    p_off = paired("racelane_off_call", "empty", lambda a, b: a["per_ns"] - b["per_ns"])
    p_pure = paired("racelane_pure", "racelane", lambda a, b: a["total_ns"] / b["total_ns"])
    print(f"same-round ratios (median over rounds): otel/racelane={_fmt(p_otel, '.1f')}x  "
          f"viztracer/racelane={_fmt(p_viz, '.2f')}x  off_overhead={_fmt(p_off, '.0f')} ns  "
          f"pure-Python/C hot path={_fmt(p_pure, '.2f')}x")
    sizes = {v: _med([r["bytes"] / n for r in results[v]]) for v in ("racelane", "otel", "viztracer")}
    modes = sorted({r.get("lane_mode", "?") for r in results["racelane"]})
    hot_paths = sorted({r.get("hot_path", "?") for r in results["racelane"]})
    print(f"CPU time stolen by the hypervisor during the runs: {_fmt(steal, '.1f')}%; "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    print(f"racelane lane lookup mode: {', '.join(modes) or 'n/a'}; hot path: {', '.join(hot_paths) or 'n/a'}; "
          f"git commit measured: {_git_head()}")
    off_with_overhead = off_with - empty if off_with is not None and empty is not None else None
    print(f"recording off: span() call {_fmt(off_overhead, '.0f')} ns over the empty loop; "
          f"`with span(): pass` {_fmt(off_with_overhead, '.0f')} ns (the `with` statement alone costs "
          f"{_fmt(noop_overhead, '.0f')} ns on a Python no-op object); "
          f"pure-Python hot path {_fmt(pure, '.2f')} µs/span")
    print("file bytes per span: " + ", ".join(f"{v} {_fmt(s, '.0f')}" for v, s in sizes.items()))
    print(f"calibration: a bare `with` on a no-op Python object costs {_fmt(noop_overhead, '.0f')} ns over the empty loop "
          "(the pure-Python floor for any `with span(...)`)")
    print(f"import tracer: {_fmt(_med(import_times), '.0f')} µs cumulative, {module_count} modules loaded; "
          f"heavy modules loaded: {', '.join(heavy) if heavy else 'none'} (checked {', '.join(HEAVY_MODULES)})")
    for variant, whys in invalid.items():
        if whys:
            print(f"invalid runs of {variant}: {len(whys)} (first: {whys[0]})")
    for variant in variants:
        if len(results[variant]) < MIN_RUNS:
            print(f"WARNING: only {len(results[variant])} valid runs of {variant} (wanted {runs}); its figures are unreliable")
    print(f"racelane absolute: {_fmt(racelane, '.2f')} µs/span recorded and written (target <= {TARGET_RACELANE_US:g} µs): "
          f"{_verdict(None if racelane is None else racelane <= TARGET_RACELANE_US)}")
    print(f"targets: otel/racelane {_verdict(None if otel_ratio is None else otel_ratio >= TARGET_OTEL_RATIO)}, "
          f"viztracer/racelane {_verdict(None if viz_ratio is None else viz_ratio >= TARGET_VIZ_RATIO)}, "
          f"off overhead {_verdict(None if off_overhead is None else off_overhead <= TARGET_OFF_NS)}")
    print(f"ratios: otel/racelane={_fmt(otel_ratio, '.1f')}x (target >={TARGET_OTEL_RATIO:g}x)  "
          f"viztracer/racelane={_fmt(viz_ratio, '.2f')}x (target >={TARGET_VIZ_RATIO:g}x)  "
          f"off_overhead={_fmt(off_overhead, '.0f')} ns (target <={TARGET_OFF_NS:g} ns)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=RUNS_DEFAULT, help=f"valid runs per variant (at least {MIN_RUNS})")
    ap.add_argument("--n", type=int, default=N_DEFAULT, help="spans per run")
    ap.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=tempfile.gettempdir(), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.n, args.dir)
        return 0
    try:
        parent(args.runs, args.n)
    except Exception:
        traceback.print_exc()
        print("ratios: n/a (the benchmark itself failed; see the traceback above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
