"""Benchmark: timeline images of a 1,000,000-span trace (50 lanes), offscreen.

Measures, in one run:

- the whole trace, already loaded and analysed, to a 1920-px-wide PNG file
  (``gui.export.export_image``: layout, level of detail, painting, PNG
  encoding and the write), split into its steps; the baselines show the same
  lanes with the viewer's own timeline widget (sized to hold every lane),
  grabbed and saved with ``QImage.save``, and pyqtgraph's ``ImageExporter``
  of its plot at 1920 px, same data, same run;
- headless ``racelane export TRACE -o OUT.png`` end to end in a fresh process
  (start, load, analysis, image); the baseline is ``racelane view
  --screenshot`` of the same file;
- an SVG of a view holding about 10,000 spans: time, size and elements;
  the baseline paints the viewer's timeline widget of the same view (every
  lane, no header) into Qt's ``QSvgGenerator`` (pyqtgraph 0.14.0's own SVG
  exporter fails on this Qt).

Targets: PNG <= 150 ms; ``racelane export`` <= 3 s; SVG <= 500 ms and <= 1 MB.
The trace is ``bench_analysis.generate``'s (5 hosts x 10 lanes), in one file.

    .venv/bin/python bench/bench_export.py [--runs 7]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

WIDTH = 1920
SVG_SPANS = 10_000


CPU: dict[int, list[float]] = {}  # id of a wall-time list -> the CPU times of the same runs


def _ms(values: list[float]) -> str:
    cpu = CPU.get(id(values))
    also = f"; CPU median {statistics.median(cpu) * 1e3:.0f} ms" if cpu else ""
    return (f"median {statistics.median(values) * 1e3:.0f} ms (min {min(values) * 1e3:.0f}, "
            f"max {max(values) * 1e3:.0f}{also})")


def _timed(fn, runs: int) -> tuple[list[float], object]:
    """Run ``fn`` ``runs`` times; return the wall times (CPU times kept in ``CPU``) and the last result."""
    times, cpu, out = [], [], None
    for _ in range(runs):
        gc.collect()
        started, started_cpu = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    CPU[id(times)] = cpu
    return times, out


def _timeline_of(data: object, t_range: tuple[float, float], height: int):
    """Return the viewer's timeline widget alone, offscreen, tall enough to show every lane (as an export does)."""
    from PySide6 import QtCore

    from gui.app import application
    from gui.timeline import Timeline

    app = application()
    timeline = Timeline(data)
    timeline.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    timeline.resize(WIDTH, height)
    timeline.show()
    app.processEvents()
    timeline.set_x_range(*t_range, record=False)
    timeline.vb.set_top(0.0)
    app.processEvents()
    return app, timeline


def _range_with_spans(data: object, count: int) -> tuple[float, float]:
    """Return a time range (ns since start) that about ``count`` spans reach into, in the trace's middle."""
    import numpy as np

    spans = data.trace.spans
    start = np.sort(spans.start_ns - data.trace.t0_ns)
    mid = len(start) // 2
    lo, hi = float(start[mid]), float(start[min(mid + count, len(start) - 1)])
    return lo, hi


