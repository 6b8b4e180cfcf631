"""The Dataset window: a file of examples run through the loaded model (in the inference
thread, cancellable, with progress), the table of examples (sortable, filtered by text), the
file's metrics and slices, and an embedding projector: PCA of the [CLS] or mean-pooled hidden
state at a layer, coloured by label, prediction or correctness. Selecting points filters the
table (and clearing the selection shows every row again); selecting rows highlights their
points; double-clicking a row opens the example in the main window. No torch here."""

from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QSpinBox, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from engine import atomic
from engine.lab.projection import PCA
from engine.results_dataset import DatasetRun
from explorer.inference_worker import RunDataset

COLUMNS = ("#", "text A", "text B", "tokens", "label", "prediction", "prob", "correct", "loss")
PALETTE = ["#4a7fc1", "#e07b39", "#3a9e5c", "#c0392b", "#8e6bbf", "#8c6d31", "#d35fb7",
           "#7f7f7f", "#bcbd22", "#17becf"]


def _cell(value) -> QTableWidgetItem:
    item = QTableWidgetItem()
    if isinstance(value, float):
        item.setData(Qt.DisplayRole, round(value, 4))  # sorts as a number
    elif isinstance(value, int) and not isinstance(value, bool):
        item.setData(Qt.DisplayRole, value)
    else:
        item.setText("" if value is None else str(value))
    return item


