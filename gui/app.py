"""Start the viewer: open the window and load traces into it, or save a screenshot and exit.

    python -m gui sample_traces/nova-1896463-buggy.jsonl
    python -m gui --screenshot /tmp/buggy.png --hazard 1 sample_traces/nova-1896463-buggy.jsonl

``launch`` is the interactive path: the window opens at once with a
progress bar, the files are read in a worker thread, the spans are drawn as
soon as they are indexed, and the hazard analysis runs after that first
frame. ``racelane view`` (``tracer/cli/view.py``) checks its arguments and
calls ``launch``; for ``--screenshot`` it loads with the command line's own
error handling and calls ``run``, which waits for everything before saving.
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


def application(theme: str | None = None) -> object:
    """Return the ``QApplication``, creating it (and configuring pyqtgraph) on first use.

    With ``theme`` (``system``, ``light`` or ``dark``), Qt's widgets take that theme's colours.
    """
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        _quiet_qt_messages()
        app = QtWidgets.QApplication([sys.argv[0] if sys.argv else "racelane"])
        app.setApplicationName("racelane")
        app.setDesktopFileName("io.racelane.Racelane")
    pg.setConfigOptions(antialias=False, background="w", foreground="k")
    if theme is not None:
        from .theme import apply_to_application

        apply_to_application(app, theme)
    return app


def _quiet_qt_messages() -> None:
    """Drop the offscreen platform's note that it cannot resize windows to their hints; pass on the rest.

    The handler is removed when Python exits: Qt still logs from its own exit
    handlers (``QT_DEBUG_PLUGINS=1`` reports each plugin unloaded), after the
    interpreter is gone, and a Python handler called then crashes the process.
    """
    import atexit

    from PySide6 import QtCore

    def handler(mode: object, context: object, message: str) -> None:
        if "propagateSizeHints" not in message:
            sys.stderr.write(message + "\n")

    QtCore.qInstallMessageHandler(handler)
    atexit.register(QtCore.qInstallMessageHandler, None)


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


def launch(paths: Sequence[str], *, rules: object = "nova", offsets_ns: dict[str, int] | None = None,
           strict: bool = False, theme: str | None = None, settings: object | None = None,
           size: tuple[int, int] | None = None) -> tuple[object, object]:
    """Open the main window at once and load ``paths`` into it in the background; return ``(app, window)``.

    The window shows the files' progress (with Cancel), draws the spans as
    soon as they are loaded (``MainWindow.dataShown``) and lists the hazards
    when the analysis is done (``hazardsShown``). An unreadable file is
    explained in the window, and the other files still show. ``settings``
    defaults to the user's (``Settings.for_user()``); ``theme`` overrides the
    remembered theme for this run, ``size`` the remembered window size.
    Call ``app.exec()`` next.
    """
    from .settings import Settings

    settings = settings if settings is not None else Settings.for_user()
    choice = theme or settings.theme()  # type: ignore[attr-defined]
    app = application(choice)
    from .window import MainWindow

    window = MainWindow(rules=rules, settings=settings, theme=choice)  # type: ignore[arg-type]
    settings.restore_window(window)  # type: ignore[attr-defined]
    window.notices.clear()  # the restored state may say it was showing
    if size is not None:
        window.resize(*size)
    window.show()
    if paths:
        from .loading import LoadRequest

        window.files.load_request(LoadRequest(tuple(paths), dict(offsets_ns or {}), strict))
    return app, window


def run(data: object | None, *, error: str | None = None, screenshot: str | None = None, hazard: int | None = None,
        size: tuple[int, int] | None = None, rules: str = "nova", ruleset: object | None = None,
        theme: str | None = None) -> int:
    """Open the window on ``data`` (or ``error``); with ``screenshot``, save a PNG and return instead.

    When ``data`` has no analysis yet and a ``ruleset`` is given, the
    analysis runs once the first frame is on screen, so spans show without
    waiting for it. ``hazard`` is 1-based. ``theme``: ``system`` (default),
    ``light`` or ``dark``; this path never reads or writes the user's
    settings. Returns the exit code: 0, or 2 when the screenshot cannot be
    written or the hazard does not exist.
    """
    app = application(theme or "system")
    from .window import MainWindow

    window = MainWindow(data, error, rules=ruleset or rules, theme=theme or "system")  # type: ignore[arg-type]
    width, height = size or DEFAULT_SIZE
    if screenshot is not None:
        window.setAttribute(_qt().WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(width, height)
    window.show()
    app.processEvents()  # type: ignore[attr-defined]
    if data is not None and data.analysis is None:  # type: ignore[attr-defined]
        window.repaint()  # the first frame, before the analysis
        window.files.analyse(data, background=False)
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
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="colours (default: as last chosen)")
    args = parser.parse_args(argv)
    if args.screenshot:
        offscreen_if_headless()
    size = parse_size(args.size) if args.size else None
    if size is None and args.size:
        parser.error(f"--size {args.size!r}: expected WIDTHxHEIGHT, for example 1600x900")
    if not args.screenshot:
        app, _window = launch(args.traces, rules=args.rules, theme=args.theme)
        return int(app.exec())  # type: ignore[attr-defined]
    data, error = None, None
    if args.traces:
        from tracer.record.errors import RacelaneError

        try:
            data = load_data(args.traces, args.rules)
        except (RacelaneError, OSError, ValueError) as err:
            error = f"Could not open {', '.join(args.traces)}:\n{err}"
    return run(data, error=error, screenshot=args.screenshot, hazard=args.hazard if data is not None else None,
               size=size, rules=args.rules, theme=args.theme)


def parse_size(text: str) -> tuple[int, int] | None:
    """Parse ``WIDTHxHEIGHT`` (each 200 to 10000 pixels); None when malformed."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        return None
    w, h = int(width), int(height)
    return (w, h) if 200 <= w <= 10000 and 200 <= h <= 10000 else None
