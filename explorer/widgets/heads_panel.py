"""The head dashboard: one cell per head (layers down, heads across) coloured by a per-head
number of the current input, switchable between Clark et al.'s shares of attention, the mean
row entropy and Michel et al.'s MLM importance; a colour bar, a hover readout, ablated heads
crossed out. A click selects the head, or with the Ablate toggle on switches it off or on.

It shows an ``explorer.head_lab_requests.HeadsReport`` (computed in the inference worker) given to
``show_report`` by the head lab tab, which asks for it.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (QComboBox, QGraphicsRectItem, QHBoxLayout, QLabel, QVBoxLayout,
                               QWidget)

from engine.results import HEAD_STATISTICS
from explorer.state import MEAN_HEAD
from explorer.widgets.ablation_marks import AblationMarks
from explorer.widgets.attention_common import HIGHLIGHT_COLOR, colormap, grid_cell

STATISTIC_NAMES = {"cls": "to [CLS]", "sep": "to [SEP]", "punct": "to punctuation",
                   "self": "to itself", "prev": "to previous token", "next": "to next token"}
# What the dashboard can show: key -> (menu name, meaning)
DASHBOARD_METRICS = {
    **{key: (STATISTIC_NAMES[key], meaning) for key, meaning in HEAD_STATISTICS.items()},
    "entropy": ("entropy", "mean row entropy in nats; the colour bar tops at log n, the "
                           "entropy of uniform rows"),
    "importance": ("importance", "head importance (Michel et al. 2019) for this input's "
                                 "[MASK] predictions: |dL/d gate| with L the loss of each "
                                 "[MASK]'s top candidate, each layer L2-normalised, then "
                                 "min-max"),
}


def metric_grid(report, key: str) -> tuple[np.ndarray, tuple[float, float]] | None:
    """[L, N] values of ``key`` in ``report`` and the colour levels; None if not available."""
    if key == "importance":
        if report.importance is None:
            return None
        return report.importance.normalised, (0.0, 1.0)
    if key == "entropy":
        return report.statistics.entropy, (0.0, max(report.statistics.uniform_entropy, 1e-6))
    return report.statistics.shares[key], (0.0, 1.0)


class HeadsDashboard(QWidget):
    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.report = None         # HeadsReport on screen
        self.values: np.ndarray | None = None  # [L, N] of the chosen metric
        self.metric = QComboBox()
        for key, (name, meaning) in DASHBOARD_METRICS.items():
            self.metric.addItem(name, key)
            self.metric.setItemData(self.metric.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.metric.setCurrentIndex(self.metric.findData("importance"))
        self.readout = QLabel("hover a head")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumSize(220, 180)
        self.plot = self.view.addPlot(row=0, col=0)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("left", "layer")
        self.plot.setLabel("bottom", "head")
        vb = self.plot.getViewBox()
        vb.setMouseEnabled(False, False)
        vb.setMenuEnabled(False)
        vb.invertY(True)
        vb.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(colormap())
        self.plot.addItem(self.image)
        self.selection_box = QGraphicsRectItem()
        self.selection_box.setPen(pg.mkPen(HIGHLIGHT_COLOR, width=2))
        self.selection_box.setZValue(30)
        self.plot.addItem(self.selection_box, ignoreBounds=True)
        self.ablation_marks = AblationMarks(self.plot)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=colormap(), interactive=False,
                                        width=14, colorMapMenu=False)
        self.view.addItem(self.colorbar, row=0, col=1)

        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.metric)
        top.addWidget(self.readout, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.note)

        self.metric.currentIndexChanged.connect(lambda _i: self._draw())
        self.view.scene().sigMouseMoved.connect(self._on_hover)
        self.view.scene().sigMouseClicked.connect(self._on_click)
        state.sig_selection_changed.connect(lambda *_a: self._draw_marks())
        state.sig_ablated_heads_changed.connect(lambda _h: self._draw_marks())

    # ----- report in -----

    def show_message(self, text: str) -> None:
        self.note.setText(text)

    def show_report(self, report) -> None:
        self.report = report
        importance = self.metric.findData("importance")
        self.metric.model().item(importance).setEnabled(report.importance is not None)
        if report.importance is None and self.current_metric() == "importance":
            self.metric.setCurrentIndex(self.metric.findData("cls"))  # something to show
        stats = report.statistics
        self.note.setText(f"{report.note} · entropy of uniform rows: log n = "
                          f"{stats.uniform_entropy:.2f}")
        self._draw()

    # ----- drawing -----

    def current_metric(self) -> str:
        return self.metric.currentData()

    def _draw(self) -> None:
        key = self.current_metric()
        self.metric.setToolTip(DASHBOARD_METRICS[key][1])
        found = None if self.report is None else metric_grid(self.report, key)
        if found is None:
            self.values = None
            self.image.clear()
            if self.report is not None:
                self.note.setText(self.report.note)
            return
        values, levels = found
        self.values = np.asarray(values, dtype=np.float32)
        layers, heads = self.values.shape
        self.image.setImage(self.values, autoLevels=False, levels=levels)
        self.image.setRect(QRectF(0, 0, heads, layers))
        self.colorbar.setLevels(levels)
        self.plot.getViewBox().setRange(xRange=(0, heads), yRange=(0, layers), padding=0.01)
        every = max(1, math.ceil(max(layers, heads) / 24))
        self.plot.getAxis("left").setTicks([[(l + 0.5, str(l)) for l in range(0, layers, every)]])
        self.plot.getAxis("bottom").setTicks([[(h + 0.5, str(h)) for h in range(0, heads, every)]])
        self._draw_marks()

    def _draw_marks(self) -> None:
        self.ablation_marks.show(self.state.ablated_heads)
        head = self.state.head
        visible = self.values is not None and head != MEAN_HEAD
        if visible:
            self.selection_box.setRect(QRectF(head, self.state.layer, 1, 1))
        self.selection_box.setVisible(visible)

    # ----- mouse -----

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        shape = None if self.values is None else self.values.shape
        return grid_cell(self.plot.getViewBox(), scene_pos, shape)

    def readout_text(self, layer: int, head: int) -> str:
        name = DASHBOARD_METRICS[self.current_metric()][0]
        off = " (ablated)" if (layer, head) in self.state.ablated_heads else ""
        return f"head {layer}:{head}{off} · {name} {self.values[layer, head]:.3f}"

    def _on_hover(self, scene_pos) -> None:
        cell = self.cell_at(scene_pos)
        if cell is not None:
            self.readout.setText(self.readout_text(*cell))

    def _on_click(self, event) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is None:
            return
        if self.state.ablate_mode:
            self.state.toggle_ablated_head(*cell)
        else:
            self.state.set_selection(layer=cell[0], head=cell[1])
