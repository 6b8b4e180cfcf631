"""The Head lab tab beside the attention views: the head dashboard on the left, the selected
[MASK] layer by layer and the neuron view of the selected head and query token on the right.

It asks for its results with ``sig_request`` (``explorer.head_lab_requests``; the main window
stamps the analysis's sequence number and hands them to the inference worker) only while it is
on screen, each once per analysis and selection, and shows what comes back in ``show_result``.
The results are of the analysis on screen, with the heads it was made with ablated.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from engine.results import LogitLens, NeuronView
from explorer.head_lab_requests import (DashboardRequest, HeadsReport, LensRequest,
                                        NeuronRequest)
from explorer.state import MEAN_HEAD
from explorer.widgets.heads_panel import HeadsDashboard
from explorer.widgets.lens_view import LensView
from explorer.widgets.neuron_view import NeuronPanel


def selected_mask(analysis, query_token: int) -> int | None:
    """The [MASK] the lens reads: the selected token if it is one, else the first."""
    positions = [int(m.position) for m in analysis.fill_mask]
    if not positions:
        return None
    return query_token if query_token in positions else positions[0]


class HeadLabTab(QWidget):
    sig_request = Signal(object)  # a request of explorer.head_lab_requests (seq: stamped later)

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.dashboard = HeadsDashboard(state)
        self.lens_view = LensView()
        self.neuron_panel = NeuronPanel()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.lens_view)
        right.addWidget(self.neuron_panel)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.dashboard)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([300, 540])  # the lens table and the neuron rows need the width
        right.setSizes([210, 390])
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._asked: dict[type, object] = {}  # kind -> the request last asked for
        state.sig_analysis_changed.connect(lambda _a: self.refresh())
        state.sig_model_changed.connect(lambda _m: self.refresh())
        state.sig_selection_changed.connect(lambda *_a: self.refresh())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    def _heads(self) -> tuple:
        """The heads ablated in the analysis on screen."""
        ablation = self.state.ablation
        return ablation.heads if ablation is not None else ()

    def wanted(self) -> list:
        """The requests the analysis and selection on screen call for."""
        analysis, state = self.state.analysis, self.state
        if analysis is None:
            return []
        text_b = analysis.text_b or ""
        heads = self._heads()
        wanted = [DashboardRequest(0, id(analysis), analysis, heads)]
        position = selected_mask(analysis, state.query_token)
        if position is not None and "mlm" in (state.model.capabilities if state.model else ()):
            wanted.append(LensRequest(0, analysis.text_a, text_b, position, heads))
        if state.head != MEAN_HEAD and 0 <= state.query_token < analysis.num_tokens:
            wanted.append(NeuronRequest(0, analysis.text_a, text_b, state.layer, state.head,
                                       state.query_token, heads))
        return wanted

    def refresh(self) -> None:
        if self.state.analysis is None:
            self.dashboard.show_message("no analysis yet")
        if not self.isVisible():
            return
        wanted = {type(r): r for r in self.wanted()}
        if LensRequest not in wanted:
            model = self.state.model
            self.lens_view.show_message(
                "Layer by layer: this model has no MLM head to read the layers with"
                if model is not None and "mlm" not in model.capabilities else
                "Layer by layer: type [MASK] in the text to see at which layer its answer "
                "appears")
        if NeuronRequest not in wanted:
            self.neuron_panel.show_message("Neuron view: pick a head (not the mean) and click "
                                           "a query token in the token strip or a heatmap row")
        for kind, request in wanted.items():
            if self._asked.get(kind) != request:
                self._asked[kind] = request
                if kind is DashboardRequest:
                    self.dashboard.show_message("computing…")
                self.sig_request.emit(request)

    def show_result(self, request, result) -> None:
        """A result for ``request``; one for a request no longer wanted is dropped."""
        if self._asked.get(type(request)) != replace(request, seq=0):
            return
        if isinstance(result, HeadsReport):
            self.dashboard.show_report(result)
        elif isinstance(result, LogitLens):
            self.lens_view.show_lens(result)
        elif isinstance(result, NeuronView):
            self.neuron_panel.show_view(result)

    def show_failure(self, request, message: str) -> None:
        if self._asked.get(type(request)) != replace(request, seq=0):
            return
        text = f"cannot compute: {message}"
        if isinstance(request, DashboardRequest):
            self.dashboard.show_message(text)
        elif isinstance(request, LensRequest):
            self.lens_view.show_message(text)
        else:
            self.neuron_panel.show_message(text)