class DatasetWindow(QWidget):
    sig_open_example = Signal(str, str)  # text A, text B, for the main window

    def __init__(self, worker, parent: QWidget | None = None):
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("Dataset — BERT Explorer")
        self.worker = worker
        self.run: DatasetRun | None = None
        self._seq = 0
        self._shown_rows: set[int] | None = None  # examples the projector selected; None: all
        self.open_button = QPushButton("Open file…")
        self.cancel_button = QPushButton("Cancel")
        self.export_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Projection as PNG…")
        self.all_button = QPushButton("All rows")
        self.progress = QProgressBar()
        self.filter = QLineEdit(placeholderText="filter by text, label or prediction")
        self.layer = QSpinBox()
        self.pooling = QComboBox()
        self.pooling.addItems(["cls", "mean"])
        self.colour = QComboBox()
        self.colour.addItems(["label", "prediction", "correct"])
        self.metrics = QLabel()
        self.metrics.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "PC 1")
        self.plot.setLabel("left", "PC 2")
        self.scatter = pg.ScatterPlotItem(size=8, hoverable=True,  # hover: the example's text
                                          tip=lambda x, y, data: self._tip(data))
        self.plot.addItem(self.scatter)
        self.points = np.zeros((0, 2))
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.RichText)

        bar = QHBoxLayout()
        for w in (self.open_button, self.cancel_button, self.progress, self.filter,
                  QLabel("layer"), self.layer, self.pooling, QLabel("colour by"), self.colour,
                  self.all_button, self.export_button, self.png_button):
            bar.addWidget(w)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.metrics)
        column.addWidget(self.table, 1)
        right = QWidget()
        plot_column = QVBoxLayout(right)
        plot_column.setContentsMargins(0, 0, 0, 0)
        plot_column.addWidget(self.plot, 1)
        plot_column.addWidget(self.legend)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([650, 650])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.open_button.clicked.connect(self.choose_file)
        self.cancel_button.clicked.connect(worker.cancel_dataset)
        self.export_button.clicked.connect(self.export_csv)
        self.png_button.clicked.connect(self.export_png)
        self.all_button.clicked.connect(lambda: self.select_points([]))
        self.filter.textChanged.connect(lambda _t: self._apply_filter())
        self.layer.valueChanged.connect(lambda _v: self._project())
        self.pooling.currentTextChanged.connect(lambda _t: self._project())
        self.colour.currentTextChanged.connect(lambda _t: self._project())
        self.table.itemSelectionChanged.connect(self._highlight_selected)
        self.table.cellDoubleClicked.connect(self._open_row)
        self.scatter.sigClicked.connect(self._points_clicked)
        worker.sig_dataset_ready.connect(self._on_ready)
        worker.sig_dataset_failed.connect(self._on_failed)
        worker.sig_dataset_progress.connect(self._on_progress)
        self.resize(1300, 760)

    # ----- running -----

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Run a dataset file", "",
                                              "Examples (*.jsonl *.csv *.tsv *.txt)")
        if path:
            self.start(path)

    def start(self, path: str, text_a: str = "text", text_b: str | None = "text_b") -> None:
        self._seq += 1
        self.progress.setValue(0)
        self.metrics.setText(f"running {path}…")
        self.worker.submit(RunDataset(self._seq, path, text_a, text_b))

    def _on_progress(self, seq: int, done: int, total: int) -> None:
        if seq == self._seq:
            self.progress.setMaximum(total)
            self.progress.setValue(done)

    def _on_failed(self, seq: int, message: str) -> None:
        if seq == self._seq:
            self.metrics.setText(message)

    def _on_ready(self, seq: int, run: DatasetRun) -> None:
        if seq != self._seq:
            return
        self.run = run
        self._shown_rows = None
        head = (f"{len(run.examples)} examples ({run.kind}) in {run.seconds:.1f} s"
                + (" — cancelled" if run.cancelled else ""))
        metrics = "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in run.metrics.items())
        slices = "; ".join(f"{s.kind} {s.value}: {s.count}"
                           + (f", acc {s.accuracy:.3f}" if s.accuracy is not None else "")
                           for s in run.slices)
        self.metrics.setText(f"<b>{head}</b><br>{metrics}<br>{slices}")
        self._fill_table()
        self.layer.setRange(0, max(0, run.embeddings["cls"].shape[1] - 1))
        self.layer.setValue(self.layer.maximum())
        self._project()

    # ----- table -----

    def _fill_table(self) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.run.examples))
        for row, e in enumerate(self.run.examples):
            values = (e.index, e.text_a, e.text_b, e.tokens, e.label,
                      e.prediction if e.prediction is not None else _fill_text(e),
                      e.probability if e.probability is not None else e.nsp_is_next,
                      e.correct, e.loss)
            for col, value in enumerate(values):
                self.table.setItem(row, col, _cell(value))
        self.table.setSortingEnabled(True)
        self._apply_filter()

    def _row_example(self, row: int) -> int:
        return int(self.table.item(row, 0).data(Qt.DisplayRole))

    def _apply_filter(self) -> None:
        text = self.filter.text().lower()
        for row in range(self.table.rowCount()):
            example = self._row_example(row)
            cells = " ".join(self.table.item(row, c).text().lower() for c in (1, 2, 4, 5, 7))
            visible = (text in cells and (self._shown_rows is None
                                          or example in self._shown_rows))
            self.table.setRowHidden(row, not visible)

    def visible_examples(self) -> list[int]:
        return sorted(self._row_example(r) for r in range(self.table.rowCount())
                      if not self.table.isRowHidden(r))

    def _open_row(self, row: int, _column: int) -> None:
        e = self.run.examples[self._row_example(row)]
        self.sig_open_example.emit(e.text_a, e.text_b or "")

    # ----- projector -----

    def _project(self) -> None:
        if self.run is None or len(self.run.examples) < 2:
            return
        vectors = self.run.embeddings[self.pooling.currentText()][:, self.layer.value()]
        pca = PCA.fit(vectors, k=2)
        self.points = pca.transform(vectors)
        if self.points.shape[1] < 2:
            self.points = np.c_[self.points, np.zeros(len(self.points))]
        ratio = pca.explained_ratio
        self.plot.setLabel("bottom", f"PC 1 ({ratio[0]:.0%})")
        self.plot.setLabel("left", f"PC 2 ({ratio[1]:.0%})" if len(ratio) > 1 else "PC 2")
        self._draw()

    def _colours(self) -> list[str]:
        """Each point's colour by the chosen field; the legend says which is which."""
        key = self.colour.currentText()
        values = [str(getattr(e, key)) for e in self.run.examples]
        names = sorted(set(values))
        self.legend.setText(f"{key}: " + "&nbsp; ".join(
            f"<span style='color:{PALETTE[i % len(PALETTE)]}'>&#9679;</span> {escape(n)}"
            for i, n in enumerate(names)))
        return [PALETTE[names.index(v) % len(PALETTE)] for v in values]

    def _draw(self, highlighted: set[int] = frozenset()) -> None:
        colours = self._colours()
        spots = [{"pos": tuple(p), "data": i, "brush": pg.mkBrush(colours[i]),
                  "size": 13 if i in highlighted else 8,
                  "pen": pg.mkPen("k" if i in highlighted else None)}
                 for i, p in enumerate(self.points)]
        self.scatter.setData(spots)

    def _tip(self, index: int) -> str:
        e = self.run.examples[index]
        return e.text_a + (f"\n{e.text_b}" if e.text_b else "")

    def select_points(self, indices) -> None:
        """Show only these examples in the table (the projector's selection); none: all."""
        self._shown_rows = set(indices) or None
        self._apply_filter()

    def _points_clicked(self, _item, points, *_rest) -> None:
        self.select_points(int(p.data()) for p in points)

    def _highlight_selected(self) -> None:
        rows = {self._row_example(i.row()) for i in self.table.selectedItems()}
        self._draw(rows)

    # ----- export -----

    def export_csv(self) -> None:
        if self.run is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the table", "examples.csv",
                                              "CSV (*.csv)")
        if path:
            atomic.write_text(path, self.run.to_csv())

    def export_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the projection", "projection.png",
                                              "PNG (*.png)")
        if path:
            self.plot.grab().save(path)


def _fill_text(e) -> str | None:
    if not e.fill_mask:
        return None
    return " | ".join(m[0][0] for m in e.fill_mask)
