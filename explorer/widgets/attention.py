"""The attention panel: method selector, filter bar, layer/head selectors, HeadGrid, HeadDetail
and ModelView.

Every widget here is built from an :class:`~explorer.state.ExplorerState`, reads the latest
analysis (duck-typed: ``tokens``, ``special_mask``, ``sequence_ids``, ``attentions`` float32
[L, N, T, T]) and writes back only through the state's setters. No torch is imported here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (
    QButtonGroup, QCheckBox, QComboBox, QHBoxLayout, QLabel, QSpinBox, QSplitter, QTabWidget,
    QToolButton, QVBoxLayout, QWidget,
)

from engine.analysis_io import save_analysis
from explorer.state import ATTENTION_FILTERS, HEADLESS_METHODS, MEAN_HEAD, VIEW_METHODS
from explorer.view_png import render_png
from explorer.view_record import caption, view_record
from explorer.view_settings import COLOUR_SCALES
from explorer.widgets.attended_tokens import AttendedTokens
from explorer.widgets.attention_common import METHOD_NAMES, attentions_of
from explorer.widgets.attention_detail import HeadDetail
from explorer.widgets.ablation_bar import AblationBar
from explorer.widgets.attention_grid import HeadGrid, ModelView
from explorer.widgets.compare_panel import CompareDivergence, CompareSourceBar
from explorer.widgets.head_lab import HeadLabTab

__all__ = ["AttentionFilterBar", "AttentionPanel", "HeadDetail", "HeadGrid", "ModelView",
           "FILTER_LABELS"]

FILTER_LABELS = {"all": "All", "AA": "A→A", "AB": "A→B", "BA": "B→A", "BB": "B→B"}
FILTER_TIPS = {"all": "every cell", "AA": "sentence A attending to A",
               "AB": "sentence A attending to B", "BA": "sentence B attending to A",
               "BB": "sentence B attending to B"}


def _connect_all(widget, state) -> None:
    state.sig_analysis_changed.connect(widget._on_analysis_changed)
    state.sig_selection_changed.connect(widget._on_selection_changed)
    state.sig_filter_changed.connect(widget._on_filter_changed)
    state.sig_model_changed.connect(widget._on_model_changed)


class AttentionFilterBar(QWidget):
    """Segment filter buttons (All, A→A, A→B, B→A, B→B) and "Hide [CLS]/[SEP]".

    Filtered cells are greyed in every view, never renormalised away. The B filters are
    disabled while the analysis has no sentence B."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Show:"))
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for name in ATTENTION_FILTERS:
            button = QToolButton()
            button.setText(FILTER_LABELS[name])
            button.setToolTip(FILTER_TIPS[name])
            button.setCheckable(True)
            button.setAutoRaise(False)
            self.group.addButton(button)
            self.buttons[name] = button
            layout.addWidget(button)
            button.clicked.connect(lambda _=False, n=name: self.state.set_filter(n))
        self.hide_special = QCheckBox("Hide [CLS]/[SEP]")
        self.hide_special.toggled.connect(lambda on: self.state.set_filter(hide_special=on))
        layout.addWidget(self.hide_special)
        layout.addStretch(1)
        _connect_all(self, state)
        self._sync()

    def _sync(self) -> None:
        with QSignalBlocker(self.hide_special):
            self.hide_special.setChecked(self.state.hide_special)
        self.buttons[self.state.attention_filter].setChecked(True)
        analysis = self.state.analysis
        has_b = analysis is not None and any(s == 1 for s in analysis.sequence_ids)
        for name, button in self.buttons.items():
            button.setEnabled(name == "all" or analysis is None or has_b or name == "AA"
                              or name == self.state.attention_filter)

    def _on_analysis_changed(self, _analysis) -> None:
        self._sync()

    def _on_selection_changed(self, *_args) -> None:
        pass

    def _on_filter_changed(self, *_args) -> None:
        self._sync()

    def _on_model_changed(self, _model) -> None:
        self._sync()  # a new model comes with its first analysis


