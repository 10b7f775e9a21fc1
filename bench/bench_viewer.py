"""Benchmark: the viewer on 1,000,000 spans (50 lanes), offscreen at 1920x1080.

Measures, in one run:

- per-frame time of the timeline (``PlotWidget.grab()``: the whole plot, axes
  included) for pan steps of 5% of the view at several zoom levels, and at
  full zoom-out (repaints, and a repaint after the frame cache is dropped);
- the same pans drawn by pyqtgraph's ``BarGraphItem`` (one item per lane,
  per-bar brushes, no level of detail) on the same data, and the ratio;
- process start to first frame (``racelane view``'s path, ``gui.app.launch``:
  window, load in a worker, first paint of the spans, then the analysis) and
  peak RSS, in a fresh subprocess.

Targets: pan frame <= 16 ms at any zoom, <= 20 ms at full zoom-out, first
frame <= 2.5 s, peak RSS <= 400 MB. The trace is ``bench_analysis.generate``'s
(5 hosts x 10 lanes), concatenated into one file.

    .venv/bin/python bench/bench_viewer.py [--frames 20] [--baseline-frames 4]
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

SIZE = (1920, 1080)
ZOOMS = (1.0, 1 / 8, 1 / 64, 1 / 1000)  # visible fraction of the trace
PAN_STEP = 0.05


def _make_trace(directory: str) -> Path:
    from bench_analysis import generate

    parts = generate(directory)
    whole = Path(directory) / "bench-1m.jsonl"
    with whole.open("wb") as out:
        for part in parts:
            out.write(Path(part).read_bytes())
            os.unlink(part)
    return whole


def _window(data: object):
    from PySide6 import QtCore

    from gui.app import application
    from gui.window import MainWindow

    app = application()
    window = MainWindow(data)
    window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    window.resize(*SIZE)
    window.show()
    app.processEvents()
    return app, window


def _pan_frames(plot, set_range, x0: float, width: float, frames: int) -> tuple[float, list[float]]:
    """Return (first frame at this zoom, following pan frames), in seconds."""
    set_range(x0, x0 + width)
    started = time.perf_counter()
    plot.grab()
    first = time.perf_counter() - started
    times = []
    for k in range(1, frames + 1):
        lo = x0 + k * PAN_STEP * width
        started = time.perf_counter()
        set_range(lo, lo + width)
        plot.grab()
        times.append(time.perf_counter() - started)
    return first, times


def _baseline(window, data) -> object:
    """Put one BarGraphItem per lane (every span, per-bar brushes) in a second plot like the viewer's."""
    import numpy as np
    import pyqtgraph as pg
    from PySide6 import QtCore, QtGui

    from gui.colors import category_color
    from gui.layout import ROW_H

    plot = pg.PlotWidget(background="w")
    plot.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    plot.resize(window.timeline.plot.size())
    plot.getPlotItem().hideButtons()
    vb = plot.getViewBox()
    vb.invertY(True)
    vb.disableAutoRange()
    trace = data.trace
    spans = trace.spans
    brushes = [QtGui.QBrush(QtGui.QColor(*category_color(c))) for c in trace.cats]
    row_y = window.timeline.lanes.row_y[data.index.span_row]
    t0 = trace.t0_ns
    for lane in range(len(trace.lanes)):
        rows = np.flatnonzero(spans.lane == lane)
        if not len(rows):
            continue
        item = pg.BarGraphItem(x0=(spans.start_ns[rows] - t0).astype(np.float64),
                               x1=(spans.end_ns[rows] - t0).astype(np.float64), y0=row_y[rows] + 1.0,
                               height=ROW_H - 2.0, brushes=[brushes[c] for c in spans.cat[rows].tolist()],
                               pen=None)
        plot.addItem(item)
    (_, _), (y0, y1) = window.timeline.vb.viewRange()
    vb.setYRange(y0, y1, padding=0)
    plot.show()
    return plot


def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:.1f} ms, p95 {sorted(values)[int(0.95 * (len(values) - 1))] * 1e3:.1f}, max {max(values) * 1e3:.1f}"


