"""``racelane view``: open traces in the desktop viewer (swimlanes, hazard bands, details).

With --screenshot the window is rendered offscreen (no display needed), saved
as a PNG of --size and the command exits 0; with --hazard N the Nth hazard is
selected first (zoomed, its spans outlined). An unreadable trace is reported on
stderr with exit code 2, as for every racelane command.

The viewer needs the gui extra: pip install 'racelane[gui]'.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .check import _usage, load_traces


def register(sub: Any) -> None:
    """Add the ``view`` subcommand."""
    parser = sub.add_parser(
        "view",
        help="open traces in the desktop viewer (or save a screenshot of it)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane view sample_traces/nova-1896463-buggy.jsonl\n"
            "  racelane view --hazard 1 --screenshot buggy.png --size 1600x900 sample_traces/nova-1896463-buggy.jsonl\n"
            "  racelane view --offset host1=-3.5 sample_traces/multi-host-skew/"
        ),
    )
    parser.add_argument("traces", nargs="*", metavar="TRACE", help="trace files, or directories of *.jsonl files")
    parser.add_argument("--rules", default="nova", metavar="NAME|FILE", help="built-in rule set (nova) or a TOML file")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen, save it as PNG, exit")
    parser.add_argument("--hazard", type=int, metavar="N", help="select hazard N (1-based) first: zoom to it")
    parser.add_argument("--size", default="1400x860", metavar="WxH", help="window size in pixels (default 1400x860)")
    parser.add_argument("--strict", action="store_true", help="refuse the input at the first malformed line")
    parser.add_argument("--offset", action="append", default=[], metavar="HOST=MS",
                        help="shift one host's clock by MS milliseconds (repeatable)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load, analyse and show the traces; with --screenshot, save the PNG and return."""
    if args.screenshot:
        from gui.app import offscreen_if_headless

        offscreen_if_headless()
    try:
        from gui import app
    except ImportError as err:
        return _usage(f"the viewer needs PySide6 and pyqtgraph ({err}); install them with: pip install 'racelane[gui]'")
    size = app.parse_size(args.size)
    if size is None:
        return _usage(f"--size {args.size!r}: expected WIDTHxHEIGHT between 200 and 10000, for example 1600x900")
    if args.hazard is not None and not args.traces:
        return _usage("--hazard needs a trace")
    if args.screenshot is None and not _can_display():
        return _usage("no display to open a window on (set DISPLAY, or use --screenshot OUT.png)")
    from gui.data import ViewerData
    from tracer.analysis.rules import load_rules

    ruleset = load_rules(args.rules)  # a bad rule file fails before the window opens
    data = None
    if args.traces:
        result = load_traces(args)  # exits 2 with one clear line when a file is unreadable
        data = ViewerData(result, sources=list(args.traces))
    # The hazard analysis runs once the first frame is drawn.
    return app.run(data, screenshot=args.screenshot, hazard=args.hazard, size=size, rules=args.rules, ruleset=ruleset)


def _can_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")))
