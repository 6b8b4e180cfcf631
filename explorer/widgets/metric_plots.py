"""Live training curves: losses, accuracies, learning rate, grad norm and throughput of one or
more runs, raw and smoothed (debiased EMA, slider), at full resolution. A fine-tuning run gets
its own layout, generic over metric names: its held-out main metric on a wide plot with the
best value marked, the other held-out metrics (whatever the task writes) beside its losses.

Every point is kept (``RunMetrics``); pyqtgraph only thins what it draws (peak downsampling
to the plot's width), so zooming in shows the real points. (Clipping to the view is not used:
with the view growing as points arrive, curves were left drawn to an old range.) Smoothing is extended incrementally:
a new point costs O(1), not a pass over the history.

x is the step, the time since the run's first record or the clock time (the records' own
times); each plot has its own log/linear y; legends sit under their plot (never over a curve)
and can be hidden; each plot saves as a PNG at twice its size on screen.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QGridLayout, QHBoxLayout, QLabel, QMenu,
                               QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget)

from explorer.metrics_store import RunMetrics, Series, debiased_ema
from explorer.widgets.plot_axes import X_AXES, X_STEP, LogAxis, bottom_axis, x_values

SMOOTHING_DEFAULT = 0.9
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
SERIES_STYLES = (Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine)
STYLE_MARKS = {Qt.SolidLine: "━━", Qt.DashLine: "╍╍", Qt.DotLine: "┉┉", Qt.DashDotLine: "━╍"}
PNG_SCALE = 2
SERIES_COLOUR = "#555"  # a series' legend entry when each run has its own colour


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
    wide: bool = False   # takes a whole row of the grid


@dataclass(frozen=True)
class Layout:
    panels: tuple[Panel, ...]
    main_metric: str | None = None  # fine-tuning: the first panel's metric, best value marked
    heldout_points: bool = False    # held-out series (one point per evaluation): raw, with dots


SCHEDULE_PANELS = (
    Panel("Learning rate", lambda split, key: split == "train" and key == "lr", smooth=False),
    Panel("Grad norm", lambda split, key: split == "train" and key == "grad_norm", log_y=True),
    Panel("Throughput (sequences/s)", lambda split, key: split == "train" and key == "seq_per_s"),
)
# Held-out figures are a few evaluations, not a noisy stream: drawn as they are, one dot each.
PRETRAINING = Layout((Panel("Loss", _loss), Panel("Accuracy", _accuracy), *SCHEDULE_PANELS),
                     heldout_points=True)
NOT_METRICS = ("eval_loss", "examples")  # in held-out records: a loss (Loss panel), a count


def finetuning_layout(main_metric: str) -> Layout:
    """The held-out main metric across the top, then the losses (train ``*_loss`` and held-out
    ``eval_loss``), every other held-out metric the task writes, the training accuracy, and the
    schedule and speed."""
    def evaluation(split: str, key: str) -> bool:
        return split == "heldout" and key not in NOT_METRICS

    return Layout((
        Panel(f"Held-out {main_metric} (picks the best checkpoint)",
              lambda split, key: evaluation(split, key) and key == main_metric, wide=True),
        Panel("Loss", _loss),
        Panel("Other held-out metrics",
              lambda split, key: evaluation(split, key) and key != main_metric),
        Panel("Training accuracy", lambda split, key: split == "train" and _accuracy(split, key)),
        *SCHEDULE_PANELS), main_metric=main_metric, heldout_points=True)


class _Curve:
    """One series of one run in one plot: a faint raw line and a smoothed line over it."""

    def __init__(self, plot: pg.PlotItem, series: Series, metrics: RunMetrics, label: str,
                 colour: str, style, smooth: bool = True, dots: bool = False):
        self.series, self.metrics, self.smoothed = series, metrics, smooth
        self.label, self.colour, self.style, self.dots = label, colour, style, dots
        raw_colour = pg.mkColor(colour)
        raw_colour.setAlpha(70)
        self.raw = plot.plot(pen=pg.mkPen(raw_colour, width=1))
        marks = dict(symbol="o", symbolSize=6, symbolBrush=colour, symbolPen=None) if dots else {}
        self.smooth = plot.plot(pen=pg.mkPen(colour, width=2, style=style), **marks)
        for item in (self.raw, self.smooth):
            item.setDownsampling(auto=True, method="peak")
        self._drawn = -1  # series size last drawn
        self._version = -1
        self._beta = -1.0
        self._ema = np.empty(0)

    def update(self, beta: float, x_axis: str) -> None:
        beta = beta if self.smoothed else 0.0
        s = self.series
        if (s.size, s.version, beta) == (self._drawn, self._version, self._beta):
            return
        values = s.values
        if s.version == self._version and beta == self._beta and 0 < len(self._ema) <= s.size:
            self._ema = debiased_ema(values, beta, start=len(self._ema),
                                     previous=self._ema)  # only the new points
        else:
            self._ema = debiased_ema(values, beta)
        x = x_values(x_axis, s.steps, s.times, self.metrics.first_time)
        self.raw.setData(x, values)
        self.raw.setVisible(beta > 0)
        self.smooth.setData(x, self._ema)
        self._drawn, self._version, self._beta = s.size, s.version, beta

    def legend_html(self, colour: str | None = None) -> str:
        mark = STYLE_MARKS.get(self.style, "━━") + ("●" if self.dots else "")
        return (f"<span style='color:{colour or self.colour}'>{mark}</span>"
                f"&nbsp;{html.escape(self.label)}")


class MetricPlots(QWidget):
    """Plots for the selected runs; ``set_runs`` picks the runs (and the layout: pretraining, or
    fine-tuning around a main metric), ``refresh`` redraws."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False, background="w", foreground="#333")
        self.plots: dict[str, pg.PlotItem] = {}
        self.graphics: list[pg.PlotWidget] = []
        self.legend_labels: dict[str, QLabel] = {}  # under each plot, by its title
        self._cell_widgets: list[QWidget] = []  # a plot and its legend
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self._free_widget: QWidget | None = None  # goes in the cell after the last plot
        self._cells = 0  # grid cells the plots take
        self.current_layout: Layout | None = None
        self.best_marks: pg.ScatterPlotItem | None = None  # on the main metric's plot
        self._best: list[dict | None] = []
        self._log_y: dict[str, bool] = {}  # the user's choice per plot title, over the panel's
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 999)
        self.smoothing.setValue(int(SMOOTHING_DEFAULT * 1000))
        self.smoothing.setToolTip("Exponential moving average with bias correction; 0 = raw")
        self.smoothing_label = QLabel()
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.x_axis = QComboBox()
        for mode, text in X_AXES.items():
            self.x_axis.addItem(text, mode)
        self.x_axis.setToolTip("x: the step, the time since the run's first record, or the "
                               "clock time of each record")
        self.x_axis.currentIndexChanged.connect(self._on_x_axis)
        self.log_menu = QMenu(self)
        log_button = QToolButton()
        log_button.setText("Log y")
        log_button.setToolTip("A log or linear y axis for each plot")
        log_button.setPopupMode(QToolButton.InstantPopup)
        log_button.setMenu(self.log_menu)
        self.run_legend = QLabel()  # with several runs: each run's colour
        self.run_legend.setStyleSheet("font-size: 8pt")
        self.legends = QCheckBox("Legends")
        self.legends.setChecked(True)
        self.legends.toggled.connect(self._show_legends)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Smoothing"))
        bar.addWidget(self.smoothing, 1)
        bar.addWidget(self.smoothing_label)
        bar.addWidget(QLabel("x"))
        bar.addWidget(self.x_axis)
        bar.addWidget(log_button)
        bar.addWidget(self.legends)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.run_legend)
        layout.addLayout(self.grid, 1)
        self._runs: list[tuple[str, RunMetrics]] = []
        self._curves: dict[tuple[int, str, str, str], _Curve] = {}  # run, panel, split, key
        self._build(PRETRAINING)
        self._on_smoothing(self.smoothing.value())

    @property
    def x_mode(self) -> str:
        return self.x_axis.currentData()

    def set_x_axis(self, mode: str) -> None:
        """x as ``step``, ``relative`` (time since the run's first record) or ``absolute``."""
        self.x_axis.setCurrentIndex(self.x_axis.findData(mode))

    def log_y(self, title: str) -> bool:
        panel = next(p for p in self.current_layout.panels if p.title == title)
        return self._log_y.get(title, panel.log_y)

    def set_log_y(self, title: str, on: bool) -> None:
        self._log_y[title] = on
        self.plots[title].setLogMode(y=on)
        for act in self.log_menu.actions():
            if act.text() == title and act.isChecked() != on:
                act.setChecked(on)

    def _build(self, layout: Layout) -> None:
        """Plot widgets for the layout's panels, replacing any others."""
        for widget in self._cell_widgets:
            self.grid.removeWidget(widget)
            widget.hide()  # until deleted, it would still paint where it was
            widget.deleteLater()
        self._cell_widgets.clear()
        self.graphics.clear()
        self.plots.clear()
        self.legend_labels.clear()
        self._curves.clear()
        self.log_menu.clear()
        for row in range(self.grid.rowCount()):
            self.grid.setRowStretch(row, 0)
        self.current_layout = layout
        cell = 0  # grid cells of two columns, row-major
        for panel in layout.panels:  # a wide panel comes first (or after another wide one)
            widget = pg.PlotWidget(axisItems={"left": LogAxis("left"),
                                              "bottom": bottom_axis(self.x_mode)})
            widget.setMinimumHeight(100)
            plot = widget.getPlotItem()
            plot.setTitle(panel.title, size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            self.plots[panel.title] = plot
            self.set_log_y(panel.title, self._log_y.get(panel.title, panel.log_y))
            act = QAction(panel.title, self.log_menu, checkable=True)
            act.setChecked(self.log_y(panel.title))
            act.toggled.connect(lambda on, title=panel.title: self.set_log_y(title, on))
            self.log_menu.addAction(act)
            legend = QLabel()
            legend.setWordWrap(True)
            legend.setStyleSheet("font-size: 8pt")
            legend.setVisible(self.legends.isChecked())
            self.legend_labels[panel.title] = legend
            holder = QWidget()
            holder.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)  # equal rows
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(widget, 1)
            column.addWidget(legend)
            self.graphics.append(widget)
            self._cell_widgets.append(holder)
            self.grid.addWidget(holder, cell // 2, cell % 2, 1, 2 if panel.wide else 1)
            cell += 2 if panel.wide else 1
        self.best_marks = None
        if layout.main_metric is not None:
            self.best_marks = pg.ScatterPlotItem(symbol="star", size=16, pen=pg.mkPen("#333"),
                                                 brush=pg.mkBrush("#ffd33d"))
            self.best_marks.setZValue(10)
            self.main_plot.addItem(self.best_marks)
        self._cells = cell
        self._place_free_widget()
        for row in range((cell + 1) // 2):
            self.grid.setRowStretch(row, 1)

    def _place_free_widget(self) -> None:
        widget = self._free_widget
        if widget is None:
            return
        self.grid.removeWidget(widget)
        widget.setVisible(self._cells % 2 == 1)  # a free cell beside the last plot, else none
        if self._cells % 2:
            self.grid.addWidget(widget, self._cells // 2, 1)

    @property
    def main_plot(self) -> pg.PlotItem | None:
        """The fine-tuning main metric's plot (None in the pretraining layout)."""
        if self.current_layout.main_metric is None:
            return None
        return self.plots[self.current_layout.panels[0].title]

    @property
    def beta(self) -> float:
        return self.smoothing.value() / 1000.0

    def set_runs(self, runs: list[tuple[str, RunMetrics]], main_metric: str | None = None) -> None:
        """Show these runs (name, metrics), overlaid; curves are rebuilt. ``main_metric``: the
        runs are fine-tuning runs picking their best checkpoint by this held-out metric."""
        if main_metric != self.current_layout.main_metric:
            self._build(finetuning_layout(main_metric) if main_metric else PRETRAINING)
        elif [(n, id(m)) for n, m in runs] == [(n, id(m)) for n, m in self._runs]:
            return
        self._clear_curves()
        self._runs = list(runs)
        self.refresh()

    def _clear_curves(self) -> None:
        for plot in self.plots.values():
            for item in plot.listDataItems():
                if item is not self.best_marks:
                    plot.removeItem(item)
        for legend in self.legend_labels.values():
            legend.clear()
        self._curves.clear()

    def set_best(self, best: list[dict | None]) -> None:
        """Mark each run's best evaluation so far ({"value", "step"} or None, in run order) on
        the main metric's plot, and name it in the title when one run is shown."""
        self._best = list(best)
        if self.best_marks is None:
            return
        spots = []
        for r, b in enumerate(best):
            x = self._x_at_step(r, b["step"]) if _usable_best(b) else None
            if x is not None:
                spots.append({"pos": (x, b["value"]), "brush": pg.mkBrush(
                    RUN_COLOURS[r % len(RUN_COLOURS)] if len(best) > 1 else "#ffd33d")})
        self.best_marks.setData(spots)
        title = self.current_layout.panels[0].title
        if len(best) == 1 and _usable_best(best[0]):
            title += f" · best {best[0]['value']:.4f} at step {best[0]['step']:,}"
        if self.main_plot.titleLabel.text != title:
            self.main_plot.setTitle(title, size="9pt")

    def _x_at_step(self, run: int, step: int) -> float | None:
        """Where ``step`` of run ``run`` lies on the x axis (its main metric's record time)."""
        if self.x_mode == X_STEP:
            return float(step)
        if run >= len(self._runs):
            return None
        metrics = self._runs[run][1]
        series = metrics.get("heldout", self.current_layout.main_metric)
        if series is None:
            return None
        at = np.flatnonzero(series.steps == step)
        if not len(at):
            return None
        return float(x_values(self.x_mode, series.steps[at[-1:]], series.times[at[-1:]],
                              metrics.first_time)[0])

    def refresh(self) -> None:
        """Add curves for series that appeared and redraw the ones that grew."""
        several = len(self._runs) > 1
        added = set()
        for r, (name, metrics) in enumerate(self._runs):
            for (split, key), series in sorted(metrics.series.items()):
                for panel in self.current_layout.panels:
                    if not panel.wants(split, key):
                        continue
                    ident = (r, panel.title, split, key)
                    curve = self._curves.get(ident)
                    if curve is None:
                        curve = self._add_curve(panel, ident, series, metrics, several)
                        added.add(panel.title)
                    curve.update(self.beta, self.x_mode)
        for title in added:
            self._write_legend(title, several)
        self.run_legend.setVisible(self.legends.isChecked() and several)
        if added:
            self.run_legend.setText(" &nbsp; ".join(
                f"<span style='color:{RUN_COLOURS[r % len(RUN_COLOURS)]}'>■</span>&nbsp;"
                f"{html.escape(name)}" for r, (name, _m) in enumerate(self._runs))
                if several else "")

    def _write_legend(self, title: str, several: bool) -> None:
        """One entry per curve; with several runs (colour = run, named once above the plots)
        one per series, in the line style every run draws it with."""
        entries = {}
        for (_r, t, split, key), curve in self._curves.items():
            if t == title:
                entry = (split, key) if several else len(entries)
                entries.setdefault(entry, curve.legend_html(SERIES_COLOUR if several else None))
        self.legend_labels[title].setText(" &nbsp; ".join(entries.values()))

    def _add_curve(self, panel: Panel, ident, series: Series, metrics: RunMetrics,
                   several: bool) -> _Curve:
        r, title, split, key = ident
        index = sum(1 for c in self._curves if c[0] == r and c[1] == title)
        label = key if split == "train" else f"{split} {key}"
        if several:
            colour, style = RUN_COLOURS[r % len(RUN_COLOURS)], SERIES_STYLES[index % 4]
        else:
            colour, style = RUN_COLOURS[index % len(RUN_COLOURS)], Qt.SolidLine
        dots = self.current_layout.heldout_points and split == "heldout"
        curve = _Curve(self.plots[title], series, metrics, label, colour, style,
                       smooth=panel.smooth and not dots, dots=dots)
        self._curves[ident] = curve
        return curve

    def add_to_free_cell(self, widget: QWidget) -> None:
        """Put a widget in the grid cell after the last plot (the monitor's entropy map); a
        layout with no free cell hides it."""
        widget.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Ignored)
        self._free_widget = widget
        self._place_free_widget()

    def point_counts(self) -> dict[tuple[str, str, str], int]:
        """Points drawn per (run name, split, key): what a test or a status line can check."""
        return {(self._runs[r][0], split, key): c._drawn
                for (r, _title, split, key), c in self._curves.items()}

    def curve_points(self, run_name: str, split: str, key: str) -> tuple[str, list, list]:
        """(plot title, x, values) of a curve as drawn (smoothed where smoothing applies; x
        as the x axis shows it)."""
        for (r, title, s, k), curve in self._curves.items():
            if (self._runs[r][0], s, k) == (run_name, split, key):
                x, values = curve.smooth.getData()
                if self.log_y(title):  # pyqtgraph hands back what it draws: log10 values
                    values = 10.0 ** np.asarray(values)
                return title, list(x), list(values)
        raise KeyError((run_name, split, key))

    def save_pngs(self, folder: str | Path) -> list[Path]:
        """Each plot (with its legend) as ``<title>.png`` in ``folder``, at twice its size on
        screen; returns the files."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for title, holder in zip(self.plots, self._cell_widgets):
            pixmap = QPixmap(holder.size() * PNG_SCALE)
            pixmap.setDevicePixelRatio(PNG_SCALE)
            pixmap.fill(QColor("white"))
            holder.render(pixmap)
            path = folder / f"{_file_name(title)}.png"
            if not pixmap.save(str(path)):
                raise OSError(f"{path}: could not be written")
            files.append(path)
        return files

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 1000:.3f}")
        self.refresh()

    def _on_x_axis(self, _index: int) -> None:
        """New bottom axes, and every curve drawn again against the new x."""
        self._build(self.current_layout)
        self.refresh()
        self.set_best(self._best)

    def _show_legends(self, on: bool) -> None:
        for legend in self.legend_labels.values():
            legend.setVisible(on)
        self.run_legend.setVisible(on and len(self._runs) > 1)


def _file_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title.split(" · ")[0]).strip("-").lower() or "plot"


def _usable_best(best: dict | None) -> bool:
    return bool(best) and all(isinstance(best.get(k), (int, float)) and not isinstance(
        best.get(k), bool) for k in ("value", "step"))
