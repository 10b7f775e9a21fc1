"""``racelane view``: open traces in the desktop viewer (swimlanes, hazard bands, details).

The window opens at once and reads the traces in the background (a progress
bar with Cancel); the spans show as soon as they are loaded and the hazards
once the rules are checked. A file that cannot be read is explained in the
window and the others still show. Chrome and OTLP/JSON files are converted
on the way.

With --screenshot the window is rendered offscreen (no display needed), saved
as a PNG of --size and the command exits 0; with --hazard N the Nth hazard is
selected first (zoomed, its spans outlined). There, an unreadable trace is
reported on stderr with exit code 2, as for every racelane command.

The viewer needs the gui extra: pip install 'racelane[gui]'.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .check import _usage, expand, load_traces, parse_offsets


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
            "  racelane view --offset host1=-3.5 sample_traces/multi-host-skew/\n"
            "  racelane view --follow /var/log/nova/racelane/\n"
            "  racelane view --theme dark --hazard 1 --screenshot dark.png sample_traces/nova-1896463-buggy.jsonl"
        ),
    )
    parser.add_argument("traces", nargs="*", metavar="TRACE", help="trace files, or directories of *.jsonl files")
    parser.add_argument("--rules", default="nova", metavar="NAME|FILE", help="built-in rule set (nova) or a TOML file")
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen, save it as PNG, exit")
    parser.add_argument("--hazard", type=int, metavar="N", help="select hazard N (1-based) first: zoom to it")
    parser.add_argument("--size", default=None, metavar="WxH",
                        help="window size in pixels (default: 1400x860 for screenshots, the last size for the window)")
    parser.add_argument("--strict", action="store_true", help="refuse the input at the first malformed line")
    parser.add_argument("--offset", action="append", default=[], metavar="HOST=MS",
                        help="shift one host's clock by MS milliseconds (repeatable)")
    parser.add_argument("--follow", action="store_true",
                        help="follow the traces as they grow (files, or directories whose new files join): "
                             "new spans and hazards show as they are written")
    parser.add_argument("--glob", default="*.jsonl", metavar="PATTERN",
                        help="with --follow: the trace files of a directory (default *.jsonl)")
    parser.add_argument("--poll", nargs="?", type=float, const=1.0, default=None, metavar="SECONDS",
                        help="with --follow: look every SECONDS (default 1) instead of waiting for file events (NFS)")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default=None,
                        help="colours: follow the system, or light or dark (default: as last chosen in the window; "
                             "screenshots: system)")
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
    size = app.parse_size(args.size or "1400x860")
    if size is None:
        return _usage(f"--size {args.size!r}: expected WIDTHxHEIGHT between 200 and 10000, for example 1600x900")
    if args.hazard is not None and not args.traces:
        return _usage("--hazard needs a trace")
    if args.screenshot is None and not _can_display():
        return _usage("no display to open a window on (set DISPLAY, or use --screenshot OUT.png)")
    from gui.data import ViewerData
    from tracer.analysis.rules import load_rules

    ruleset = load_rules(args.rules)  # a bad rule file fails before the window opens
    if getattr(args, "follow", False):
        return _follow(args, app, ruleset, size)
    if args.screenshot is None:
        paths = expand(args.traces)
        for path in paths:
            if not os.path.exists(path):
                return _usage(f"{path}: no such file")
        window_app, _window = app.launch(paths, rules=ruleset, offsets_ns=parse_offsets(args.offset), strict=args.strict,
                                         theme=getattr(args, "theme", None), size=size if args.size else None)
        return int(window_app.exec())  # type: ignore[attr-defined]
    data = None
    if args.traces:
        result = load_traces(args, foreign=True)  # exits 2 with one clear line when a file is unreadable
        data = ViewerData(result, sources=list(args.traces))
    # The hazard analysis runs once the first frame is drawn.
    return app.run(data, screenshot=args.screenshot, hazard=args.hazard, size=size, rules=args.rules, ruleset=ruleset,
                   theme=getattr(args, "theme", None))


def _follow(args: argparse.Namespace, app: Any, ruleset: Any, size: tuple[int, int]) -> int:
    """Open the window and follow the traces in it (``gui.follow``)."""
    if args.screenshot is not None or args.hazard is not None:
        return _usage("--follow opens a window that follows the traces; it cannot be combined with --screenshot or --hazard")
    if not args.traces:
        return _usage("--follow needs trace files or directories to follow")
    if args.poll is not None and args.poll <= 0:
        return _usage(f"--poll {args.poll:g}: the interval must be positive")
    for path in args.traces:
        if not os.path.exists(path):
            return _usage(f"{path}: no such file or directory")
    offsets = parse_offsets(args.offset)
    window_app, window = app.launch([], rules=ruleset, theme=getattr(args, "theme", None), size=size if args.size else None)
    from gui.follow import FollowController

    FollowController(window, args.traces, rules=ruleset, glob=args.glob, poll_s=args.poll, host_offsets_ns=offsets)
    return int(window_app.exec())


def _can_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal", "vnc", "eglfs", "linuxfb")))