class MethodSelector(QComboBox):
    """Which maps the views show (``state.view_method``); each item's tooltip is its meaning."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        for method, meaning in VIEW_METHODS.items():
            self.addItem(METHOD_NAMES[method], method)
            self.setItemData(self.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.currentIndexChanged.connect(
            lambda index: self.state.set_view_method(self.itemData(index)))
        state.sig_view_method_changed.connect(self._sync)
        self._sync(state.view_method)

    def _sync(self, method: str) -> None:
        with QSignalBlocker(self):
            self.setCurrentIndex(self.findData(method))
        self.setToolTip(VIEW_METHODS[method])


class ScaleSelector(QComboBox):
    """The colour scale every attention view uses (``state.colour_scale``); tooltips say how."""

    LABELS = {"log": "log", "auto": "auto", "row": "per-row max", "fixed": "fixed 0..1"}

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        for scale, meaning in COLOUR_SCALES.items():
            self.addItem(self.LABELS[scale], scale)
            self.setItemData(self.count() - 1, meaning, Qt.ItemDataRole.ToolTipRole)
        self.currentIndexChanged.connect(
            lambda index: self.state.set_colour_scale(self.itemData(index)))
        state.sig_colour_scale_changed.connect(self._sync)
        self._sync(state.colour_scale)

    def _sync(self, scale: str) -> None:
        with QSignalBlocker(self):
            self.setCurrentIndex(self.findData(scale))
        self.setToolTip("colour scale — " + COLOUR_SCALES[scale])


class AttentionPanel(QWidget):
    """Method selector, filter bar, layer spin box and head combo on top; tabs below: "Heads"
    (HeadGrid and HeadDetail side by side in a splitter) and "Model" (ModelView, refreshed
    only when shown). The head combo is off for a method without heads."""

    def __init__(self, state, parent=None):
        super().__init__(parent)
        self.state = state
        self.method_selector = MethodSelector(state)
        self.scale_selector = ScaleSelector(state)
        self.filter_bar = AttentionFilterBar(state)
        self.layer_spin = QSpinBox()
        self.layer_spin.setRange(0, 0)
        self.layer_spin.setToolTip("layer")
        self.head_combo = QComboBox()
        self.head_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.head_grid = HeadGrid(state)
        self.head_detail = HeadDetail(state)
        self.model_view = ModelView(state)
        self.compare_bar = CompareSourceBar(state)
        self.divergence = CompareDivergence(state)
        self.head_lab = HeadLabTab(state)
        self.ablation_bar = AblationBar(state)
        self.attended = AttendedTokens(state)

        # Two rows, so the pane fits the ~560 px a 1024 px window leaves it.
        top = QHBoxLayout()
        top.addWidget(self.method_selector)
        top.addWidget(QLabel("Scale"))
        top.addWidget(self.scale_selector)
        top.addStretch(1)
        top.addWidget(QLabel("Layer"))
        top.addWidget(self.layer_spin)
        top.addWidget(QLabel("Head"))
        top.addWidget(self.head_combo)
        filters = QHBoxLayout()
        filters.addWidget(self.compare_bar)
        filters.addWidget(self.filter_bar, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.head_grid)
        self.splitter.addWidget(self.head_detail)
        self.splitter.setStretchFactor(0, 1)  # the detail gets two thirds: its map carries
        self.splitter.setStretchFactor(1, 2)  # token axes and must stay legible at 1024 px
        self.tabs = QTabWidget()
        self.tabs.addTab(self.splitter, "Heads")
        self.tabs.addTab(self.model_view, "Model")
        self.tabs.addTab(self.divergence, "Divergence")
        self.tabs.setTabToolTip(self.tabs.indexOf(self.divergence),
                                "Per head, how differently a second model attends "
                                "(File ▸ Compare with model…)")
        self.tabs.addTab(self.head_lab, "Head lab")
        self.tabs.addTab(self.attended, "Attended tokens")
        self.tabs.setTabToolTip(self.tabs.indexOf(self.attended),
                                "The tokens the selected query token attends to most")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.ablation_bar)
        layout.addWidget(self.tabs, 1)

        # Tab follows the rows as drawn: method, scale, layer, head, then the filters, the tabs.
        chain = [self.method_selector, self.scale_selector, self.layer_spin, self.head_combo,
                 *self.filter_bar.buttons.values(), self.filter_bar.hide_special, self.tabs]
        for first, second in zip(chain, chain[1:]):
            QWidget.setTabOrder(first, second)
        self.layer_spin.valueChanged.connect(lambda v: self.state.set_selection(layer=v))
        self.head_combo.currentIndexChanged.connect(self._head_picked)
        self.model_view.sig_open_selected.connect(
            lambda: self.tabs.setCurrentWidget(self.splitter))
        _connect_all(self, state)
        state.sig_view_method_changed.connect(lambda _method: self._sync_ranges())
        self._sync_ranges()
        for signal in (state.sig_compare_changed, state.sig_compare_source_changed):
            signal.connect(lambda _value: self._refresh_views())

    def _shape(self) -> tuple[int, int]:
        analysis = self.state.analysis
        if analysis is not None:
            shape = attentions_of(analysis).shape
            return shape[0], shape[1]
        model = self.state.model
        return (model.layers, model.heads) if model is not None else (0, 0)

    def _sync_ranges(self) -> None:
        layers, heads = self._shape()
        if self.layer_spin.maximum() != max(0, layers - 1):  # each setRange asks for a layout
            with QSignalBlocker(self.layer_spin):
                self.layer_spin.setRange(0, max(0, layers - 1))
        self.layer_spin.setEnabled(layers > 0)
        if self.head_combo.count() != heads + 1:
            with QSignalBlocker(self.head_combo):
                self.head_combo.clear()
                self.head_combo.addItem("mean of heads", MEAN_HEAD)
                for h in range(heads):
                    self.head_combo.addItem(f"head {h}", h)
        self.head_combo.setEnabled(heads > 0 and self.state.view_method not in HEADLESS_METHODS)
        self._sync_selection()

    def _sync_selection(self) -> None:
        with QSignalBlocker(self.layer_spin):
            self.layer_spin.setValue(self.state.layer)
        index = self.head_combo.findData(self.state.head)
        with QSignalBlocker(self.head_combo):
            self.head_combo.setCurrentIndex(max(0, index))

    def _head_picked(self, index: int) -> None:
        head = self.head_combo.itemData(index)
        if head is not None:
            self.state.set_selection(head=int(head))

    def _on_analysis_changed(self, _analysis) -> None:
        self._sync_ranges()

    def _on_selection_changed(self, *_args) -> None:
        self._sync_selection()

    def _on_filter_changed(self, *_args) -> None:
        pass

    def _on_model_changed(self, _model) -> None:
        self._sync_ranges()

    def _views(self) -> tuple:
        return self.head_grid, self.head_detail, self.model_view

    def _refresh_views(self) -> None:
        """Model B's reading arrived, or the A / B / B − A switch moved. Each view picks its
        own colours (diverging for B − A: ``LazyView.colour_map``) as it paints."""
        for view in self._views():
            view.request_refresh()

    def current_view(self) -> QWidget:
        return self.tabs.currentWidget()

    def export_png(self, path, scale: int = 2) -> Path:
        """The current tab (grid + detail, or the model view) as PNG at ``scale`` times its
        size, with a caption (model, layer/head, filter, method, scale) and no hover text."""
        return render_png(self.current_view(), path, caption(self.state), scale,
                          hidden=(self.head_detail.readout,))

    def export_analysis(self, path) -> Path:
        """Write the current analysis to .npz or .json (engine.analysis_io.save_analysis)."""
        if self.state.analysis is None:
            raise ValueError("there is no analysis to export yet")
        model = self.state.model
        ablation = self.state.ablation
        return save_analysis(self.state.analysis, path,
                             model_path=model.path if model else None,
                             model_name=model.name if model else None,
                             settings={"device": model.device if model else None,
                                       **view_record(self.state)},
                             masked_heads=ablation.heads if ablation is not None else ())
