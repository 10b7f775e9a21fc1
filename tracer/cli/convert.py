"""``racelane convert``: turn traces into Chrome Trace Event JSON, OTLP/JSON Lines, or one racelane file.

Inputs may be racelane traces, Chrome Trace Event JSON or OTLP/JSON files (the
format of each is told from its first bytes), or directories of them; several
inputs merge onto one time axis. The output format comes from ``--to``, or
else from the output's name: ``.otlp.jsonl`` or ``.otlp.json`` is OTLP,
``.json`` Chrome, ``.jsonl`` racelane.

Exit codes: 0 written, 2 bad usage, unreadable input, or an output that
exists (without ``--force``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .check import add_trace_arguments, expand, load_traces

FORMATS = ("racelane", "chrome", "otlp")


def register(sub: Any) -> None:
    """Add the ``convert`` subcommand."""
    parser = sub.add_parser(
        "convert",
        help="convert traces to Chrome JSON (Perfetto), OTLP/JSON Lines (Jaeger, Tempo) or one racelane file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane convert sample_traces/nova-1896463-buggy.jsonl -o buggy.json   # open in ui.perfetto.dev\n"
            "  racelane convert traces/ -o all.otlp.jsonl                             # OTLP file-exporter layout\n"
            "  racelane convert chrome-trace.json otel.jsonl --to racelane -o merged.jsonl\n"
            "  racelane convert --offset host1=-3.5 traces/ -o aligned.json --force"
        ),
    )
    add_trace_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    parser.add_argument("--to", choices=FORMATS, default=None,
                        help="output format (default: from OUT's extension)")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.set_defaults(handler=run)


def output_format(path: str) -> str | None:
    """Return the format an output name asks for, or None when its extension does not say."""
    name = path.lower()
    if name.endswith((".otlp.jsonl", ".otlp.json")):
        return "otlp"
    if name.endswith(".json"):
        return "chrome"
    if name.endswith(".jsonl"):
        return "racelane"
    return None


def _fail(message: str) -> SystemExit:
    print(f"racelane convert: {message}", file=sys.stderr)
    return SystemExit(2)


def run(args: argparse.Namespace) -> int:
    """Load the inputs, then write them in the chosen format."""
    from tracer.analysis.formats import export_chrome, export_otlp, export_racelane

    out = args.output
    kind = args.to or output_format(out)
    if kind is None:
        raise _fail(f"cannot tell the output format from {out!r}; name it .json (Chrome), .otlp.jsonl (OTLP) "
                    f"or .jsonl (racelane), or pass --to")
    for path in expand(args.traces):
        if not os.path.exists(path):
            raise _fail(f"{path}: no such file")
    if os.path.isdir(out):
        raise _fail(f"{out} is a directory; give a file name")
    if os.path.lexists(out) and not args.force:
        raise _fail(f"{out} already exists; pass --force to overwrite it")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise _fail(f"cannot write {out}: the directory {directory} does not exist")
    result = load_traces(args, foreign=True)
    trace = result.trace
    writer = {"chrome": export_chrome, "otlp": export_otlp, "racelane": export_racelane}[kind]
    try:
        writer(trace, out)
    except OSError as err:
        raise _fail(f"cannot write {out}: {err.strerror or err}") from None
    skipped = result.report.skipped_lines
    print(f"racelane convert: wrote {out} ({kind}): {len(trace.spans)} spans, {len(trace.marks)} marks, "
          f"{len(trace.lanes)} lanes from {len(trace.files)} process(es) on {len(trace.hosts)} host(s)"
          + (f"; {skipped} malformed lines skipped" if skipped else ""))
    return 0
