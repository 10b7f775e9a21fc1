"""Start racelane recording in every Python process that has this folder on PYTHONPATH.

Runs only when ``RACELANE_OUT`` is set, then hands over to the next
``sitecustomize`` on ``sys.path`` (a distribution's own), if any.
"""

import os
import sys


def _racelane_boot() -> None:
    if os.environ.get("RACELANE_OUT"):
        try:
            from tracer.record.boot import start_from_env

            start_from_env()
        except Exception as err:  # never stop the program from starting
            print(f"racelane: recording not started: {err}", file=sys.stderr)
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.modules.pop("sitecustomize", None)
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    original = sys.path[:]
    try:
        sys.path[:] = rest
        import importlib

        importlib.import_module("sitecustomize")
    except ImportError:
        if saved is not None:
            sys.modules["sitecustomize"] = saved
    finally:
        sys.path[:] = original


_racelane_boot()
