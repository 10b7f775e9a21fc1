"""``racelane demo``: reproduce Nova bug 1896463 deterministically and show the race.

Runs the buggy Nova evacuation scenario on its canonical losing schedule,
writes the trace, and prints what happened on a text timeline: the audit's
two reads straddle the evacuation's unlocked writes, and ``clean_usage``
frees the evacuated instance's PCI device.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

import orjson

from tracer.record.format import iter_rows


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser = sub.add_parser(
        "demo",
        help="reproduce Nova bug 1896463 deterministically and print what the trace shows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  racelane demo -o /tmp/nova-1896463-buggy.jsonl\n  racelane demo --live --duration 30",
    )
    parser.add_argument("-o", "--output", default=None, help="where to write the trace (default: a temporary file)")
    parser.add_argument("--no-view", action="store_true", help="do not open the viewer or write the PNG")
    parser.add_argument("--live", action="store_true",
                        help="run the scenario on real threads in real time and follow its trace as it is written "
                             "(the viewer, or hazards printed as tail does without a display)")
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="with --live: how long (default 20 s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Record the buggy scenario's losing schedule, then print its lanes on a text timeline."""
    if getattr(args, "live", False):
        from . import demo_live

        return demo_live.run(args)
    from tracer.scenario import run as scenario

    path = args.output or os.path.join(tempfile.mkdtemp(prefix="racelane-demo-"), "nova-1896463-buggy.jsonl")
    outcome = scenario.record("buggy", "bug", path)
    print_timeline(path)
    print()
    if outcome.lost:
        print("Result: the audit's instance read ran before the evacuation set instance.host=host2, and its")
        print("migration read ran after the evacuation marked migration 7 done, all without the compute_resources")
        print("lock on the evacuation's side: clean_usage freed the instance's VF 0000:81:00.1, and the next")
        print(f"audit did {'not ' if outcome.lost_after_next_audit else ''}restore it.")
    print()
    print_hazard_report(path)
    print(f"\ntrace written to {path}")
    print(f"check it yourself: racelane check {path}")
    print("see also: racelane scenario nova-evacuation --explore (every interleaving, buggy and fixed)")
    if not args.no_view:
        return show(path)
    return 0


def show(path: str) -> int:
    """Open the viewer on the trace with its first hazard selected; without a display, export that view as PNG."""
    from . import view

    display = view._can_display() and not os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen")
    if not display:
        return export_png(path)
    ns = argparse.Namespace(traces=[path], rules="nova", screenshot=None, hazard=1, size="1600x900", strict=False, offset=[])
    try:
        return view.run(ns)
    except SystemExit as exit_:  # the viewer reports its own problems on stderr
        return int(exit_.code or 0)


def export_png(path: str) -> int:
    """Write ``TRACE-hazard.png``: the first hazard's window with its explanation (``racelane export``'s image)."""
    from gui.app import offscreen_if_headless

    offscreen_if_headless()
    try:
        from gui.app import load_data
        from gui.export import export_image
    except ImportError as err:
        print(f"racelane: no PNG: images need PySide6 and pyqtgraph ({err})", file=sys.stderr)
        return 2
    png = os.path.splitext(path)[0] + "-hazard.png"
    data: Any = load_data([path], "nova")
    export_image(data, png, hazard=1, width=1600, height=900, caption=True, force=True)
    print(f"no display: the hazard window is in {png}")
    print(f"(the same image: racelane export {path} -o {png} --hazard 1 --caption --width 1600 --height 900 --force)")
    return 0


def print_hazard_report(path: str) -> int:
    """Run the built-in ``nova`` rules on the trace and print the hazards; return how many fail."""
    import textwrap

    from tracer.analysis import load
    from tracer.analysis.hazards import analyze
    from tracer.analysis.rules import load_rules

    analysis = analyze(load([path]).trace, load_rules("nova"))
    print("Hazard report (racelane check, rules: nova)")
    for n, hazard in enumerate(analysis.hazards(), start=1):
        print(f"{n}. {hazard['class'].upper()}: {hazard['title']}  [{hazard['start']} .. {hazard['end']}]")
        print(textwrap.fill(hazard["explanation"], width=100, initial_indent="   ", subsequent_indent="   "))
    return analysis.failing()


def print_timeline(path: str, width: int = 56) -> None:
    """Print every lane of a racelane trace as rows of bars on a shared wall-clock axis."""
    with open(path, "rb") as fh:
        records = [orjson.loads(line) for line in fh if line.endswith(b"\n")]
    segments: list[dict[str, Any]] = []
    for record in records:
        if record["type"] == "header":
            clock = record["clock"]
            segments.append({"host": record["host"], "shift": clock["wall_ns"] - clock["monotonic_ns"],
                             "lanes": {}, "spans": [], "marks": [], "done": set()})
        elif segments:
            seg = segments[-1]
            if record["type"] == "lane":
                seg["lanes"][record["lane"]] = record["name"]
            elif record["type"] == "spans":
                for row in iter_rows(record):
                    seg["spans"].append(row)
                    seg["done"].add(row["id"])
            elif record["type"] == "open":
                seg["spans"] += [dict(row, end_ns=None) for row in iter_rows(record) if row["id"] not in seg["done"]]
            elif record["type"] == "marks":
                seg["marks"] += list(iter_rows(record))
    starts = [s["start_ns"] + seg["shift"] for seg in segments for s in seg["spans"]]
    if not starts:
        print("nothing was recorded")
        return
    t0 = min(starts)
    t1 = max((s["end_ns"] or s["start_ns"]) + seg["shift"] for seg in segments for s in seg["spans"])
    scale = width / max(1, t1 - t0)
    count = sum(len(seg["spans"]) for seg in segments)
    print(f"{count} spans in {len(segments)} processes over {(t1 - t0) / 1e6:.1f} ms (times from the first span)\n")
    for seg in segments:
        for lane_id, lane_name in seg["lanes"].items():
            lane_spans = sorted((s for s in seg["spans"] if s["lane"] == lane_id), key=lambda s: s["start_ns"])
            if not lane_spans:
                continue
            print(f"[{seg['host']} · {lane_name}]")
            for s in lane_spans:
                start = s["start_ns"] + seg["shift"]
                end = (s["end_ns"] + seg["shift"]) if s["end_ns"] is not None else t1
                a = int((start - t0) * scale)
                b = max(a + 1, int((end - t0) * scale))
                bar = " " * a + ("~" if s["cat"] == "lock" else "#") * (b - a)
                print(f"  {bar:<{width}} {(start - t0) / 1e6:8.2f} ms {(end - start) / 1e6:6.2f} ms  {s['name']}")
            for m in (m for m in seg["marks"] if m["lane"] == lane_id):
                ts = m["ts_ns"] + seg["shift"]
                a = int((ts - t0) * scale)
                attrs = m["attrs"] or {}
                brief = ", ".join(f"{k}={v}" for k, v in attrs.items() if k in ("address", "old_instance_uuid", "host", "status"))
                print(f"  {' ' * a + '|':<{width}} {(ts - t0) / 1e6:8.2f} ms  mark: {m['name']} {brief}")
