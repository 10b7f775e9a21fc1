"""Run every benchmark in bench/ (each ``bench_*.py``), one after the other.

    .venv/bin/python bench/run_all.py        # what ``make bench`` runs

Each script runs in its own subprocess with this interpreter and writes
straight to this terminal. Benchmarks report, they do not fail: this script
exits 0 whatever they print, and says which ones exited abnormally.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    scripts = sorted(here.glob("bench_*.py"))
    if not scripts:
        print(f"no bench_*.py in {here}")
        return 0
    abnormal = []
    for script in scripts:
        print(f"=== {script.name} ===", flush=True)
        started = time.monotonic()
        try:
            code = subprocess.call([sys.executable, str(script)], cwd=here.parent)
        except OSError as err:
            code = -1
            print(f"{script.name}: {err!r}", flush=True)
        print(f"=== {script.name}: exit {code}, {time.monotonic() - started:.0f} s ===\n", flush=True)
        if code != 0:
            abnormal.append(f"{script.name} (exit {code})")
    if abnormal:
        print("benchmarks that exited abnormally: " + ", ".join(abnormal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
