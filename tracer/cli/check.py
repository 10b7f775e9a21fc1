"""``racelane check``: load traces, apply a rule set, print hazards with explanations.

Exit codes: 0 no failing hazard (serialized and uncertain overlaps are
reported but do not fail), 1 a confirmed, unprotected or potential hazard,
2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import orjson

CLASS_LABEL = {"confirmed": "CONFIRMED", "unprotected": "UNPROTECTED", "potential": "POTENTIAL",
               "uncertain": "UNCERTAIN", "serialized": "serialized"}


def register(sub: Any) -> None:
    """Add the ``check`` subcommand."""
    parser = sub.add_parser(
        "check",
        help="find hazards (overlapping race windows, broken lock discipline) in traces",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane check sample_traces/nova-1896463-buggy.jsonl\n"
            "  racelane check --rules my-rules.toml --skew-ms 2 --offset host1=-3.5 traces/\n"
            "  racelane check --json trace-*.jsonl | jq '.hazards[].class'"
        ),
    )
    add_trace_arguments(parser)
    parser.add_argument("--rules", default="nova", metavar="NAME|FILE", help="built-in rule set (nova) or a TOML file")
    parser.add_argument("--skew-ms", type=float, default=None, metavar="MS",
                        help="clock-skew tolerance between hosts (default: the rule set's)")
    parser.add_argument("--json", action="store_true", help="print one JSON document for machines")
    parser.add_argument("--limit", type=int, default=50, metavar="N", help="print at most N hazards in text mode (default 50)")
    parser.set_defaults(handler=run)


def add_trace_arguments(parser: argparse.ArgumentParser) -> None:
    """Trace inputs, shared by every command that loads traces."""
    parser.add_argument("traces", nargs="+", metavar="TRACE", help="trace files, or directories of *.jsonl files")
    parser.add_argument("--strict", action="store_true", help="fail on the first malformed line instead of skipping it")
    parser.add_argument("--offset", action="append", default=[], metavar="HOST=MS",
                        help="shift one host's clock by MS milliseconds (repeatable)")


def expand(paths: list[str]) -> list[str]:
    """Expand directories into their trace files (sorted); keep files as given."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if f.endswith((".jsonl", ".json")) and os.path.isfile(os.path.join(path, f)))
            if not found:
                raise SystemExit(_usage(f"{path}: no .jsonl or .json files in this directory"))
            out += found
        else:
            out.append(path)
    return out


def parse_offsets(items: list[str]) -> dict[str, int]:
    """Parse ``HOST=MS`` offsets into ns."""
    offsets = {}
    for item in items:
        host, sep, value = item.partition("=")
        try:
            if not sep or not host:
                raise ValueError
            offsets[host] = round(float(value) * 1_000_000)
        except ValueError:
            raise SystemExit(_usage(f"--offset {item!r}: expected HOST=MILLISECONDS, for example host1=-3.5")) from None
    return offsets


def load_traces(args: argparse.Namespace, *, foreign: bool = False) -> Any:
    """Load the traces named on the command line; exit 2 with one clear sentence if unreadable.

    With ``foreign``, Chrome and OTLP/JSON files among them are converted
    first (see ``native_inputs``); otherwise every file must be a racelane trace.
    """
    import tempfile

    from tracer.analysis import TraceError, load

    paths = expand(args.traces)
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(_usage(f"{path}: no such file"))
    try:
        with tempfile.TemporaryDirectory(prefix="racelane-import-") as directory:
            if foreign:
                paths = native_inputs(paths, directory, strict=args.strict)
            result = load(paths, strict=args.strict)
    except TraceError as err:
        raise SystemExit(_usage(str(err))) from None
    offsets = parse_offsets(args.offset)
    if offsets:
        unknown = sorted(set(offsets) - set(result.trace.hosts))
        if unknown:
            raise SystemExit(_usage(f"--offset names unknown hosts {unknown}; hosts in the trace: {result.trace.hosts}"))
        result = type(result)(result.trace.with_host_offsets(offsets), result.report)
    return result


