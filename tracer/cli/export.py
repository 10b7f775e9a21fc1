"""``racelane export``: write a timeline image of traces (PNG, SVG or PDF), fit for a bug report.

The image shows the lanes with their names, the spans (named where the name
fits), marks, lock waits and holds, the hazard bands and a row per hazard
class in view, a time axis, a legend and a title line (files, time range,
rule set); --caption adds the explanation of the selected hazard (or of the
hazards in view). The format follows the extension of -o. No display is
needed. Times (--from, --to) count from the trace's start and take a unit:
800us, 12.5ms, 3s (or as the viewer prints them: "+302.100 ms").

An existing file is only replaced with --force. Exit 0 when the image is
written, 2 for a bad option, range, hazard or an unreadable trace.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from typing import Any

from .check import _usage, add_trace_arguments, expand, load_traces

_TIME = re.compile(r"^\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|μs|ms|s)\s*$")
_UNIT_NS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9}


def register(sub: Any) -> None:
    """Add the ``export`` subcommand."""
    parser = sub.add_parser(
        "export",
        help="write a timeline image (PNG, SVG or PDF) of traces, without a display",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane export sample_traces/nova-1896463-buggy.jsonl -o race.png --hazard 1 --caption\n"
            "  racelane export trace.jsonl -o whole.svg --width 2400\n"
            "  racelane export trace.jsonl -o window.pdf --from 250ms --to 320ms --theme dark\n"
            "  racelane export trace.jsonl -o race@2x.png --hazard 2 --scale 2 --force\n"
            "  racelane export --offset host1=-3.5 sample_traces/multi-host-skew/ -o skew.png"
        ),
    )
    add_trace_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="the image to write: OUT.png, OUT.svg or OUT.pdf (the extension picks the format)")
    parser.add_argument("--rules", default="nova", metavar="NAME|FILE", help="built-in rule set (nova) or a TOML file")
    parser.add_argument("--hazard", type=int, metavar="N",
                        help="outline hazard N (1-based, as racelane check numbers them) and show it with a margin")
    parser.add_argument("--from", dest="t_from", metavar="T", help="start of the time shown, e.g. 250ms (default: the trace's start)")
    parser.add_argument("--to", dest="t_to", metavar="T", help="end of the time shown, e.g. 320ms (default: the trace's end)")
    parser.add_argument("--width", type=int, default=1920, metavar="PX", help="width in pixels (default 1920)")
    parser.add_argument("--height", type=int, default=None, metavar="PX",
                        help="fixed height in pixels (default: as tall as the lanes need)")
    parser.add_argument("--scale", type=float, default=1.0, metavar="S",
                        help="device pixels per pixel for PNG, 2 for HiDPI screens (default 1)")
    parser.add_argument("--theme", choices=("light", "dark"), default="light", help="colours (default light, for documents)")
    parser.add_argument("--caption", action="store_true", help="add the explanation of the hazard(s) below the timeline")
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    parser.set_defaults(handler=run)


def parse_time(text: str) -> float:
    """Return ``text`` (``12.5ms``, ``800us``, ``3s``, ``+302.100 ms``) in ns.

    Raises:
        ValueError: no number with a unit (ns, us, µs, ms, s).
    """
    found = _TIME.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a time: give a number and a unit (ns, us, ms or s), for example 12.5ms")
    sign, number, unit = found.groups()
    value = float(number) * _UNIT_NS[unit]
    return -value if sign == "-" else value


def run(args: argparse.Namespace) -> int:
    """Check the options, load and analyse the traces, write the image; print one line about it."""
    from gui.app import offscreen_if_headless

    offscreen_if_headless()
    try:
        from gui import export
    except ImportError as err:
        return _usage(f"images need PySide6 and pyqtgraph ({err}); install them with: pip install 'racelane[gui]'")
    # Everything that needs no trace is checked before the (possibly long) load.
    path = args.output
    kind = export.image_format(path)
    if os.path.lexists(path) and not args.force:
        return _usage(f"{path} already exists; add --force to replace it")
    bounds = []
    for flag, text in (("--from", args.t_from), ("--to", args.t_to)):
        try:
            bounds.append(None if text is None else parse_time(text))
        except ValueError as err:
            return _usage(f"{flag}: {err}")
    if not export.MIN_WIDTH <= args.width <= export.MAX_WIDTH:
        return _usage(f"--width {args.width}: give {export.MIN_WIDTH} to {export.MAX_WIDTH} pixels")
    if args.height is not None and not 120 <= args.height <= export.MAX_HEIGHT:
        return _usage(f"--height {args.height}: give 120 to {export.MAX_HEIGHT} pixels, or leave it out")
    if not (math.isfinite(args.scale) and export.MIN_SCALE <= args.scale <= export.MAX_SCALE):
        return _usage(f"--scale {args.scale:g}: give {export.MIN_SCALE:g} to {export.MAX_SCALE:g} (2 for HiDPI screens)")
    if args.scale != 1.0 and kind != "png":
        return _usage(f"--scale applies to PNG only; {kind.upper()} is vector and scales by itself")
    if args.hazard is not None and args.hazard < 1:
        return _usage(f"--hazard {args.hazard}: hazards are numbered from 1")

    from gui.data import ViewerData
    from tracer.analysis.hazards import analyze
    from tracer.analysis.rules import load_rules

    ruleset = load_rules(args.rules)  # a bad rule file fails before the load
    result = load_traces(args, foreign=True)  # exits 2 with one clear line when a file is unreadable
    data: Any = ViewerData(result, sources=expand(args.traces))
    data.set_analysis(analyze(data.trace, ruleset), ruleset.name)
    try:
        if args.hazard is not None:
            export.check_hazard(data, args.hazard)
    except export.ExportError as err:
        return _usage(f"--{err}")  # "--hazard 3: the trace has 2 hazards ..."
    t_range = None
    if bounds[0] is not None or bounds[1] is not None:
        default = export.hazard_range(data, args.hazard) if args.hazard is not None else export.whole_range(data)
        t_range = (default[0] if bounds[0] is None else bounds[0], default[1] if bounds[1] is None else bounds[1])
        try:
            t_range = export.check_range(data, t_range)
        except export.ExportError as err:
            return _usage(f"--from/--to: {err}")
    done = export.export_image(data, path, hazard=args.hazard, t_range=t_range, width=args.width, height=args.height,
                               scale=args.scale, theme=args.theme, caption=args.caption, force=args.force)
    print(f"wrote {done.summary()}")
    return 0
