"""``racelane scenario nova-evacuation``: reproduce Nova bug 1896463 without sleeps."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add the ``scenario`` subcommand."""
    parser = sub.add_parser(
        "scenario",
        help="run the deterministic Nova evacuation scenario (bug 1896463)",
        description=(
            "Run a model of Nova's evacuation racing the resource audit on the destination host, "
            "deterministically: one named schedule, a list of choices, or every interleaving (--explore). "
            "--live runs it on real threads, in real time, writing the trace as it goes."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane scenario nova-evacuation --variant buggy --schedule bug -o buggy.jsonl\n"
            "  racelane scenario nova-evacuation --variant fixed --explore\n"
            "  racelane scenario nova-evacuation --live --duration 20 -o live.jsonl"
        ),
    )
    parser.add_argument("name", choices=["nova-evacuation"], help="the scenario")
    parser.add_argument("--variant", choices=["buggy", "fixed"], default="buggy",
                        help="buggy: the evacuation finishes outside compute_resources (Nova < 23); fixed: finish_evacuation")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--schedule", default=None, metavar="NAME|LIST",
                     help="a named schedule (bug, evacuation-first, audit-first) or comma-separated actor names, "
                          "one per choice point (default: bug)")
    how.add_argument("--explore", action="store_true", help="run every interleaving; count those that lose the PCI allocation")
    how.add_argument("--live", action="store_true", help="real threads, real time: audits every second, several evacuations")
    parser.add_argument("-o", "--output", default=None, metavar="TRACE",
                        help="write the trace here (with --explore: the first losing schedule's)")
    parser.add_argument("--no-host1", action="store_true", help="leave out host1's process (the evacuation source)")
    parser.add_argument("--duration", type=float, default=10.0, metavar="S", help="with --live: how long to run (default 10 s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the scenario as asked; print what happened."""
    from tracer.scenario import run as scenario

    if args.live:
        from tracer.scenario import live

        if not args.output:
            print("racelane scenario: error: --live needs -o TRACE", file=sys.stderr)
            return 2
        summary = live.run(args.output, duration_s=args.duration, variant=args.variant)
        print(summary.describe())
        return 0
    if args.explore:
        total = lost = persisting = 0
        first_losing: list[str] | None = None
        for outcome in scenario.explore_all(args.variant):
            total += 1
            if outcome.lost:
                lost += 1
                persisting += outcome.lost_after_next_audit
                if first_losing is None:
                    first_losing = outcome.schedule
        print(f"{args.variant}: {total} distinct schedules, {lost} lose the PCI allocation "
              f"({persisting} still lost after the next audit)")
        if first_losing is not None:
            print(f"first losing schedule: {','.join(first_losing)}")
            if args.output:
                scenario.record(args.variant, first_losing, args.output, with_host1=not args.no_host1)
                print(f"trace of the first losing schedule written to {args.output}")
        elif args.output:
            print("no losing schedule: no trace written", file=sys.stderr)
        return 0
    schedule: Any = args.schedule or "bug"
    if "," in schedule or schedule in ("evacuation", "audit"):
        schedule = [s.strip() for s in schedule.split(",") if s.strip()]
    elif schedule not in scenario.SCRIPTS:
        print(f"racelane scenario: error: unknown schedule {schedule!r}; named schedules: {', '.join(scenario.SCRIPTS)}; "
              "or give actor names (evacuation, audit) separated by commas", file=sys.stderr)
        return 2
    try:
        if args.output:
            outcome = scenario.record(args.variant, schedule, args.output, with_host1=not args.no_host1)
        else:
            outcome = scenario.run_once(args.variant, schedule)
    except Exception as err:
        from tracer.scenario.sched import ScheduleError

        if isinstance(err, ScheduleError):
            print(f"racelane scenario: error: {err}", file=sys.stderr)
            return 2
        raise
    verdict = "LOST: host2's VF is no longer allocated to the instance" if outcome.lost else "kept: the VF stays allocated to the instance"
    print(f"{args.variant}, schedule {','.join(outcome.schedule) or '(no choices)'}: {verdict}")
    if outcome.lost:
        print(f"after the next audit: {'still lost' if outcome.lost_after_next_audit else 'recovered'}")
    if args.output:
        print(f"trace written to {args.output}")
    return 0
