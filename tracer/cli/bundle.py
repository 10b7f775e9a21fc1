"""``racelane record`` in the self-contained bundle (packaging/racelane.spec).

The bundle carries its own Python with racelane's packages and nothing else.
``racelane record`` runs the program inside the recording Python (``runpy``),
so there it would run the program on an interpreter that has none of the
program's packages, and its child processes (``sys.executable`` is the
bundle's ``racelane``) would not be Python at all. Instead, the bundle hands
the whole command over to a real Python that has the recorder installed:
``$RACELANE_PYTHON`` when set, else ``python3`` (then ``python``) on PATH, run
as ``PYTHON -m tracer.cli.main record ...`` in this process's place. With
none, the command stops with exit 2 and says what to install where.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

PYTHON_VARIABLE = "RACELANE_PYTHON"
_PROBE = "import orjson, tracer, tracer.cli.record, tracer.record.api; print(tracer.__version__)"


def is_bundle() -> bool:
    """Return True when running from the PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def host_environ(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Return ``environ`` (default: this process's) without what the bundle's loader added.

    The loader puts its library folder first on ``LD_LIBRARY_PATH`` (keeping
    the user's value in ``LD_LIBRARY_PATH_ORIG``) and sets ``_PYI_*``
    variables; a program started with them would load the bundle's libraries.
    """
    env = dict(os.environ if environ is None else environ)
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if original:
        env["LD_LIBRARY_PATH"] = original
    else:
        env.pop("LD_LIBRARY_PATH", None)
    for key in [k for k in env if k.startswith(("_PYI_", "_MEIPASS"))]:
        del env[key]
    return env


def record_arguments(args: argparse.Namespace) -> list[str]:
    """Return the ``racelane record`` arguments that ``args`` were parsed from (options, then the program)."""
    out: list[str] = []
    if args.output:
        out += ["-o", args.output]
    if args.profile:
        out += ["--profile", args.profile]
    if args.flush_ms is not None:
        out += ["--flush-ms", repr(args.flush_ms)]
    if args.no_children:
        out.append("--no-children")
    if args.module is not None:
        out += ["-m", args.module]
    program = list(args.program)
    if program and program[0] == "--":
        program = program[1:]
    return [*out, "--", *program]


def find_recording_python(env: dict[str, str]) -> tuple[str | None, str | None, list[str]]:
    """Return ``(python, its racelane version, what was tried)``; ``python`` is None when none has racelane."""
    chosen = env.get(PYTHON_VARIABLE)
    names = [chosen] if chosen else ["python3", "python"]
    tried: list[str] = []
    for name in names:
        path = name if os.sep in name else shutil.which(name, path=env.get("PATH", os.defpath))
        if path is None or not os.path.isfile(path) or not os.access(path, os.X_OK):
            tried.append(f"{name} (not found)")
            continue
        try:
            probe = subprocess.run([path, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            tried.append(f"{path} ({err})")
            continue
        if probe.returncode == 0:
            return path, probe.stdout.strip(), tried
        lines = probe.stderr.strip().splitlines()
        tried.append(f"{path} (no racelane recorder: {lines[-1] if lines else f'exit {probe.returncode}'})")
    return None, None, tried


def record_outside(args: argparse.Namespace) -> int:
    """Run ``racelane record`` under a real Python with racelane installed, in this process's place.

    Returns 2 (after saying what to do) when there is none; otherwise does not return.
    """
    from tracer import __version__

    env = host_environ()
    python, version, tried = find_recording_python(env)
    if python is None:
        where = f"${PYTHON_VARIABLE}" if env.get(PYTHON_VARIABLE) else "python3 or python on PATH"
        print(
            "racelane record: this racelane is the self-contained bundle, whose own Python has racelane's "
            "packages only and cannot run your program. Recording happens inside the program's own Python: "
            "install the recorder there (python3 -m pip install racelane, or into the program's virtualenv) "
            f"and run this command again, or set {PYTHON_VARIABLE} to that Python. "
            f"Looked at {where}: {'; '.join(tried)}",
            file=sys.stderr,
        )
        return 2
    if version != __version__:
        print(f"racelane record: recording with racelane {version} in {python} (this bundle is {__version__})",
              file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, "-m", "tracer.cli.main", "record", *record_arguments(args)], env)
    return 2  # not reached: execve replaces this process or raises
