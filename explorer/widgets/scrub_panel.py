"""Scrub checkpoints: a step slider over a run's kept checkpoints, the per-head divergence of
the chosen checkpoint from the one before it, and a small curve of the selected head's
divergence (from the previous checkpoint or from the first) against step. The panel only
draws; ``explorer.scrub_controller`` loads the checkpoints and reads the series."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton,
                               QVBoxLayout, QWidget)

from engine.results import SeriesPoint
from explorer.state import MEAN_HEAD, ExplorerState
from explorer.widgets.divergence_map import DivergenceMap

# What the curve plots for the selected head: name -> (menu text, the point's comparison).
MEASURES = {"previous": "divergence from the previous checkpoint",
            "first": "divergence from the first checkpoint"}
CURVE_COLOUR = "#3b78b8"
MAX_HEIGHT = 330


def measure_of(point: SeriesPoint, measure: str, layer: int, head: int) -> float:
    """The selected head's (or, for the mean, the layer's mean) divergence at a point; at the
    first checkpoint there is nothing before it: 0."""
    comparison = point.from_previous if measure == "previous" else point.from_first
    if comparison is None:
        return 0.0
    js = comparison.js_divergence  # [L, N]
    return float(js[layer].mean() if head == MEAN_HEAD else js[layer, head])


class ScrubPanel(QWidget):
    sig_step_chosen = Signal(int)   # a kept step
    sig_close = Signal()

    def __init__(self, state: ExplorerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.steps: list[int] = []
        self.points: dict[int, SeriesPoint] = {}
        self.title = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.close_button = QToolButton()
        self.close_button.setText("Stop scrubbing")
        self.close_button.clicked.connect(self.sig_close)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setPageStep(1)
        self.slider.valueChanged.connect(self._on_slider)
        self.step_label = QLabel()
        self.divergence = DivergenceMap("The divergence from the previous checkpoint shows "
                                        "once that point of the series is read")
        self.divergence.sig_head_clicked.connect(
            lambda layer, head: state.set_selection(layer=layer, head=head))
        self.measure = QComboBox()
        for name, text in MEASURES.items():
            self.measure.addItem(text, name)
        self.measure.currentIndexChanged.connect(lambda _index: self._draw_curve())
        self.curve_view = pg.PlotWidget()
        self.curve_view.setMinimumSize(260, 160)
        self.curve_view.setLabel("bottom", "step")
        self.curve_view.setLabel("left", "JS (nats)")
        self.curve_view.hideButtons()
        self.curve_view.setMenuEnabled(False)
        self.curve = self.curve_view.plot([], [], pen=pg.mkPen(CURVE_COLOUR, width=2),
                                          symbol="o", symbolSize=6, symbolBrush=CURVE_COLOUR)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff3b3b", width=1))
        self.curve_view.addItem(self.marker)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.close_button)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Step"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.step_label)
        curve_column = QVBoxLayout()
        curve_column.addWidget(self.measure)
        curve_column.addWidget(self.curve_view, 1)
        views = QHBoxLayout()
        views.addWidget(self.divergence, 2)
        views.addLayout(curve_column, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(slider_row)
        layout.addLayout(views, 1)
        layout.addWidget(self.status)
        self.setMaximumHeight(MAX_HEIGHT)  # the views above keep most of the window
        state.sig_selection_changed.connect(lambda *_args: self._on_selection())

    # ----- fed by the controller -----

    def set_run(self, name: str, steps: list[int], step: int) -> None:
        """A run's kept steps, the slider at ``step``; the series is read afresh."""
        self.title.setText(f"<b>Scrubbing {name}</b>: {len(steps)} checkpoints")
        self.steps = list(steps)
        self.points = {}
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(steps) - 1))
        self.slider.setValue(self.steps.index(step))
        self.slider.blockSignals(False)
        self._show_step()

    def clear_points(self) -> None:
        """The texts changed: the series is being read again for them."""
        self.points = {}
        self._show_step()

    def add_point(self, point: SeriesPoint, done: int, total: int) -> None:
        self.points[point.step] = point
        self.status.setText(f"reading the series: {done} of {total} checkpoints")
        self._show_step()

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    @property
    def step(self) -> int | None:
        return self.steps[self.slider.value()] if self.steps else None

    def choose_step(self, step: int) -> None:
        """Move the slider to ``step`` (as the user would)."""
        self.slider.setValue(self.steps.index(step))

    # ----- drawing -----

    def _on_slider(self, _value: int) -> None:
        self._show_step()
        self.sig_step_chosen.emit(self.step)

    def _show_step(self) -> None:
        step = self.step
        if step is None:
            return
        index = self.steps.index(step)
        self.step_label.setText(f"{step}  ({index + 1} of {len(self.steps)})")
        point = self.points.get(step)
        if point is None or point.from_previous is None:
            self.divergence.set_values(None)
            if point is not None:
                self.divergence.readout.setText(f"Step {step} is the first checkpoint kept: "
                                                "nothing before it to differ from")
        else:
            self.divergence.set_values(point.from_previous.js_divergence,
                                       f"step {self.steps[index - 1]} → {step}")
        self._on_selection()
        self.marker.setValue(step)

    def _on_selection(self) -> None:
        head = self.state.head
        self.divergence.select(self.state.layer, None if head == MEAN_HEAD else head)
        self._draw_curve()

    def curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the curve: the points read so far, in step order."""
        measure = self.measure.currentData()
        steps = [s for s in self.steps if s in self.points]
        layers = (next(iter(self.points.values())).from_first.js_divergence.shape[0]
                  if self.points else 0)
        layer = min(self.state.layer, max(layers - 1, 0))
        values = [measure_of(self.points[s], measure, layer, self.state.head) for s in steps]
        return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)

    def _draw_curve(self) -> None:
        steps, values = self.curve_data()
        self.curve.setData(steps, values)
        head = self.state.head
        which = "mean of its heads" if head == MEAN_HEAD else f"head {head}"
        self.curve_view.setTitle(f"layer {self.state.layer}, {which}", size="9pt")
