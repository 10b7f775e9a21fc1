"""``racelane tail``: follow growing traces and print each hazard the moment it is decided.

For servers without a display. Files named on the command line are followed
by name (rotation by rename or copytruncate, deletion and re-creation are
handled); a directory is followed with its trace files (--glob), new files
joining as processes start. Each hazard is printed once, when both of its
windows are complete; an overlap whose window is still running is printed
as "open" when first seen. A one-line status goes to stderr every
--status-s seconds.

Exit codes: 1 at the first confirmed, unprotected or potential hazard with
--fail-fast; on Ctrl-C (or SIGTERM, or --idle-exit), 1 if such a hazard was
found and 0 if none, as ``racelane check``; 2 for bad usage or input that is
not a racelane trace.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import orjson

from .check import CLASS_LABEL, parse_offsets

STATUS_S = 5.0


def register(sub: Any) -> None:
    """Add the ``tail`` subcommand."""
    parser = sub.add_parser(
        "tail",
        help="follow growing traces and print hazards as they happen (exit 1 on one with --fail-fast)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane tail /var/log/nova/racelane/\n"
            "  racelane tail --fail-fast --json trace-host2-4242.jsonl | jq .explanation\n"
            "  racelane tail --poll 2 --rules my-rules.toml /mnt/nfs/traces/"
        ),
    )
    parser.add_argument("traces", nargs="+", metavar="TRACE|DIR", help="trace files, or directories of trace files")
    parser.add_argument("--rules", default="nova", metavar="NAME|FILE", help="built-in rule set (nova) or a TOML file")
    parser.add_argument("--skew-ms", type=float, default=None, metavar="MS",
                        help="clock-skew tolerance between hosts (default: the rule set's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line for each hazard")
    parser.add_argument("--fail-fast", action="store_true",
                        help="exit 1 at the first confirmed, unprotected or potential hazard")
    parser.add_argument("--poll", nargs="?", type=float, const=1.0, default=None, metavar="SECONDS",
                        help="look every SECONDS (default 1) instead of waiting for file events (NFS, CIFS)")
    parser.add_argument("--glob", default="*.jsonl", metavar="PATTERN", help="trace files of a directory (default *.jsonl)")
    parser.add_argument("--offset", action="append", default=[], metavar="HOST=MS",
                        help="shift one host's clock by MS milliseconds (repeatable)")
    parser.add_argument("--status-s", type=float, default=STATUS_S, metavar="S",
                        help=f"print a status line to stderr every S seconds (default {STATUS_S:g}; 0: never)")
    parser.add_argument("--idle-exit", type=float, default=None, metavar="S",
                        help="stop once no file has grown for S seconds (exit as on Ctrl-C)")
    parser.set_defaults(handler=run)


class HazardPrinter:
    """Print hazards as ``tail`` does: text blocks or JSON lines on ``out``; counts what it printed."""

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.failing = 0
        self.counts: dict[str, int] = {}

    def decided(self, hazard: Any) -> None:
        """Print a hazard that was just decided."""
        self.counts[hazard.class_name] = self.counts.get(hazard.class_name, 0) + 1
        if hazard.failing:
            self.failing += 1
        if self.as_json:
            self._json(hazard)
            return
        d = hazard.description
        self.out.write(f"{_clock(hazard.start_ns)}  {CLASS_LABEL[hazard.class_name]:<11} {d['title']}  [{d['rule']}]\n")
        self.out.write(f"{'':10}{d['host']}  {d['start']} .. {d['end']}\n")
        self.out.write(textwrap.fill(d["explanation"], width=100, initial_indent=" " * 10, subsequent_indent=" " * 10) + "\n")
        if d["spans"]:
            names = ", ".join(f"{s['name']} ({s['start']})" for s in d["spans"])
            self.out.write(textwrap.fill(f"spans: {names}", width=100, initial_indent=" " * 10, subsequent_indent=" " * 10) + "\n")
        self.out.write("\n")
        self.out.flush()

    def opened(self, hazard: Any) -> None:
        """Print an overlap first seen while one of its windows still runs."""
        if self.as_json:
            self._json(hazard)
            return
        running = ", ".join(w.title for w in hazard.windows if not w.complete) or "a window"
        d = hazard.description
        self.out.write(f"{_clock(hazard.start_ns)}  {'open':<11} {d['title']}  [{d['rule']}]: {d['host']}, from "
                       f"{d['start']}, {running} still running ({hazard.class_name} so far)\n")
        self.out.flush()

    def _json(self, hazard: Any) -> None:
        self.out.write(orjson.dumps(hazard.as_dict()).decode() + "\n")
        self.out.flush()


def _clock(ns: int) -> str:
    """Return a wall-clock time of day, local: ``14:03:27.512``."""
    seconds = ns / 1e9
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{int(ns % 1_000_000_000) // 1_000_000:03d}"


class _Status:
    """The one-line status: files, spans and their rate, hazards by class."""

    def __init__(self, err: TextIO, every_s: float) -> None:
        self.err = err
        self.every_s = every_s
        self.last = time.monotonic()
        self.spans_then = 0

    def due(self) -> float:
        """Return seconds until the next status line (inf when never)."""
        if self.every_s <= 0:
            return float("inf")
        return max(0.0, self.last + self.every_s - time.monotonic())

    def line(self, follower: Any, printer: HazardPrinter, open_now: int) -> str:
        trace = follower.trace()
        now = time.monotonic()
        spans = len(trace.spans)
        rate = (spans - self.spans_then) / max(now - self.last, 1e-9)
        self.last, self.spans_then = now, spans
        counts = ", ".join(f"{printer.counts.get(c, 0)} {c}" for c in ("confirmed", "unprotected", "potential", "uncertain", "serialized"))
        report = follower.report()
        skipped = f", {report.skipped_lines} skipped lines" if report.skipped_lines else ""
        return (f"racelane tail: {len(follower.files())} files, {len(trace.hosts)} hosts, {spans:,} spans "
                f"({rate:,.0f}/s){skipped}; hazards: {counts}, {open_now} open")

    def maybe(self, follower: Any, printer: HazardPrinter, open_now: int, force: bool = False) -> None:
        if force or (self.every_s > 0 and self.due() <= 0):
            self.err.write(self.line(follower, printer, open_now) + "\n")
            self.err.flush()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (a service manager stopping us) like Ctrl-C, in the main thread."""
    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    """Follow the traces until Ctrl-C (or the first failing hazard with --fail-fast)."""
    from tracer.analysis.follow import Follower
    from tracer.analysis.rules import load_rules

    if args.poll is not None and args.poll <= 0:
        raise SystemExit(_usage(f"--poll {args.poll:g}: the interval must be positive"))
    rules = load_rules(args.rules)
    follower = Follower(args.traces, glob=args.glob, rules=rules, skew_ms=args.skew_ms, poll_s=args.poll,
                        host_offsets_ns=parse_offsets(args.offset))
    return follow(follower, HazardPrinter(sys.stdout, as_json=args.json), fail_fast=args.fail_fast,
                  status_s=args.status_s, idle_exit_s=args.idle_exit)