def _processes(cmd: list[str], runs: int) -> list[float]:
    """Return the wall time of each run of ``cmd``; [] (and why, on stdout) if it fails."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"  {' '.join(cmd[2:4])} failed (exit {proc.returncode}): {last}")
            return []
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    CPU[id(times)] = cpu
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs of each in-process measure (default 7)")
    parser.add_argument("--process-runs", type=int, default=3, help="runs of each command (default 3)")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="racelane-bench-export-")
    try:
        return _run(args, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run(args: argparse.Namespace, directory: str) -> int:
    from bench_viewer import _make_trace

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    started = time.perf_counter()
    path = _make_trace(directory)
    print(f"trace: {path.name} ({path.stat().st_size / 1e6:.0f} MB) generated in {time.perf_counter() - started:.1f} s")

    from gui.app import application, load_data
    from gui.export import export_image, plan, png_bytes, sheet_image, sheet_svg

    application()
    data = load_data([str(path)])
    print(f"{len(data.trace.spans):,} spans, {len(data.trace.lanes)} lanes, {data.index.n_rows} rows, "
          f"{len(data.hazards)} hazards")
    out = Path(directory)

    # --- 1. the whole trace, loaded, to a 1920-px PNG ------------------------------------------
    export_image(data, out / "warm.png", width=WIDTH, force=True)  # fonts, glyph caches: once per process
    png_times, done = _timed(lambda: export_image(data, out / "whole.png", width=WIDTH, force=True), args.runs)
    plan_t, sheet = _timed(lambda: plan(data, width=WIDTH), args.runs)
    paint_t, image = _timed(lambda: sheet_image(sheet), args.runs)
    encode_t, _ = _timed(lambda: png_bytes(image), args.runs)
    print(f"\nwhole trace -> {done.width}x{done.height} PNG ({done.size_bytes / 1024:.0f} KB), export_image: {_ms(png_times)}")
    print(f"  layout and level of detail {_ms(plan_t)}; painting {_ms(paint_t)}; PNG encoding {_ms(encode_t)}")

    import pyqtgraph.exporters as pg_exporters

    # The viewer's own timeline widget, alone and tall enough for every lane: the same content, no header.
    app, timeline = _timeline_of(data, (sheet.t_lo, sheet.t_hi), round(sheet.lanes_h + 60))

    def grab() -> None:
        timeline.grab().save(str(out / "grab.png"), "PNG")

    def pg_image() -> None:
        exporter = pg_exporters.ImageExporter(timeline.plot.getPlotItem())
        exporter.parameters()["width"] = WIDTH
        exporter.export(str(out / "pg.png"))

    grab_t, _ = _timed(grab, args.runs)
    pg_t, _ = _timed(pg_image, max(3, args.runs // 2))
    png_med = statistics.median(png_times)
    print(f"  baselines, the viewer's timeline widget at {timeline.width()}x{timeline.height()} (every lane): "
          f"grab + QImage.save PNG {_ms(grab_t)} ({statistics.median(grab_t) / png_med:.1f}x ours); "
          f"pyqtgraph ImageExporter at 1920 px {_ms(pg_t)} ({statistics.median(pg_t) / png_med:.1f}x ours)")

    # --- 2. headless racelane export, end to end -------------------------------------------------
    env_cmd = [sys.executable, "-m", "tracer.cli.main"]
    cli_t = _processes([*env_cmd, "export", str(path), "-o", str(out / "cli.png"), "--force"], args.process_runs)
    view_t = _processes([*env_cmd, "view", str(path), "--screenshot", str(out / "view.png"), "--size", "1920x1080"],
                        args.process_runs)
    cli_med = statistics.median(cli_t) if cli_t else float("inf")
    baseline = (f"racelane view --screenshot: median {statistics.median(view_t):.2f} s "
                f"({statistics.median(view_t) / cli_med:.2f}x ours)") if view_t else "racelane view --screenshot failed"
    cli_cpu = statistics.median(CPU[id(cli_t)]) if cli_t else float("inf")
    print(f"\nracelane export TRACE -o OUT.png (fresh process): {', '.join(f'{t:.2f}' for t in cli_t)} s "
          f"(median {cli_med:.2f} s, CPU median {cli_cpu:.2f} s); {baseline}")

    # --- 3. SVG of a view with about 10,000 spans ------------------------------------------------
    t_range = _range_with_spans(data, SVG_SPANS)
    in_range = int(((data.trace.spans.end_ns - data.trace.t0_ns >= t_range[0])
                    & (data.trace.spans.start_ns - data.trace.t0_ns <= t_range[1])).sum())
    svg_t, svg = _timed(lambda: sheet_svg(plan(data, width=WIDTH, t_range=t_range)), args.runs)
    export_image(data, out / "view.svg", width=WIDTH, t_range=t_range, force=True)
    text = svg.decode()
    print(f"\nview of {in_range:,} spans ({t_range[1] - t_range[0]:.0f} ns) -> SVG {len(svg) / 1024:.0f} KB, "
          f"{text.count('<rect')} <rect>, {text.count('<text')} <text>, {text.count('<polygon')} <polygon>: {_ms(svg_t)}")

    from PySide6 import QtCore, QtGui, QtSvg

    timeline.set_x_range(*t_range, record=False)
    app.processEvents()

    def widget_svg() -> bytes:
        buffer = QtCore.QBuffer()
        buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
        generator = QtSvg.QSvgGenerator()
        generator.setOutputDevice(buffer)
        plot = timeline.plot
        generator.setSize(plot.size())
        generator.setViewBox(QtCore.QRect(0, 0, plot.width(), plot.height()))
        painter = QtGui.QPainter(generator)
        try:
            plot.render(painter)
        finally:
            painter.end()
        return bytes(buffer.data().data())

    try:  # the exporter the issue rules out: does it work on this Qt?
        pg_exporters.SVGExporter(timeline.plot.getPlotItem()).export(str(out / "pg.svg"))
        pg_svg = f"wrote {(out / 'pg.svg').stat().st_size / 1024:.0f} KB"
    except Exception as err:  # any failure is the answer
        pg_svg = f"fails: {type(err).__name__}: {str(err)[:80]}"
    print(f"  pyqtgraph SVGExporter of the same plot: {pg_svg}")
    base_t, base_svg = _timed(widget_svg, args.runs)
    svg_med = statistics.median(svg_t)
    print(f"  baseline: the viewer's plot widget ({timeline.plot.width()}x{timeline.plot.height()}) painted "
          f"into QSvgGenerator {_ms(base_t)}, {len(base_svg) / 1024:.0f} KB ({statistics.median(base_t) / svg_med:.2f}x ours)")
    timeline.close()

    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ok = png_med <= 0.150 and cli_med <= 3.0 and svg_med <= 0.5 and len(svg) <= 1 << 20
    print(f"\nsummary: PNG {png_med * 1e3:.0f} ms [<= 150 ms]; racelane export {cli_med:.2f} s [<= 3 s]; "
          f"SVG {svg_med * 1e3:.0f} ms, {len(svg) / 1024:.0f} KB [<= 500 ms, <= 1024 KB]: "
          f"{'all targets met' if ok else 'NOT all targets met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
