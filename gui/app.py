"""Start the viewer: load traces, analyse them, open the window, or save a screenshot and exit.

    python -m gui sample_traces/nova-1896463-buggy.jsonl
    python -m gui --screenshot /tmp/buggy.png --hazard 1 sample_traces/nova-1896463-buggy.jsonl

``racelane view`` (``tracer/cli/view.py``) loads with the command line's own
error handling and then calls ``run`` here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

DEFAULT_SIZE = (1400, 860)


def offscreen_if_headless() -> None:
    """Use Qt's offscreen platform when there is no display to draw on (call before importing Qt)."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def application() -> object:
    """Return the ``QApplication``, creating it (and configuring pyqtgraph) on first use."""
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        _quiet_qt_messages()
        app = QtWidgets.QApplication([sys.argv[0] if sys.argv else "racelane"])
        app.setApplicationName("racelane")
        app.setDesktopFileName("io.racelane.Racelane")
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    return app


def _quiet_qt_messages() -> None:
    """Drop the offscreen platform's note that it cannot resize windows to their hints; pass on the rest."""
    from PySide6 import QtCore

    def handler(mode: object, context: object, message: str) -> None:
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    QtCore.qInstallMessageHandler(handler)


def load_data(paths: Sequence[str], rules: str = "nova", strict: bool = False) -> object:
    """Load ``paths`` and check them against ``rules``; return a ``ViewerData``.

    Raises:
        TraceError: a file cannot be read as a trace.
        RacelaneError: the rules cannot be read.
    """
    from tracer.analysis import load

    result = load(list(paths), strict=strict)
    return analyse(result, rules, list(paths))


def analyse(result: object, rules: str, sources: list[str]) -> object:
    """Return the ``ViewerData`` of a ``LoadResult`` checked against the rule set ``rules``."""
    from tracer.analysis.hazards import analyze
    from tracer.analysis.rules import load_rules

    from .data import ViewerData

    ruleset = load_rules(rules)
    data = ViewerData(result, sources=sources)  # type: ignore[arg-type]
    data.set_analysis(analyze(data.trace, ruleset), ruleset.name)
    return data


def run(data: object | None, *, error: str | None = None, screenshot: str | None = None, hazard: int | None = None,
        size: tuple[int, int] | None = None, rules: str = "nova", ruleset: object | None = None) -> int:
    """Open the window on ``data`` (or ``error``); with ``screenshot``, save a PNG and return instead.

    When ``data`` has no analysis yet and a ``ruleset`` is given, the
    analysis runs once the first frame is on screen, so spans show without
    waiting for it. ``hazard`` is 1-based. Returns the exit code: 0, or 2 when
    the screenshot cannot be written or the hazard does not exist.
    """
    app = application()
    from .window import MainWindow

    window = MainWindow(data, error, loader=lambda paths: load_data(paths, rules))  # type: ignore[arg-type]
    width, height = size or DEFAULT_SIZE
    if screenshot is not None:
        window.setAttribute(_qt().WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(width, height)
    window.show()
    app.processEvents()  # type: ignore[attr-defined]
    if data is not None and ruleset is not None and data.analysis is None:  # type: ignore[attr-defined]
        from tracer.analysis.hazards import analyze

        window.repaint()  # the first frame, before the analysis
        data.set_analysis(analyze(data.trace, ruleset), ruleset.name)  # type: ignore[attr-defined]
        window.show_hazards()
        app.processEvents()  # type: ignore[attr-defined]
    if hazard is not None:
        count = len(window.data.hazards) if window.data is not None else 0
        if not 1 <= hazard <= count:
            print(f"racelane: --hazard {hazard}: the trace has {count} hazard(s)", file=sys.stderr)
            window.close()
            return 2
        window.select_hazard(hazard - 1)
    if screenshot is None:
        return int(app.exec())  # type: ignore[attr-defined]
    code = save_png(window, screenshot, (width, height))
    window.close()
    return code


def save_png(window: object, path: str, size: tuple[int, int]) -> int:
    """Render ``window`` into a PNG of exactly ``size``; return 0, or 2 (with a message) on failure."""
    from PySide6 import QtCore, QtGui, QtWidgets

    QtWidgets.QApplication.processEvents()
    image = QtGui.QImage(size[0], size[1], QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    try:
        window.render(painter, QtCore.QPoint(0, 0))  # type: ignore[attr-defined]
    finally:
        painter.end()
    if not image.save(path, "PNG"):
        print(f"racelane: cannot write the screenshot {path}", file=sys.stderr)
        return 2
    return 0


def _qt() -> object:
    from PySide6 import QtCore

    return QtCore.Qt


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gui [TRACE...]``: open the viewer; an unreadable trace is explained in the window."""
    parser = argparse.ArgumentParser(prog="python -m gui", description="racelane viewer")
    parser.add_argument("traces", nargs="*", metavar="TRACE", help="trace files")
    parser.add_argument("--rules", default="nova", metavar="NAME|FILE", help="rule set (default: nova)")
    parser.add_argument("--screenshot", metavar="OUT.png", help="save a PNG of the window and exit")
    parser.add_argument("--hazard", type=int, metavar="N", help="select hazard N (1-based) first")
    parser.add_argument("--size", default=None, metavar="WxH", help="window size, e.g. 1600x900")
    args = parser.parse_args(argv)
    if args.screenshot:
        offscreen_if_headless()
    size = parse_size(args.size) if args.size else None
    if size is None and args.size:
        parser.error(f"--size {args.size!r}: expected WIDTHxHEIGHT, for example 1600x900")
    data, error = None, None
    if args.traces:
        from tracer.record.errors import RacelaneError

        try:
            data = load_data(args.traces, args.rules)
        except (RacelaneError, OSError, ValueError) as err:
            error = f"Could not open {', '.join(args.traces)}:\n{err}"
    return run(data, error=error, screenshot=args.screenshot, hazard=args.hazard if data is not None else None,
               size=size, rules=args.rules)


def parse_size(text: str) -> tuple[int, int] | None:
    """Parse ``WIDTHxHEIGHT`` (each 200 to 10000 pixels); None when malformed."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    w, h = int(width), int(height)
    return (w, h) if 200 <= w <= 10000 and 200 <= h <= 10000 else None
