"""The Qt binding itself must be sound: a known PySide6 release corrupts Python's None."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_void_qt_calls_do_not_drop_references_to_none():
    """PySide6 6.12.0 decrefs None on every void call (moveTo, drawPath, setPen...); the app
    then aborts with 'deallocating None' after a few thousand paints."""
    image = QImage(32, 32, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    path = QPainterPath()
    before = sys.getrefcount(None)
    for _ in range(500):
        path.moveTo(1.0, 2.0)
        path.lineTo(3.0, 4.0)
        painter.setPen(QPen(QColor(1, 2, 3), 1.0))
        painter.drawPath(path)
        painter.fillRect(QRectF(0, 0, 4, 4), QColor(5, 6, 7))
    after = sys.getrefcount(None)
    painter.end()
    assert after >= before - 50, f"None lost {before - after} references in 500 paints"
