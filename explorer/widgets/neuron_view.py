"""bertviz's neuron view for the selected head and query token (``engine.lab.neuron``): the
query vector on top, then one row per key token: its key vector, the elementwise product
query x key, the scaled dot product (the sum of that product / sqrt(D)) and the softmax bar,
which is the head's attention row. Vectors are drawn as cells, red positive and blue negative,
each block scaled by its largest magnitude."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from explorer.widgets.token_axis import elide

ROW = 15          # pixels per key row
CELL = 4          # pixels per vector component
TOKEN_W = 80
SCORE_W = 52
BAR_W = 80
GAP = 10
POSITIVE = QColor("#c0392b")
NEGATIVE = QColor("#2e6bb0")
BAR = QColor("#3b78b8")


def cell_colour(value: float, scale: float) -> QColor:
    colour = QColor(POSITIVE if value >= 0 else NEGATIVE)
    colour.setAlphaF(min(abs(value) / scale, 1.0) if scale > 0 else 0.0)
    return colour


class NeuronCanvas(QWidget):
    """The painted rows of one ``NeuronView`` (``view``), or nothing."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = None

    def set_view(self, view) -> None:
        self.view = view
        self.updateGeometry()
        self.update()

    def _width(self) -> int:
        d = 0 if self.view is None else self.view.query.shape[0]
        return TOKEN_W + 2 * (d * CELL + GAP) + SCORE_W + BAR_W + GAP

    def sizeHint(self) -> QSize:
        rows = 0 if self.view is None else len(self.view.tokens) + 2
        return QSize(self._width(), rows * ROW + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def _cells(self, painter: QPainter, x: float, y: float, values: np.ndarray,
               scale: float) -> None:
        for i, value in enumerate(values):
            painter.fillRect(QRectF(x + i * CELL, y + 1, CELL - 1, ROW - 2),
                             cell_colour(float(value), scale))

    def paintEvent(self, event) -> None:
        view = self.view
        if view is None:
            return
        painter = QPainter(self)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        dim = self.palette().color(QPalette.ColorRole.PlaceholderText)
        fm = QFontMetrics(self.font())
        d = view.query.shape[0]
        block = d * CELL + GAP
        keys_x, product_x = TOKEN_W, TOKEN_W + block
        score_x = product_x + block
        bar_x = score_x + SCORE_W
        left = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        right = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
        painter.setPen(dim)
        for x, label in ((keys_x, "key k"), (product_x, "q × k"), (score_x, "q·k/√D"),
                         (bar_x, "softmax")):
            painter.drawText(QRectF(x, 0, block, ROW), left, label)
        painter.setPen(text)
        query_token = view.tokens[view.query_position]
        painter.drawText(QRectF(0, ROW, TOKEN_W - 4, ROW), right, f"q: {elide(query_token, 10)}")
        self._cells(painter, keys_x, ROW, view.query, float(np.abs(view.query).max()))
        key_scale = float(np.abs(view.keys).max())
        product_scale = float(np.abs(view.products).max())
        for j, token in enumerate(view.tokens):
            y = (j + 2) * ROW
            painter.setPen(text if j != view.query_position else BAR)
            painter.drawText(QRectF(0, y, TOKEN_W - 4, ROW), right,
                             fm.elidedText(token, Qt.TextElideMode.ElideRight, TOKEN_W - 6))
            self._cells(painter, keys_x, y, view.keys[j], key_scale)
            self._cells(painter, product_x, y, view.products[j], product_scale)
            painter.setPen(text)
            painter.drawText(QRectF(score_x, y, SCORE_W - 6, ROW), right,
                             f"{float(view.scores[j]):.2f}")
            prob = float(view.probs[j])
            painter.fillRect(QRectF(bar_x, y + 3, max(BAR_W * prob, 1.0), ROW - 6), BAR)
            painter.setPen(dim)
            painter.drawText(QRectF(bar_x, y, BAR_W, ROW), right, f"{prob:.2f}")
        painter.end()


class NeuronPanel(QWidget):
    """Public: ``title``, ``canvas`` (its ``view`` is the NeuronView shown), ``show_view``,
    ``show_message``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Neuron view: pick a head and click a query token")
        self.title.setWordWrap(True)
        self.canvas = NeuronCanvas()
        scroll = QScrollArea()
        scroll.setWidget(self.canvas)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)

    def show_message(self, text: str) -> None:
        self.title.setText(text)
        self.canvas.set_view(None)

    def show_view(self, view) -> None:
        token = view.tokens[view.query_position]
        self.title.setText(f"Neuron view: head {view.layer}:{view.head}, query {token!r} "
                           f"(position {view.query_position}); D = {view.query.shape[0]}")
        self.canvas.set_view(view)
