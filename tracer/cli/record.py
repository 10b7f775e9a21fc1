"""``racelane record``: run a Python program with recording on, like ``python`` does.

The program runs in this process (``runpy``), so nothing about it changes but
the recorder being active. Child Python processes it starts record too, each
into its own file: the ``RACELANE_*`` variables and a ``sitecustomize`` that
starts recording are passed down through the environment. The self-contained
bundle hands the command to a Python that has racelane installed
(``tracer/cli/bundle.py``).
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
from typing import Any

from tracer.record import boot
from tracer.record.profiles import load_profile

from . import bundle


def register(sub: Any) -> None:
    """Add the ``record`` subcommand."""
    parser = sub.add_parser(
        "record",
        help="run a Python program (script or -m module) with recording on",
        description="Run a Python program with racelane recording on. Everything after the options is the program and its arguments, as for `python`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  racelane record -o 'audit-{host}-{pid}.jsonl' myscript.py --its-arg\n"
            "  racelane record --profile nova -o '/var/log/racelane/{host}-{pid}.jsonl' -m nova.cmd.compute\n"
            "  racelane record -- python-script.py -o this-goes-to-the-script\n"
            "  racelane record -o 'trace-{pid}.jsonl' -- -m mypackage.worker --its-flag"
        ),
    )
    parser.add_argument("-o", "--output", default=None, metavar="PATTERN",
                        help="output file; {host}, {pid} and {process} expand (default: racelane-{host}-{pid}.jsonl)")
    parser.add_argument("--profile", default=None, metavar="NAME|FILE",
                        help="instrument by profile: a built-in name (nova) or a TOML file")
    parser.add_argument("--flush-ms", type=float, default=None, metavar="MS", help="flush interval (default 100)")
    parser.add_argument("--no-children", action="store_true", help="do not record child Python processes")
    parser.add_argument("-m", dest="module", default=None, metavar="MODULE", help="run a library module as a script")
    parser.add_argument("program", nargs=argparse.REMAINDER, help="script path and its arguments")
    parser.set_defaults(handler=run)


_VALUE_OPTIONS = ("-o", "--output", "--profile", "--flush-ms")


def split_program(args: list[str]) -> list[str]:
    """Put ``--`` after ``-m MODULE`` so that the module's own options reach it.

    ``racelane record -m http.server --bind 127.0.0.1`` must run the module
    with ``--bind 127.0.0.1``, as ``python -m`` would, not read ``--bind`` as
    an option of ``record``. ``args`` are the words after ``record``.
    """
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--" or not word.startswith("-"):
            return args  # the program starts here: argparse passes the rest on untouched
        if word == "-m":
            if i + 1 < len(args) and args[i + 2 : i + 3] != ["--"]:
                return [*args[: i + 2], "--", *args[i + 2 :]]
            return args
        if word.startswith("-m") and len(word) > 2:  # -mmodule
            return [*args[: i + 1], "--", *args[i + 1 :]]
        i += 2 if word in _VALUE_OPTIONS else 1
    return args


def run(args: argparse.Namespace) -> int:
    """Record the program given on the command line; return its exit status."""
    program = list(args.program)
    if program and program[0] == "--":
        program = program[1:]
    if args.module is None and program and program[0].startswith("-m"):  # racelane record -- -m MODULE ARGS
        if program[0] == "-m":
            if len(program) < 2:
                print("racelane record: error: -m needs a module name", file=sys.stderr)
                return 2
            args.module, program = program[1], program[2:]
        else:
            args.module, program = program[0][2:], program[1:]
    if args.module is None and not program:
        print("racelane record: error: give a script path or -m MODULE to run", file=sys.stderr)
        return 2
    if args.module is None and not os.path.exists(program[0]):
        print(f"racelane record: error: no such script: {program[0]}", file=sys.stderr)
        return 2
    if bundle.is_bundle():  # the bundle's Python cannot run the program: hand over to one that can
        return bundle.record_outside(args)

    env_updates: dict[str, str] = {}
    if args.output:
        env_updates["RACELANE_OUT"] = os.path.abspath(args.output)
    else:
        env_updates["RACELANE_OUT"] = os.path.abspath(os.environ.get("RACELANE_OUT") or "racelane-{host}-{pid}.jsonl")
    if args.profile:
        env_updates["RACELANE_PROFILE"] = os.path.abspath(args.profile) if os.path.exists(args.profile) else args.profile
    if args.flush_ms is not None:
        env_updates["RACELANE_FLUSH_MS"] = str(args.flush_ms)
    os.environ.update(env_updates)
    if args.no_children:
        os.environ.pop("RACELANE_OUT", None)
    else:
        boot.export_to_children(os.environ)


    if args.module is not None:
        sys.argv = [args.module, *program]
    else:
        sys.argv = program
    if args.profile:
        load_profile(env_updates["RACELANE_PROFILE"])  # a bad profile is a usage error, before the program runs
    recording = boot.start_from_env(own_path=env_updates["RACELANE_OUT"], strict=True)
    code: Any = 0
    try:
        if args.module is not None:
            sys.path.insert(0, os.getcwd())  # as `python -m` does
            runpy.run_module(args.module, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(program[0])))
            runpy.run_path(program[0], run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
    finally:
        stats = recording.stop() if recording is not None else None
    if stats is not None and recording is not None:
        lost = stats.dropped + stats.lost_on_write
        note = f", {lost} lost" if lost else ""
        print(
            f"racelane: recorded {stats.spans} spans, {stats.marks} marks, {stats.open_spans} unfinished"
            f"{note} -> {recording.path}",
            file=sys.stderr,
        )
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
