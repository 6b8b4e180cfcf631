"""Per-head attention entropy on the probe pair, recorded by a training job at every checkpoint,
as a layer x head map with a slider to scrub across steps.

Low entropy (dark) = a head that looks at few tokens; high (light) = one that spreads its
attention. Watching the map change shows heads specialising as the model learns.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

NO_RECORDS = "No records yet: a job writes one at each checkpoint."


class EntropyMap(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = pg.PlotWidget()
        plot = self.view.getPlotItem()
        plot.setTitle("Attention entropy per head (probe pair)", size="9pt")
        plot.setLabel("bottom", "head")
        plot.setLabel("left", "layer")
        plot.invertY(True)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        plot.addItem(self.image)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._show)
        self.caption = QLabel(NO_RECORDS)
        self.caption.setToolTip("Mean entropy (nats) of each head's attention rows on the probe "
                                "pair: dark = focused on few tokens, light = spread out.")
        row = QHBoxLayout()
        row.addWidget(QLabel("Step"))
        row.addWidget(self.slider, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        layout.addWidget(self.caption)
        self._records: list[dict] = []
        self._source: str | None = None
        self._show(0)

    def set_records(self, records: list[dict], source: str | None = None) -> None:
        """Probe records ({"step", "attention_entropy": [layers][heads]}), oldest first, of the
        run ``source``. The slider stays where it is unless it was at the newest step (then it
        follows) or the run changed."""
        steps = [r["step"] for r in records]
        if source == self._source and steps == [r["step"] for r in self._records]:
            return
        at_end = source != self._source or self.slider.value() >= len(self._records) - 1
        self._source = source
        self._records = list(records)
        self.slider.setEnabled(len(records) > 1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(records) - 1))
        if at_end:
            self.slider.setValue(len(records) - 1)
        self.slider.blockSignals(False)
        self._show(self.slider.value())

    @property
    def shown_step(self) -> int | None:
        return self._records[self.slider.value()]["step"] if self._records else None

    def _show(self, index: int) -> None:
        plot = self.view.getPlotItem()
        if not self._records:  # empty axes, not the last run's map or pyqtgraph's +-400 range
            self.image.clear()
            self.image.setRect(0, 0, 1, 1)
            plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            for axis in ("bottom", "left"):
                plot.getAxis(axis).setTicks([[]])
            self.caption.setText(NO_RECORDS)
            return
        record = self._records[index]
        grid = np.asarray(record["attention_entropy"], np.float64)  # [layers, heads], nats
        # One colour scale for every step, so a scrub shows change, not rescaling.
        top = max(float(np.max(r["attention_entropy"])) for r in self._records)
        self.image.setImage(grid, levels=(0.0, max(top, 1e-6)))
        self.image.setRect(-0.5, -0.5, grid.shape[1], grid.shape[0])
        plot.setRange(xRange=(-0.5, grid.shape[1] - 0.5), yRange=(-0.5, grid.shape[0] - 0.5),
                      padding=0)
        for axis, count in (("bottom", grid.shape[1]), ("left", grid.shape[0])):
            every = max(1, count // 12)  # at most ~12 labels
            plot.getAxis(axis).setTicks([[(i, str(i)) for i in range(0, count, every)]])
        self.caption.setText(f"step {record['step']} · mean {grid.mean():.2f} nats "
                             f"({grid.min():.2f}–{grid.max():.2f}) · dark = focused")
