"""A layers x heads map of one number per head (the Jensen-Shannon divergence of two models'
attention, or of a checkpoint from the one before), with a colour bar and a hover readout;
a click selects that head, which is outlined."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from explorer.widgets.attention_common import HIGHLIGHT_COLOR, grid_cell

DIVERGENCE_COLORMAP = "inferno"  # one-signed and distinct from the attention maps' viridis
HINT = "hover a head for its divergence; click it to select it"


class DivergenceMap(QWidget):
    sig_head_clicked = Signal(int, int)  # layer, head

    def __init__(self, empty_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.empty_text = empty_text
        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(200, 160)
        self.plot = self.view.addPlot(row=0, col=0)
        self.plot.setLabel("left", "layer")
        self.plot.setLabel("bottom", "head")
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        vb = self.plot.getViewBox()
        vb.setMouseEnabled(False, False)
        vb.invertY(True)
        vb.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(DIVERGENCE_COLORMAP))
        self.plot.addItem(self.image)
        self.box = QGraphicsRectItem()
        self.box.setPen(pg.mkPen(HIGHLIGHT_COLOR, width=3))
        self.box.setZValue(10)
        self.box.setVisible(False)
        self.plot.addItem(self.box, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=DIVERGENCE_COLORMAP,
                                        interactive=False, width=12, colorMapMenu=False)
        self.view.addItem(self.colorbar, row=0, col=1)
        self.readout = QLabel(empty_text)
        self.readout.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self.values: np.ndarray | None = None  # [L, N] shown
        self.caption = ""
        self.view.scene().sigMouseMoved.connect(self._on_hover)
        self.view.scene().sigMouseClicked.connect(self._on_click)

    def set_values(self, values: np.ndarray | None, caption: str = "") -> None:
        """[L, N] per head (None: nothing to show, the empty text instead)."""
        self.caption = caption
        if values is None:
            self.values = None
            self.image.clear()
            self.box.setVisible(False)
            self.plot.setTitle("")
            self.readout.setText(self.empty_text)
            return
        self.values = np.asarray(values, dtype=np.float32)
        layers, heads = self.values.shape
        top = float(self.values.max()) or 1e-6  # 0 everywhere: one model against itself
        self.image.setImage(self.values, autoLevels=False, levels=(0.0, top))
        self.image.setRect(QRectF(0, 0, heads, layers))
        self.colorbar.setLevels((0.0, top))
        self.plot.getViewBox().setRange(xRange=(0, heads), yRange=(0, layers), padding=0)
        self.plot.getAxis("bottom").setTicks([[(h + 0.5, str(h)) for h in range(heads)]])
        self.plot.getAxis("left").setTicks([[(l + 0.5, str(l)) for l in range(layers)]])
        self.plot.setTitle(caption, size="9pt")
        layer, head = np.unravel_index(int(np.argmax(self.values)), self.values.shape)
        self.readout.setText(f"most changed: layer {layer} head {head} "
                             f"({self.values[layer, head]:.3f} nats of ln 2 = {math.log(2):.3f}); "
                             + HINT)

    def select(self, layer: int, head: int | None) -> None:
        """Outline one head (``head`` None or out of range: the whole layer)."""
        if self.values is None:
            return
        layers, heads = self.values.shape
        if not 0 <= layer < layers:
            self.box.setVisible(False)
            return
        if head is None or not 0 <= head < heads:
            self.box.setRect(QRectF(0, layer, heads, 1))
        else:
            self.box.setRect(QRectF(head, layer, 1, 1))
        self.box.setVisible(True)

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        shape = None if self.values is None else self.values.shape
        return grid_cell(self.plot.getViewBox(), scene_pos, shape)

    def readout_for(self, layer: int, head: int) -> str:
        return f"layer {layer} head {head}: {self.values[layer, head]:.4f} nats"

    def _on_hover(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is not None:
            self.readout.setText(self.readout_for(*cell))

    def _on_click(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.sig_head_clicked.emit(*cell)
