"""Layer by layer at the selected [MASK] (the logit lens, ``engine.lab.lens``): one row per
layer, the embeddings first, with the rank and probability there of the model's final answer
and that layer's top-5 candidates, each cell shaded by its probability, so the row where the
answer first comes up is the first one whose rank column reads 1."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from explorer.text_edits import format_percent

SHADE = QColor("#3b78b8")
FIXED_COLUMNS = ("rank", "p", "KL")  # of the final answer, then the top candidates


def layer_name(layer: int) -> str:
    return "emb" if layer == 0 else f"layer {layer}"


def shade(prob: float) -> QColor:
    colour = QColor(SHADE)
    colour.setAlphaF(0.08 + 0.72 * min(max(prob, 0.0), 1.0))
    return colour


class LensView(QWidget):
    """Public: ``table`` (rows: layers, embeddings first), ``title``, ``lens`` (the LogitLens
    shown), ``show_lens``, ``show_message``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lens = None
        self.title = QLabel("Layer by layer: type [MASK] to see where its answer appears")
        self.title.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)

    def show_message(self, text: str) -> None:
        self.lens = None
        self.title.setText(text)
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)

    def show_lens(self, lens) -> None:
        self.lens = lens
        final = lens.final_token
        top_k = max(len(x.tokens) for x in lens.layers)
        first = next((x.layer for x in lens.layers if x.final_rank == 1), None)
        self.title.setText(
            f"Layer by layer at {lens.tokens[lens.position]} (position {lens.position}): the "
            f"final answer {final!r} " + (f"is first on top at {layer_name(first)}"
                                          if first is not None else "is never on top"))
        self.table.clear()
        self.table.setRowCount(len(lens.layers))
        self.table.setColumnCount(len(FIXED_COLUMNS) + top_k)
        self.table.setHorizontalHeaderLabels(["rank", "p", "KL"]
                                             + [f"top {i + 1}" for i in range(top_k)])
        for col, tip in enumerate((f"rank of the final answer {final!r} at this layer",
                                   f"probability of {final!r} at this layer",
                                   "KL(final || this layer), nats")):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        header = self.table.horizontalHeader()
        for col in range(len(FIXED_COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setVerticalHeaderLabels([layer_name(x.layer) for x in lens.layers])
        bold = QFont(self.font())
        bold.setBold(True)
        for row, layer in enumerate(lens.layers):
            rank = QTableWidgetItem(str(layer.final_rank))
            rank.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if layer.final_rank == 1:
                rank.setFont(bold)
            prob = QTableWidgetItem(format_percent(layer.final_prob))
            prob.setBackground(shade(layer.final_prob))
            kl = QTableWidgetItem(f"{layer.kl:.2f}")
            for col, item in enumerate((rank, prob, kl)):
                self.table.setItem(row, col, item)
            for k, (token, p) in enumerate(zip(layer.tokens, layer.probs)):
                item = QTableWidgetItem(f"{token} {float(p):.0%}")  # the full value: tooltip
                item.setBackground(shade(float(p)))
                item.setToolTip(f"{layer_name(layer.layer)}: {token} {format_percent(float(p))}")
                if token == final:
                    item.setFont(bold)
                self.table.setItem(row, len(FIXED_COLUMNS) + k, item)
