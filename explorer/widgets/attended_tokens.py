"""AttendedTokens: for the selected query token, the tokens it attends to most — in the
selected head, the layer's mean of heads, or the chosen lab method's map — ranked, with the
weight and the segment. Cells the filter greys out are left out of the ranking."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableWidget, QTableWidgetItem, \
    QVBoxLayout

from explorer.widgets.attention_common import METHOD_NAMES, LazyView, view_maps, visible_mask

TOP_N = 15
SEGMENTS = {0: "A", 1: "B", None: "[CLS]/[SEP]"}
HINT = ("Select a query token (click a row of the map or a token chip, or Alt+Shift+→) to "
        "list the tokens it attends to.")


def attended(row: np.ndarray, kept: np.ndarray, top_n: int = TOP_N) -> list[int]:
    """Key positions of ``row`` [T] by weight, largest first, among the ``kept`` [T] ones."""
    keys = np.flatnonzero(kept)
    return [int(k) for k in keys[np.argsort(-row[keys], kind="stable")][:top_n]]


class AttendedTokens(LazyView):
    COLUMNS = ("#", "token", "position", "segment", "weight")

    def __init__(self, state, parent=None):
        super().__init__(state, parent)
        self.title = QLabel(HINT)
        self.title.setWordWrap(True)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)
        self.rows: list[tuple[int, str, str, float]] = []  # (position, token, segment, weight)
        self.request_refresh()

    def _row(self, source, layer: int, q: int) -> tuple[np.ndarray, str]:
        """[T] weights of query ``q`` and what they are of."""
        name = METHOD_NAMES[source.method]
        if not source.per_head:
            return source.maps[layer, q], f"{name}, after layer {layer}"
        heads = source.maps.shape[1]
        if 0 <= self.state.head < heads:
            return source.maps[layer, self.state.head, q], f"layer {layer} head {self.state.head}"
        return source.maps[layer, :, q].mean(axis=0), f"layer {layer}, mean of heads"

    def refresh(self) -> None:
        analysis, source = self.state.analysis, view_maps(self.state)
        q = self.state.query_token
        self.rows = []
        if analysis is None or source is None or not 0 <= q < analysis.num_tokens:
            self.title.setText(HINT if analysis is not None else "No analysis yet.")
            self._fill()
            return
        layer = min(max(self.state.layer, 0), source.maps.shape[0] - 1)
        row, what = self._row(source, layer, q)
        kept = visible_mask(analysis, self.state.attention_filter, self.state.hide_special)[q]
        if not kept.any():
            self.title.setText(f"“{analysis.tokens[q]}” (position {q}) is outside the filter: "
                               "choose All or another filter to rank its keys.")
            self._fill()
            return
        seq = list(analysis.sequence_ids)
        self.rows = [(k, analysis.tokens[k], SEGMENTS.get(seq[k], "?"), float(row[k]))
                     for k in attended(row, kept)]
        raw = "" if source.method == "raw" else f" ({METHOD_NAMES[source.method]})"
        self.title.setText(f"“{analysis.tokens[q]}” (position {q}) attends most to{raw} — "
                           f"{what}; {int(kept.sum())} keys shown by the filter")
        self._fill()

    def _fill(self) -> None:
        self.table.setRowCount(len(self.rows))
        for i, (position, token, segment, weight) in enumerate(self.rows):
            for col, value in enumerate((str(i + 1), token, str(position), segment,
                                         f"{weight:.4f}")):
                self.table.setItem(i, col, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
