"""PNG export of an attention view: rendered at a chosen scale (not a screen grab), without the
hover readout, with a caption line saying what it shows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QRegion
from PySide6.QtWidgets import QWidget

PNG_SCALES = (1, 2, 3)
CAPTION_POINTS = 9


def render_png(view: QWidget, path, caption: str, scale: int = 2,
               hidden: tuple[QWidget, ...] = ()) -> Path:
    """Render ``view`` at ``scale`` times its size with ``caption`` below; the ``hidden``
    widgets (the hover readout) are left out of the picture."""
    path = Path(path)
    font = QFont()
    font.setPointSize(CAPTION_POINTS)
    line = QFontMetrics(font).height() + 8
    size = view.size()
    # Everything but the hidden widgets' rectangles (left white): no re-layout, so the picture
    # is the view as laid out on screen.
    region = QRegion(view.rect())
    for widget in hidden:
        if widget.isVisible() and view.isAncestorOf(widget):
            region -= QRegion(QRect(widget.mapTo(view, QPoint(0, 0)), widget.size()))
    image = QImage(size.width() * scale, (size.height() + line) * scale,
                   QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(scale)
    image.fill(QColor("white"))
    painter = QPainter(image)
    view.render(painter, QPoint(0, 0), region)
    painter.setFont(font)
    painter.setPen(QColor("#202020"))
    painter.drawText(QRect(6, size.height(), size.width() - 12, line),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, caption)
    painter.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path
