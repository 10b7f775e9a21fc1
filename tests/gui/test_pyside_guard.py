"""Guard against the PySide6 build that corrupts None's reference count.

PySide6-Essentials 6.12.0 on CPython 3.11 drops a reference to None on every
void-returning wrapped call (QPainter.drawRects, setBrush, save ...) and the
process aborts after a few thousand paints. pyproject.toml pins a good build;
this test fails loudly if a bad one slips in.
"""

from __future__ import annotations

import sys

import pytest

QtGui = pytest.importorskip("PySide6.QtGui")
QtCore = pytest.importorskip("PySide6.QtCore")


def test_void_painter_calls_keep_none_refcount(qapp):
    """Hundreds of void QPainter calls leave sys.getrefcount(None) where it was (6.12.0 on 3.11 drops 4 per round)."""
    image = QtGui.QImage(64, 64, QtGui.QImage.Format.Format_ARGB32)
    rects = [QtCore.QRectF(i % 60, i % 50, 3, 3) for i in range(32)]
    brush = QtGui.QBrush(QtGui.QColor(200, 30, 30))
    painter = QtGui.QPainter(image)
    try:
        before = sys.getrefcount(None)
        for _ in range(500):
            painter.save()
            painter.setBrush(brush)
            painter.drawRects(rects)
            painter.restore()
        after = sys.getrefcount(None)
    finally:
        painter.end()
    # Immortal None (3.12+) reports a huge constant; on 3.11 a falling count is the bug.
    assert after >= before - 100, f"None refcount fell from {before} to {after}: bad PySide6 build"
