"""Regenerate the committed images of the desktop integration: icon PNGs and AppStream screenshots.

    .venv/bin/python packaging/linux/make_assets.py icons        # PNG sizes from the SVG icon
    .venv/bin/python packaging/linux/make_assets.py screenshots  # `racelane export` of the sample traces

The PNG icons are rendered from the SVG with Qt's SVG renderer, so the test
suite can render them again and compare (tests/packaging/test_desktop_files.py).
The screenshots are what `racelane export` draws; the AppStream metainfo names
each one with its size, and the tests check the two agree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
APP_ID = "io.racelane.Racelane"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SVG_ICON = os.path.join(HERE, "icons", "hicolor", "scalable", "apps", f"{APP_ID}.svg")

# (file name under screenshots/, racelane export arguments after the trace)
SCREENSHOTS = (
    ("hazard.png", ["sample_traces/nova-1896463-buggy.jsonl", "--hazard", "1", "--caption", "--width", "1600"]),
    ("whole-trace-dark.png", ["sample_traces/nova-1896463-buggy.jsonl", "--theme", "dark", "--width", "1600"]),
    ("fixed.png", ["sample_traces/nova-1896463-fixed.jsonl", "--hazard", "1", "--caption", "--width", "1600"]),
)


def png_icon_path(size: int, root: str = HERE) -> str:
    """Return where the ``size`` px PNG icon lives under ``root`` (the hicolor layout)."""
    return os.path.join(root, "icons", "hicolor", f"{size}x{size}", "apps", f"{APP_ID}.png")


def render_icon(size: int, out: str) -> None:
    """Render the SVG icon at ``size`` x ``size`` pixels into the PNG ``out``."""
    from PySide6 import QtCore, QtGui, QtSvg

    renderer = QtSvg.QSvgRenderer(SVG_ICON)
    if not renderer.isValid():
        raise SystemExit(f"{SVG_ICON}: not a valid SVG")
    image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QtCore.QRectF(0, 0, size, size))
    painter.end()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if not image.convertToFormat(QtGui.QImage.Format.Format_ARGB32).save(out, "PNG"):
        raise SystemExit(f"cannot write {out}")


def make_icons() -> None:
    from PySide6 import QtGui

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication([sys.argv[0]])  # noqa: F841 (kept alive)
    for size in ICON_SIZES:
        out = png_icon_path(size)
        render_icon(size, out)
        print(f"wrote {os.path.relpath(out, ROOT)}")


def make_screenshots() -> None:
    for name, args in SCREENSHOTS:
        out = os.path.join(HERE, "screenshots", name)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        command = [sys.executable, "-m", "tracer.cli.main", "export", *args, "-o", out, "--force"]
        subprocess.run(command, cwd=ROOT, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("icons", "screenshots", "all"))
    what = parser.parse_args().what
    if what in ("icons", "all"):
        make_icons()
    if what in ("screenshots", "all"):
        make_screenshots()
    return 0


if __name__ == "__main__":
    sys.exit(main())