def follow(follower: Any, printer: HazardPrinter, *, fail_fast: bool = False, status_s: float = STATUS_S,
           idle_exit_s: float | None = None, should_stop: Any = None) -> int:
    """Run ``follower`` and print what it finds until interrupted; return the exit code.

    ``should_stop`` (a callable) ends the loop when it returns true, after a
    last look at the files (``racelane demo --live`` stops when its scenario does).
    """
    status = _Status(sys.stderr, status_s)
    open_now = 0
    last_growth = time.monotonic()
    with _sigterm_as_interrupt():
        try:
            follower.start()
            while True:
                stopping = bool(should_stop is not None and should_stop())
                if stopping:
                    follower.look()
                else:
                    follower.wait(min(0.5, status.due()))
                update = follower.apply()
                for notice in update.notices:
                    print(f"racelane tail: {notice.message}", file=sys.stderr)
                    if notice.fatal:
                        return 2
                if update.stats.spans or update.stats.marks or update.stats.finished:
                    last_growth = time.monotonic()
                for hazard in update.opened:
                    printer.opened(hazard)
                for hazard in update.hazards:
                    printer.decided(hazard)
                    if fail_fast and hazard.failing:
                        status.maybe(follower, printer, len(update.open), force=True)
                        return 1
                open_now = len(update.open)
                status.maybe(follower, printer, open_now)
                if stopping or (idle_exit_s is not None and time.monotonic() - last_growth >= idle_exit_s):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            follower.stop()
    status.maybe(follower, printer, open_now, force=status.every_s > 0)
    return 1 if printer.failing else 0


def _usage(message: str) -> int:
    print(f"racelane tail: {message}", file=sys.stderr)
    return 2