def native_inputs(paths: list[str], directory: str, *, strict: bool = False) -> list[str]:
    """Return ``paths`` with each Chrome or OTLP/JSON file replaced by its racelane conversion in ``directory``.

    The format of each file is sniffed from its first bytes. What an import
    skipped is said on stderr (``--strict``: refused). A file that is none of
    the three formats raises ``TraceError`` naming it; an empty one is left
    for ``load`` to refuse.

    Raises:
        TraceError: a file is unreadable, of no known format, or (``strict``)
            held malformed events.
    """
    from tracer.analysis import TraceError
    from tracer.analysis.formats import import_file, sniff

    out = []
    for n, path in enumerate(paths):
        kind = sniff(path)
        if kind == "racelane" or (kind is None and os.path.getsize(path) == 0):
            out.append(path)
            continue
        if kind is None:
            raise TraceError(f"{path} is not a racelane, Chrome (Trace Event JSON) or OTLP/JSON trace", path=path)
        data, report = import_file(path)
        if not data:
            raise TraceError(f"{path} holds no events racelane can use ({report.summary()})", path=path)
        if strict and report.skipped:
            raise TraceError(f"{report.problems[0]} (--strict)", path=path)
        if report.skipped or report.ignored:
            print(f"racelane: imported {report.summary()}", file=sys.stderr)
            for problem in report.problems[:5]:
                print(f"  skipped: {problem}", file=sys.stderr)
        native = os.path.join(directory, f"{n:03d}-{os.path.basename(path)}.racelane.jsonl")
        with open(native, "wb") as stream:
            stream.write(data)
        out.append(native)
    return out


def _usage(message: str) -> int:
    print(f"racelane: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Check the traces; print hazards; exit 1 when any fails the check."""
    from tracer.analysis.hazards import analyze
    from tracer.analysis.rules import load_rules

    rules = load_rules(args.rules)
    result = load_traces(args, foreign=True)
    analysis = analyze(result.trace, rules, args.skew_ms)
    report = result.report
    summary = {
        "files": len(result.trace.files), "spans": len(result.trace.spans), "marks": len(result.trace.marks),
        "lanes": len(result.trace.lanes), "hosts": list(result.trace.hosts), "skipped_lines": report.skipped_lines,
        "rules": rules.name, "skew_ms": analysis.skew_ns / 1e6, "counts": analysis.counts(),
    }
    if args.json:
        doc = {"summary": summary, "problems": list(report.problems), "hazards": analysis.hazards()}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 1 if analysis.failing() else 0
    trace = result.trace
    print(f"racelane check: {summary['files']} file(s), {len(trace.hosts)} host(s) ({', '.join(trace.hosts)}), "
          f"{summary['lanes']} lanes, {summary['spans']} spans, {summary['marks']} marks, "
          f"{summary['skipped_lines']} skipped lines")
    for problem in list(report.problems)[:5]:
        print(f"  skipped: {problem}")
    print(f"rules: {rules.name} ({len(rules.hazards)} overlap rules, {len(rules.disciplines)} lock-discipline rules), "
          f"clock-skew tolerance {analysis.skew_ns / 1e6:g} ms\n")
    shown = analysis.hazards(limit=max(0, args.limit))
    for n, hazard in enumerate(shown, start=1):
        print(f"{n:3}. {CLASS_LABEL[hazard['class']]:<11} {hazard['title']}  [{hazard['rule']}]")
        print(f"     {hazard['host']}  {hazard['start']} .. {hazard['end']}")
        print(_wrap(hazard["explanation"], "     "))
        if hazard["spans"]:
            names = ", ".join(f"{s['name']} ({s['start']})" for s in hazard["spans"])
            print(_wrap(f"spans: {names}", "     "))
        print()
    if len(analysis.table) > len(shown):
        print(f"... {len(analysis.table) - len(shown)} more (use --limit or --json)\n")
    counts = analysis.counts()
    print("summary: " + ", ".join(f"{counts[c]} {c}" for c in ("confirmed", "unprotected", "potential", "uncertain", "serialized")))
    failing = analysis.failing()
    print("verdict: " + (f"{failing} hazard(s) need attention" if failing else "no hazard"))
    return 1 if failing else 0


def _wrap(text: str, indent: str, width: int = 100) -> str:
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent)
