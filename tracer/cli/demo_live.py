"""``racelane demo --live``: the Nova scenario on real threads, in real time, followed as it writes its trace.

A child process runs ``racelane scenario nova-evacuation --live`` (the
periodic audit every second, evacuations one after another, database calls
that take realistic, jittered time) and records it. The viewer follows the
trace file as it grows: the audit and evacuation lanes fill in as they run,
and each hazard is flagged when it is decided. Without a display, the
hazards are printed as ``racelane tail`` prints them, and the command ends
with the scenario.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

DURATION_S = 20.0


def run(args: argparse.Namespace) -> int:
    """Start the live scenario and follow its trace; return when it ends (headless) or the window closes."""
    duration = args.duration if args.duration is not None else DURATION_S
    if duration <= 0:
        print(f"racelane demo: --duration {duration:g}: must be positive", file=sys.stderr)
        return 2
    if args.output:
        path = os.path.abspath(args.output)
        if os.path.exists(path):  # never append to, or overwrite, a file the user has
            print(f"racelane demo: {args.output} exists; give --output a new file", file=sys.stderr)
            return 2
        os.makedirs(os.path.dirname(path), exist_ok=True)
    else:
        path = os.path.join(tempfile.mkdtemp(prefix="racelane-demo-live-"), "nova-live.jsonl")
    print(f"Running the buggy Nova evacuation scenario on real threads for {duration:g} s: the resource audit every")
    print("second, evacuations one after another; its trace is followed as it is written.")
    print(f"trace: {path}\n")
    scenario = subprocess.Popen(
        [sys.executable, "-m", "tracer.cli.main", "scenario", "nova-evacuation", "--live", "--duration", str(duration),
         "-o", path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        code = _view(path, scenario) if not args.no_view and _display() else _tail(path, scenario)
    finally:
        if scenario.poll() is None:
            scenario.terminate()
        out, err = scenario.communicate(timeout=30)
    if scenario.returncode not in (0, -15):
        print(f"racelane demo: the scenario failed: {err.strip() or scenario.returncode}", file=sys.stderr)
        return 2
    if out.strip():
        print(f"\nscenario: {out.strip()}")
    print(f"check it yourself: racelane check {path}")
    return code


def _display() -> bool:
    from . import view

    return view._can_display() and not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen")


def _follower(path: str, **options: Any) -> Any:
    """Follow the scenario's trace: its directory, for the file it is about to create."""
    from tracer.analysis.follow import Follower

    return Follower([os.path.dirname(path)], glob=os.path.basename(path), rules="nova", **options)


def _tail(path: str, scenario: subprocess.Popen[str]) -> int:
    from .tail import HazardPrinter, follow

    follow(_follower(path), HazardPrinter(sys.stdout, as_json=False), status_s=5.0,
           should_stop=lambda: scenario.poll() is not None)
    return 0


def _view(path: str, scenario: subprocess.Popen[str]) -> int:
    try:
        from gui import app
        from gui.follow import FollowController
    except ImportError as err:
        print(f"racelane demo: no viewer ({err}); following in the terminal instead", file=sys.stderr)
        return _tail(path, scenario)
    from PySide6 import QtCore

    launched: tuple[Any, Any] = app.launch([], rules="nova")
    window_app, window = launched
    FollowController(window, [os.path.dirname(path)], rules="nova", glob=os.path.basename(path))
    started = time.monotonic()

    def watch() -> None:
        if scenario.poll() is None:
            return
        timer.stop()
        window.statusBar().showMessage(f"The scenario ended after {time.monotonic() - started:.0f} s; the trace "
                                       f"stays open ({path})", 0)

    timer = QtCore.QTimer(window)
    timer.timeout.connect(watch)
    timer.start(500)
    return int(window_app.exec())