def first_frame_child(launched: float, path: str) -> int:
    """In a fresh process, as ``racelane view`` does: open the window, load in the background, draw, then analyse.

    Prints seconds from launch to the first frame of the spans, to the
    hazards shown, the peak RSS (MB), and seconds to the window on screen
    (with its progress bar, before the spans). The window's settings stay in
    memory (the user's are not read or written).
    """
    from gui.app import launch
    from gui.settings import Settings

    app, window = launch([path], rules="nova", theme="light", settings=Settings(), size=SIZE)
    app.processEvents()  # the window is on screen, its progress bar running
    times: dict[str, float] = {"window": time.time() - launched}

    def first() -> None:
        window.timeline.plot.grab()
        times["first"] = time.time() - launched

    def hazards() -> None:
        window.timeline.plot.grab()
        times["hazards"] = time.time() - launched
        app.quit()

    window.dataShown.connect(first)
    window.hazardsShown.connect(hazards)
    from PySide6 import QtCore

    QtCore.QTimer.singleShot(120_000, app.quit)
    app.exec()
    if set(times) != {"window", "first", "hazards"}:
        print(f"the viewer did not show the trace: {window.statusBar().currentMessage()}", file=sys.stderr)
        return 1
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{times['first']:.3f} {times['hazards']:.3f} {rss_mb:.0f} {times['window']:.3f}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20, help="pan frames per zoom level (default 20)")
    parser.add_argument("--baseline-frames", type=int, default=4, help="BarGraphItem frames per zoom level (default 4)")
    parser.add_argument("--first-frame-child", nargs=2, metavar=("LAUNCHED", "TRACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_frame_child:
        return first_frame_child(float(args.first_frame_child[0]), args.first_frame_child[1])

    directory = tempfile.mkdtemp(prefix="racelane-bench-viewer-")
    try:
        return _run(args, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _run(args: argparse.Namespace, directory: str) -> int:
    started = time.perf_counter()
    path = _make_trace(directory)
    print(f"trace: {path} ({path.stat().st_size / 1e6:.0f} MB) generated in {time.perf_counter() - started:.1f} s")

    starts, shown, rss, windows = [], [], [], []
    for _ in range(3):
        launched = time.time()
        out = subprocess.run([sys.executable, __file__, "--first-frame-child", repr(launched), str(path)],
                             capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
        starts.append(float(out[0]))
        shown.append(float(out[1]))
        rss.append(float(out[2]))
        windows.append(float(out[3]))
    first_frame, peak_rss = statistics.median(starts), max(rss)
    load_started = time.perf_counter()
    from tracer.analysis import load

    load([str(path)])
    load_s = time.perf_counter() - load_started
    print(f"process start to first frame: {', '.join(f'{s:.2f}' for s in starts)} s (median {first_frame:.2f} s), "
          f"hazards shown at {statistics.median(shown):.2f} s, window on screen at {statistics.median(windows):.2f} s; "
          f"peak RSS {peak_rss:.0f} MB; "
          f"tracer.analysis.load alone (warm, in this process) {load_s:.2f} s")

    from gui.app import load_data

    data = load_data([str(path)])
    gc.collect()
    print(f"{len(data.trace.spans):,} spans, {len(data.trace.lanes)} lanes, {data.index.n_rows} rows")
    app, window = _window(data)
    timeline = window.timeline
    plot = timeline.plot
    dur = float(data.duration_ns)

    def ours(lo: float, hi: float) -> None:
        timeline.vb.setXRange(lo, hi, padding=0.0)

    results: dict[float, tuple[float, list[float]]] = {}
    for zoom in ZOOMS:
        width = dur * zoom
        x0 = 0.3 * dur if zoom < 1 else -0.01 * dur
        frames = args.frames if zoom < 1 else 0
        results[zoom] = _pan_frames(plot, ours, x0, width if zoom < 1 else 1.02 * dur, frames)
    timeline.fit(record=False)
    repaint, cold = [], []
    for _ in range(args.frames):
        t = time.perf_counter()
        plot.grab()
        repaint.append(time.perf_counter() - t)
        timeline.spans._frame = None  # drop the frame cache: the cost of arriving at this zoom
        t = time.perf_counter()
        plot.grab()
        cold.append(time.perf_counter() - t)
    print(f"\nours, {SIZE[0]}x{SIZE[1]} window, plot {plot.width()}x{plot.height()}:")
    for zoom in ZOOMS[1:]:
        first, times = results[zoom]
        print(f"  view 1/{round(1 / zoom)} of the trace: pan {_ms(times)}; first frame at this zoom {first * 1e3:.1f} ms")
    print(f"  full zoom-out: repaint {_ms(repaint)}; recomputed {_ms(cold)}")

    baseline = _baseline(window, data)
    app.processEvents()
    bvb = baseline.getViewBox()

    def theirs(lo: float, hi: float) -> None:
        bvb.setXRange(lo, hi, padding=0.0)

    base: dict[float, tuple[float, list[float]]] = {}
    for zoom in ZOOMS:
        width = dur * zoom if zoom < 1 else 1.02 * dur
        x0 = 0.3 * dur if zoom < 1 else -0.01 * dur
        base[zoom] = _pan_frames(baseline, theirs, x0, width, args.baseline_frames)
    print("\nBarGraphItem, one per lane, no level of detail (same data, same plot size):")
    ratios = []
    for zoom in ZOOMS:
        first, times = base[zoom]
        mine = statistics.median(results[zoom][1]) if zoom < 1 else statistics.median(repaint)
        ratio = statistics.median(times) / mine
        ratios.append(ratio)
        label = "full zoom-out" if zoom == 1 else f"view 1/{round(1 / zoom)}"
        print(f"  {label}: {_ms(times)} (first {first * 1e3:.0f} ms); {ratio:.0f}x ours")

    pan_worst = max(statistics.median(results[z][1]) for z in ZOOMS[1:])
    pan_max = max(max(results[z][1]) for z in ZOOMS[1:])
    full = statistics.median(repaint)
    full_cold = statistics.median(cold)
    ok = pan_worst <= 0.016 and full_cold <= 0.020 and first_frame <= 2.5 and peak_rss <= 400
    print(f"\nsummary: pan frame median <= {pan_worst * 1e3:.1f} ms over {len(ZOOMS) - 1} zooms (max {pan_max * 1e3:.1f}) "
          f"[target <= 16 ms]; full zoom-out {full * 1e3:.1f} ms, recomputed {full_cold * 1e3:.1f} ms [<= 20 ms]; "
          f"BarGraphItem {min(ratios):.0f}-{max(ratios):.0f}x slower; first frame {first_frame:.2f} s [<= 2.5 s]; "
          f"peak RSS {peak_rss:.0f} MB [<= 400 MB]: {'all targets met' if ok else 'NOT all targets met'}")
    window.close()
    baseline.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
