"""Compare mode's widgets: the A / B / B − A switch of the attention views, the fill-mask, NSP
and task readings of both models with the change, and the per-head divergence map. Each is
built from the state, hidden (or says so) while no second model is open, and reads
``state.compare_pair()`` (``engine.results_compare.AnalysisPair``)."""

from __future__ import annotations

import html
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QGroupBox, QHBoxLayout, QLabel, QToolButton,
                               QVBoxLayout, QWidget)

from explorer.state import COMPARE_SOURCES, MEAN_HEAD, ExplorerState
from explorer.text_edits import format_percent
from explorer.widgets.divergence_map import DivergenceMap

SOURCE_LABELS = {"A": "A", "B": "B", "B-A": "B − A"}
RAW_ONLY = "A, B and B − A are views of raw attention: choose raw attention to switch"
UP, DOWN = "#8a7600", "#2f7fe0"  # the diverging map's ends (CET-CBD1): B above / below A


class CompareSourceBar(QWidget):
    """Which model's attention the views draw: A, B, or B − A (diverging colours)."""

    def __init__(self, state: ExplorerState, parent=None):
        super().__init__(parent)
        self.state = state
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Model:"))
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QToolButton] = {}
        for source, meaning in COMPARE_SOURCES.items():
            button = QToolButton()
            button.setText(SOURCE_LABELS[source])
            button.setToolTip(meaning)
            button.setCheckable(True)
            self.group.addButton(button)
            self.buttons[source] = button
            layout.addWidget(button)
            button.clicked.connect(lambda _=False, s=source: state.set_compare_source(s))
        state.sig_compare_model_changed.connect(lambda _model: self._sync())
        state.sig_compare_source_changed.connect(lambda _source: self._sync())
        state.sig_view_method_changed.connect(lambda _method: self._sync())
        self._sync()

    def _sync(self) -> None:
        self.setVisible(self.state.compare_model is not None)
        self.buttons[self.state.compare_source].setChecked(True)
        raw = self.state.view_method == "raw"
        for button in self.buttons.values():
            button.setEnabled(raw)
        self.setToolTip("" if raw else RAW_ONLY)


def _percent(p: float | None) -> str:
    if p is None:
        return "–"
    return "below its top 10" if math.isnan(p) else format_percent(p)


def _change(delta: float | None) -> str:
    if delta is None or math.isnan(delta):
        return ""
    colour = UP if delta > 0 else DOWN
    return f'<span style="color:{colour}">{delta * 100:+.1f} pt</span>'


def _task_text(task) -> str:
    return "–" if task is None else task.headline(format_percent)


def comparison_html(pair) -> str:
    """Every [MASK]'s candidates of both models with B − A, then NSP and the task."""
    a, b = pair.analysis_a, pair.analysis_b
    cell = 'style="padding:1px 8px 1px 0"'
    parts = [f"<b>A</b> {html.escape(pair.name_a)} &nbsp; <b>B</b> {html.escape(pair.name_b)}"]
    for number, mask in enumerate(pair.fill_mask, 1):
        rows = [f"<tr><th {cell} align=left>[MASK] {number}</th><th {cell}>A</th>"
                f"<th {cell}>B</th><th {cell}>B − A</th></tr>"]
        for i, token in enumerate(mask.tokens):
            pa = None if mask.probs_a is None else float(mask.probs_a[i])
            pb = None if mask.probs_b is None else float(mask.probs_b[i])
            delta = None if pa is None or pb is None else pb - pa
            rows.append(f"<tr><td {cell}>{html.escape(token)}</td><td {cell} align=right>"
                        f"{_percent(pa)}</td><td {cell} align=right>{_percent(pb)}</td>"
                        f"<td {cell} align=right>{_change(delta)}</td></tr>")
        parts.append("<table>" + "".join(rows) + "</table>")
    if not pair.fill_mask:
        parts.append("<i>No fill-mask to compare: type [MASK] in the text (a model without "
                     "an MLM head has none).</i>")
    for side, analysis in (("A", a), ("B", b)):
        parts += [f"<i>{side}: {html.escape(note)}</i>" for note in analysis.notes]
    if (a.text_b or "").strip():
        parts.append(f"NSP IsNext: A {_percent(pair.nsp_a)} · B {_percent(pair.nsp_b)} "
                     f"{_change(pair.nsp_change)}")
    if a.task is not None or b.task is not None:
        parts.append(f"Task: A {html.escape(_task_text(a.task))} · "
                     f"B {html.escape(_task_text(b.task))}")
    return "<br>".join(parts)


class ComparePanel(QGroupBox):
    """Both models' predictions side by side with the change; hidden in the single view."""

    sig_close = Signal()

    def __init__(self, state: ExplorerState, parent=None):
        super().__init__("Compare", parent)
        self.state = state
        self.body = QLabel()
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setWordWrap(True)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.close_button = QToolButton()
        self.close_button.setText("Close model B")
        self.close_button.setToolTip("Back to the single view of model A")
        self.close_button.clicked.connect(self.sig_close)
        top = QHBoxLayout()
        top.addWidget(QLabel("Both models on this text (probabilities; B − A in points)"), 1)
        top.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.body, 1)
        state.sig_compare_model_changed.connect(lambda _model: self._refresh())
        state.sig_compare_changed.connect(lambda _pair: self._refresh())
        state.sig_analysis_changed.connect(lambda _analysis: self._refresh())
        self._refresh()

    def _refresh(self) -> None:
        model = self.state.compare_model
        self.setVisible(model is not None)
        if model is None:
            return
        self.setTitle(f"Compare with {model.name}")
        pair = self.state.compare_pair()
        self.body.setText(comparison_html(pair) if pair is not None else
                          f"<i>{html.escape(model.name)} is reading the text…</i>")


class CompareDivergence(DivergenceMap):
    """Per head, how differently B attends than A on this text (the Divergence tab)."""

    def __init__(self, state: ExplorerState, parent=None):
        super().__init__("Open a second model (File ▸ Compare with model…) to see which heads "
                         "attend differently", parent)
        self.state = state
        self.sig_head_clicked.connect(lambda layer, head: state.set_selection(layer=layer,
                                                                              head=head))
        state.sig_compare_changed.connect(lambda _pair: self._refresh())
        state.sig_compare_model_changed.connect(lambda _model: self._refresh())
        state.sig_selection_changed.connect(lambda *_args: self._select())
        self._refresh()

    def _refresh(self) -> None:
        pair = self.state.compare_pair()
        if pair is None:
            if self.state.compare_model is None:
                self.set_values(None)
            return  # B's reading of a new text is on its way: keep the picture
        self.set_values(pair.js_divergence, f"Jensen-Shannon divergence of attention, "
                                            f"{pair.name_a} → {pair.name_b}")
        self._select()

    def _select(self) -> None:
        head = self.state.head
        self.select(self.state.layer, None if head == MEAN_HEAD else head)
