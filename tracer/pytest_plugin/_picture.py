"""Draw the PNG of a failed test's hazard window, in a subprocess.

The viewer (Qt) never loads into the test session: ``racelane export`` (or,
where it is missing, ``racelane view --screenshot``) runs in a child
interpreter, offscreen, with a time limit. Whatever goes wrong there (no
gui extra, a Qt crash, a hang) is reported as one sentence and never masks
the hazard that failed the test.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

TIMEOUT_S = 120.0
SIZE = "1600x900"


@dataclass
class Picture:
    """Where the PNG is, or why there is none."""

    path: str | None
    problem: str | None = None


def gui_installed() -> bool:
    """Tell whether the viewer's dependencies (the gui extra) are importable."""
    return all(importlib.util.find_spec(name) is not None for name in ("PySide6", "pyqtgraph", "numpy"))


def export_available() -> bool:
    """Tell whether this racelane has the ``export`` command (tracer/cli/export.py)."""
    return os.path.exists(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli", "export.py"))


def commands(files: Sequence[str], out: str, hazard: int | None, rules: str) -> list[list[str]]:
    """The command lines that draw ``files`` (hazard ``hazard``, 1-based, zoomed) into ``out``, best first.

    ``racelane export`` with the hazard's explanation as a caption; then the
    viewer's ``--screenshot``, for a racelane without export.
    """
    base = [sys.executable, "-m", "tracer.cli.main"]
    selected = ["--hazard", str(hazard)] if hazard is not None else []
    view = [*base, "view", "--screenshot", out, "--size", SIZE, "--rules", rules, *selected, *files]
    if export_available():
        return [[*base, "export", *files, "-o", out, "--force", "--caption", "--rules", rules, *selected], view]
    return [view]


def child_environment() -> dict[str, str]:
    """This process's environment without racelane's recording switches, rendering offscreen."""
    from tracer.record.boot import boot_dir

    env = {k: v for k, v in os.environ.items() if not k.startswith("RACELANE_")}
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != boot_dir()]
    # The child must import this very racelane, even when the session found it
    # through its own sys.path (a source checkout); an installed one is found anyway.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.basename(root) not in ("site-packages", "dist-packages"):
        paths.insert(0, root)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        env.pop("PYTHONPATH", None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def draw(files: Sequence[str], out: str, hazard: int | None, rules: str, timeout_s: float = TIMEOUT_S) -> Picture:
    """Draw the picture; never raises."""
    if not gui_installed():
        return Picture(None, "not drawn: the viewer is not installed (pip install 'racelane[gui]')")
    picture = Picture(None, "not drawn")
    for argv in commands(files, out, hazard, rules):
        picture, usage_error = _run(argv, out, timeout_s)
        if picture.path or not usage_error:
            break  # drawn, or failed for a reason the next command would share
    return picture


def _run(argv: list[str], out: str, timeout_s: float) -> tuple[Picture, bool]:
    """Run one drawing command; return the picture and whether the command line itself was refused."""
    try:
        done = subprocess.run(argv, env=child_environment(), cwd=os.path.dirname(out) or None, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return Picture(None, f"not drawn: the viewer took more than {timeout_s:g} s"), False
    except OSError as err:
        return Picture(None, f"not drawn: cannot start {argv[0]}: {err.strerror or err}"), False
    if done.returncode == 0 and os.path.isfile(out) and os.path.getsize(out) > 0:
        return Picture(out), False
    said = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    why = said[-1] if said else f"exit status {done.returncode}"
    if done.returncode < 0:
        why = f"the viewer died of signal {-done.returncode}" + (f" ({said[-1]})" if said else "")
    # argparse's refusals: an older racelane without this command or option.
    refused = done.returncode == 2 and any("invalid choice" in line or "unrecognized arguments" in line for line in said)
    return Picture(None, f"not drawn: {why}"), refused
