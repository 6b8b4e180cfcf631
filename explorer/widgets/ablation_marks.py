"""Ablated heads drawn crossed out on a pyqtgraph plot whose cell (layer l, head h) is the unit
square [h, h+1] x [l, l+1]: a dark veil and an X over each, in one path item each."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

CROSS_COLOUR = QColor("#e11d48")
VEIL_COLOUR = QColor(20, 20, 20, 150)


class AblationMarks:
    def __init__(self, plot: pg.PlotItem, z: float = 20.0):
        self.veil = QGraphicsPathItem()
        self.veil.setBrush(pg.mkBrush(VEIL_COLOUR))
        self.veil.setPen(pg.mkPen(None))
        self.cross = QGraphicsPathItem()
        pen = pg.mkPen(CROSS_COLOUR, width=2.5)
        pen.setCosmetic(True)  # the X keeps its width however the cells are scaled
        self.cross.setPen(pen)
        for z_offset, item in enumerate((self.veil, self.cross)):
            item.setZValue(z + z_offset)
            plot.addItem(item, ignoreBounds=True)
        self.heads: tuple[tuple[int, int], ...] = ()

    def show(self, heads, size: float = 1.0) -> None:
        """Cross out ``heads`` ((layer, head) pairs), each a ``size`` x ``size`` square."""
        self.heads = tuple(heads)
        veil, cross = QPainterPath(), QPainterPath()
        for layer, head in self.heads:
            rect = QRectF(head, layer, size, size)
            veil.addRect(rect)
            cross.moveTo(rect.topLeft())
            cross.lineTo(rect.bottomRight())
            cross.moveTo(rect.topRight())
            cross.lineTo(rect.bottomLeft())
        self.veil.setPath(veil)
        self.cross.setPath(cross)
