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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with code 2 and one clear line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"racelane {self.prog.split()[-1]}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand."""
    from tracer import __version__

    from . import check, convert, demo, record, scenario, stats, view

    parser = _Parser(
        prog="racelane",
        description="Record spans, marks and lock events from concurrent Python programs, and find race windows.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  racelane record -o 'trace-{host}-{pid}.jsonl' -m myservice",
    )
    parser.add_argument("--version", action="version", version=f"racelane {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (record, check, scenario, demo, view, convert, stats):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``racelane`` with ``argv`` (default: the process's arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except RacelaneError as err:
        print(f"racelane: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
