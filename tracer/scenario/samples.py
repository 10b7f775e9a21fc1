"""Regenerate the committed sample traces (``make samples``).

Every sample is a deterministic recording of the Nova evacuation scenario:
the same command writes the same bytes, and a test checks that the files in
``sample_traces/`` are exactly what this module writes.
"""

from __future__ import annotations

import os
import sys
import tempfile

from . import nova
from . import run as scenario

SKEW_NS = 3_500_000  # host1's clock runs 3.5 ms ahead in the multi-host sample


def write_samples(directory: str) -> list[str]:
    """Write every sample into ``directory``; return the paths written."""
    os.makedirs(directory, exist_ok=True)
    written = []

    def path(name: str) -> str:
        full = os.path.join(directory, name)
        written.append(full)
        return full

    buggy = path("nova-1896463-buggy.jsonl")
    scenario.record(nova.BUGGY, "bug", buggy)
    scenario.record(nova.FIXED, "bug", path("nova-1896463-fixed.jsonl"))
    scenario.record(nova.FIXED, "evacuation-first", path("nova-1896463-fixed-other-order.jsonl"))
    scenario.record(nova.BUGGY, "evacuation-first", path("nova-1896463-buggy-lucky.jsonl"))
    skew_dir = os.path.join(directory, "multi-host-skew")
    os.makedirs(skew_dir, exist_ok=True)
    host2 = os.path.join(skew_dir, "host2-nova-compute-4242.jsonl")
    host1 = os.path.join(skew_dir, "host1-nova-compute-3117.jsonl")
    scenario.record(nova.BUGGY, "bug", host2, host1_path=host1, host1_skew_ns=SKEW_NS)
    written += [host1, host2]
    # The buggy trace as Chrome/Perfetto JSON and as OpenTelemetry JSON Lines.
    from tracer.analysis import load
    from tracer.analysis.formats import export_chrome, export_otlp

    trace = load([buggy]).trace
    for name, export in (("nova-1896463-buggy.chrome.json", export_chrome), ("nova-1896463-buggy.otlp.jsonl", export_otlp)):
        target = path(name)
        if os.path.exists(target):
            os.remove(target)
        export(trace, target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the samples into the directory given (default: sample_traces)."""
    args = sys.argv[1:] if argv is None else argv
    directory = args[0] if args else "sample_traces"
    for written in write_samples(directory):
        print(f"wrote {written}")
    return 0


def regenerate_to_temp() -> str:
    """Write the samples into a new temporary directory and return it (for the determinism test)."""
    directory = tempfile.mkdtemp(prefix="racelane-samples-")
    write_samples(directory)
    return directory


if __name__ == "__main__":
    sys.exit(main())
