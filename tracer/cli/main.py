"""Entry point of the ``racelane`` command: parse arguments, dispatch, map errors to exit codes.

Exit codes: 0 fine, 1 hazards found (``check``, ``tail``), 2 bad usage or
unreadable input. Every subcommand's ``--help`` ends with an example.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tracer.record.errors import RacelaneError

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]

# Top-level packages of the gui extra (pyproject.toml), which the recorder-only install lacks.
_GUI_EXTRA = frozenset({"numpy", "PySide6", "shiboken6", "pyqtgraph", "watchdog", "greenlet"})


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with code 2 and one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"racelane {self.prog.split()[-1]}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand."""
    from tracer import __version__

    from . import check, convert, demo, export, record, scenario, stats, tail, view

    parser = _Parser(
        prog="racelane",
        description="Record spans, marks and lock events from concurrent Python programs, and find race windows.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  racelane record -o 'trace-{host}-{pid}.jsonl' -m myservice",
    )
    parser.add_argument("--version", action="version", version=f"racelane {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (record, check, tail, scenario, demo, view, export, convert, stats):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``racelane`` with ``argv`` (default: the process's arguments)."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["record"]:
        from .record import split_program

        words = ["record", *split_program(words[1:])]
    args = parser.parse_args(words)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except RacelaneError as err:
        print(f"racelane: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as err:
        # `pip install racelane` is the recorder alone; analysis and the viewer come with the gui extra.
        # (A program run by `record` may miss any module: that error is the program's own.)
        if args.command == "record" or (err.name or "").partition(".")[0] not in _GUI_EXTRA:
            raise
        print(f"racelane {args.command}: needs {err.name}, which the recorder-only install leaves out; "
              "install the analysis and the viewer with: pip install 'racelane[gui]'", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
