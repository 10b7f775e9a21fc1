"""``racelane stats``: durations per span name, how busy each lane was, lock wait and hold times.

Per span name: count, total, mean, p50, p99 and max duration (unfinished spans
are counted apart, not timed). Per lane: the busy fraction, the union of its
top-level spans over its active range (first to last event). Per lock (spans
of category ``lock`` named ``lock.wait <name>`` and ``lock.held <name>``):
waits, total and longest wait, failed acquires, holds, total and longest hold.
Inputs may be racelane, Chrome or OTLP/JSON traces, or directories of them.

Exit codes: 0 printed, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from .check import add_trace_arguments, load_traces


def register(sub: Any) -> None:
    """Add the ``stats`` subcommand."""
    parser = sub.add_parser(
        "stats",
        help="span durations per name, lane busy fractions, lock wait and hold totals",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane stats sample_traces/nova-1896463-buggy.jsonl\n"
            "  racelane stats --top 10 traces/\n"
            "  racelane stats --json trace.json | jq '.locks[] | {lock, wait_ns}'"
        ),
    )
    add_trace_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document (times in ns)")
    parser.add_argument("--top", type=int, default=30, metavar="N",
                        help="in text mode, show the N span names with the most total time (default 30)")
    parser.set_defaults(handler=run)


def _ms(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.3f}"


def run(args: argparse.Namespace) -> int:
    """Print the statistics of the traces."""
    from tracer.analysis.stats import trace_stats

    result = load_traces(args, foreign=True)
    stats = trace_stats(result.trace)
    if args.json:
        sys.stdout.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"racelane stats: {stats['files']} process(es) on {len(stats['hosts'])} host(s), {stats['lane_count']} lanes, "
          f"{stats['span_count']} spans, {stats['mark_count']} marks over {_ms(stats['duration_ns'])} ms")
    names = stats["spans"]
    shown = names[: max(0, args.top)]
    width = max([len("span name"), *(len(r["name"]) for r in shown)])
    print(f"\n{'span name':<{width}}  {'count':>7} {'open':>5} {'total ms':>12} {'mean ms':>10} {'p50 ms':>10} "
          f"{'p99 ms':>10} {'max ms':>10}")
    for r in shown:
        print(f"{r['name']:<{width}}  {r['count']:>7} {r['unfinished']:>5} {_ms(r['total_ns']):>12} "
              f"{_ms(r['mean_ns']):>10} {_ms(r['p50_ns']):>10} {_ms(r['p99_ns']):>10} {_ms(r['max_ns']):>10}")
    if len(names) > len(shown):
        print(f"... {len(names) - len(shown)} more names (use --top or --json)")
    lanes = stats["lanes"]
    labels = [f"{r['host']} {r['process']} {r['name']}" for r in lanes]
    width = max([len("lane"), *map(len, labels)])
    print(f"\n{'lane':<{width}}  {'spans':>7} {'busy ms':>12} {'active ms':>12} {'busy':>6}")
    for label, r in zip(labels, lanes):
        fraction = "-" if r["busy_fraction"] is None else f"{100 * r['busy_fraction']:.1f}%"
        print(f"{label:<{width}}  {r['spans']:>7} {_ms(r['busy_ns']):>12} {_ms(r['active_ns']):>12} {fraction:>6}")
    locks = stats["locks"]
    if locks:
        width = max([len("lock"), *(len(r["lock"]) for r in locks)])
        print(f"\n{'lock':<{width}}  {'waits':>6} {'wait ms':>10} {'max wait':>10} {'failed':>6} {'holds':>6} "
              f"{'held ms':>10} {'max held':>10}")
        for r in locks:
            print(f"{r['lock']:<{width}}  {r['waits']:>6} {_ms(r['wait_ns']):>10} {_ms(r['max_wait_ns']):>10} "
                  f"{r['failed']:>6} {r['holds']:>6} {_ms(r['held_ns']):>10} {_ms(r['max_held_ns']):>10}")
    else:
        print("\nno lock spans")
    return 0
