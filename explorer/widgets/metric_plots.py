"""Live training curves: losses, accuracies, learning rate, grad norm and throughput of one or
more runs, raw and smoothed (debiased EMA, slider), at full resolution.

Every point is kept (``RunMetrics``); pyqtgraph only thins what it draws (peak downsampling
to the plot's width), so zooming in shows the real points. (Clipping to the view is not used:
with the view growing as points arrive, curves were left drawn to an old range.) Smoothing is extended incrementally:
a new point costs O(1), not a pass over the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QSlider,
                               QVBoxLayout, QWidget)

from explorer.metrics_store import RunMetrics, Series, debiased_ema

SMOOTHING_DEFAULT = 0.9
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
SERIES_STYLES = (Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine)


def _loss(split: str, key: str) -> bool:
    return key.endswith("_loss")


def _accuracy(split: str, key: str) -> bool:
    return key.endswith("_acc")


@dataclass(frozen=True)
class Panel:
    title: str
    wants: Callable[[str, str], bool]  # (split, key) -> shown in this panel
    log_y: bool = False
    smooth: bool = True  # a schedule (the learning rate) is shown exactly as it is


PANELS = (
    Panel("Loss", _loss),
    Panel("Accuracy", _accuracy),
    Panel("Learning rate", lambda split, key: split == "train" and key == "lr", smooth=False),
    Panel("Grad norm", lambda split, key: split == "train" and key == "grad_norm", log_y=True),
    Panel("Throughput (sequences/s)", lambda split, key: split == "train" and key == "seq_per_s"),
)


class _Curve:
    """One series of one run in one plot: a faint raw line and a smoothed line over it."""

    def __init__(self, plot: pg.PlotItem, series: Series, label: str, colour: str, style,
                 smooth: bool = True):
        self.series, self.smoothed = series, smooth
        raw_colour = pg.mkColor(colour)
        raw_colour.setAlpha(70)
        self.raw = plot.plot(pen=pg.mkPen(raw_colour, width=1))
        self.smooth = plot.plot(pen=pg.mkPen(colour, width=2, style=style), name=label)
        for item in (self.raw, self.smooth):
            item.setDownsampling(auto=True, method="peak")
        self._drawn = -1  # series size last drawn
        self._version = -1
        self._beta = -1.0
        self._ema = np.empty(0)

    def update(self, beta: float) -> None:
        beta = beta if self.smoothed else 0.0
        s = self.series
        if (s.size, s.version, beta) == (self._drawn, self._version, self._beta):
            return
        steps, values = s.steps, s.values
        if s.version == self._version and beta == self._beta and 0 < len(self._ema) <= s.size:
            self._ema = debiased_ema(values, beta, start=len(self._ema),
                                     previous=self._ema)  # only the new points
        else:
            self._ema = debiased_ema(values, beta)
        self.raw.setData(steps, values)
        self.raw.setVisible(beta > 0)
        self.smooth.setData(steps, self._ema)
        self._drawn, self._version, self._beta = s.size, s.version, beta


class MetricPlots(QWidget):
    """Five plots for the selected runs; ``set_runs`` picks the runs, ``refresh`` redraws."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="w", foreground="#333")
        self.plots: dict[str, pg.PlotItem] = {}
        grid = QGridLayout()
        grid.setSpacing(4)
        self.graphics = []
        for i, panel in enumerate(PANELS):
            widget = pg.PlotWidget()
            widget.setMinimumHeight(120)
            widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)  # equal rows
            plot = widget.getPlotItem()
            plot.setTitle(panel.title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("bottom", "step")
            plot.addLegend(offset=(-4, 4), labelTextSize="8pt", verSpacing=-6)
            plot.setLogMode(y=panel.log_y)
            self.plots[panel.title] = plot
            self.graphics.append(widget)
            grid.addWidget(widget, i // 2, i % 2)
        self.grid = grid
        for row in range((len(PANELS) + 2) // 2):
            grid.setRowStretch(row, 1)
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 999)
        self.smoothing.setValue(int(SMOOTHING_DEFAULT * 1000))
        self.smoothing.setToolTip("Exponential moving average with bias correction; 0 = raw")
        self.smoothing_label = QLabel()
        self.smoothing.valueChanged.connect(self._on_smoothing)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smoothing, 1)
        bar.addWidget(self.smoothing_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(grid, 1)
        self._runs: list[tuple[str, RunMetrics]] = []
        self._curves: dict[tuple[int, str, str, str], _Curve] = {}  # run, panel, split, key
        self._on_smoothing(self.smoothing.value())

    @property
    def beta(self) -> float:
        return self.smoothing.value() / 1000.0

    def set_runs(self, runs: list[tuple[str, RunMetrics]]) -> None:
        """Show these runs (name, metrics), overlaid; curves are rebuilt."""
        if [(n, id(m)) for n, m in runs] == [(n, id(m)) for n, m in self._runs]:
            return
        for plot in self.plots.values():
            plot.clear()
            if plot.legend is not None:
                plot.legend.clear()
        self._curves.clear()
        self._runs = list(runs)
        self.refresh()

    def refresh(self) -> None:
        """Add curves for series that appeared and redraw the ones that grew."""
        several = len(self._runs) > 1
        for r, (name, metrics) in enumerate(self._runs):
            for (split, key), series in sorted(metrics.series.items()):
                for panel in PANELS:
                    if not panel.wants(split, key):
                        continue
                    ident = (r, panel.title, split, key)
                    curve = self._curves.get(ident)
                    if curve is None:
                        curve = self._add_curve(ident, series, name, several)
                    curve.update(self.beta)

    def _add_curve(self, ident, series: Series, run_name: str, several: bool) -> _Curve:
        r, title, split, key = ident
        index = sum(1 for c in self._curves if c[0] == r and c[1] == title)
        label = key if split == "train" else f"{split} {key}"
        if several:
            colour, style = RUN_COLOURS[r % len(RUN_COLOURS)], SERIES_STYLES[index % 4]
            label = f"{run_name}: {label}"
        else:
            colour, style = RUN_COLOURS[index % len(RUN_COLOURS)], Qt.SolidLine
        panel = next(p for p in PANELS if p.title == title)
        curve = _Curve(self.plots[title], series, label, colour, style, panel.smooth)
        self._curves[ident] = curve
        return curve

    def add_to_free_cell(self, widget: QWidget) -> None:
        """Put a widget in the grid cell after the last plot (the monitor's entropy map)."""
        n = len(PANELS)
        widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
        self.grid.addWidget(widget, n // 2, n % 2)

    def point_counts(self) -> dict[tuple[str, str, str], int]:
        """Points drawn per (run name, split, key): what a test or a status line can check."""
        return {(self._runs[r][0], split, key): c._drawn
                for (r, _title, split, key), c in self._curves.items()}

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 1000:.3f}")
        self.refresh()
