"""The explorer's state: one QObject that widgets read, listen to and write back to.

No widgets and no torch here. Widgets are built from a state object, connect to its ``sig_*``
signals, and change it only through its setters, which emit only on real changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from engine.results import MAP_METHODS, Analysis, AttributionMaps, ModelSummary, Salience
from explorer.view_settings import COLOUR_SCALE_NAMES, DEFAULT_COLOUR_SCALE, ViewStyle

ATTENTION_FILTERS = ("all", "AA", "AB", "BA", "BB")  # query segment -> key segment
MEAN_HEAD = -1  # ``head`` value meaning "mean of the layer's heads"
# What the attention views can show, each with its one-line meaning (the tooltips).
VIEW_METHODS = {"raw": "raw attention: each head's softmax weights (they ignore the value "
                       "vectors, the residual stream and LayerNorm)", **MAP_METHODS}
# Rollout and ALTI mix the heads before rolling out over layers: one map per layer, no heads.
HEADLESS_METHODS = frozenset({"rollout", "alti"})
# Path points of an integrated-gradients run started from the explorer: half the engine's
# default, so a live re-run after each edit stays interactive (the panel can raise it).
EXPLORER_IG_STEPS = 32
# With a second model open (File > Compare with model...), what the attention views draw.
COMPARE_SOURCES = {"A": "model A: the one opened first", "B": "model B: the second model",
                   "B-A": "B - A: where B attends more (gold) or less (blue) than A"}


@dataclass(frozen=True)
class SalienceSettings:
    """What the salience panel asks the worker for (``engine.lab.salience.explain_salience``)."""

    method: str = "ig"             # a key of engine.results.SALIENCE_METHODS
    target: str | None = None      # in --target form; None: the engine's default target
    steps: int = EXPLORER_IG_STEPS
    baseline: str = "pad"
    rule: str = "gausslegendre"


class ExplorerState(QObject):
    sig_texts_changed = Signal(str, str)          # text_a, text_b
    # A new model arrives with its first analysis: one signal, so each panel repaints once.
    sig_model_changed = Signal(object)            # ModelSummary | None (analysis: state.analysis)
    sig_analysis_changed = Signal(object)         # Analysis | None, of the current model
    sig_selection_changed = Signal(int, int, int)  # layer, head (MEAN_HEAD = mean), query token (-1 none)
    sig_filter_changed = Signal(str, bool)        # attention filter, hide [CLS]/[SEP]
    sig_busy_changed = Signal(bool)
    sig_view_method_changed = Signal(str)         # a key of VIEW_METHODS
    sig_lab_maps_changed = Signal(object)         # AttributionMaps just added for the analysis
    # Salience: the settings (None: off), the result for the current analysis (None: none or
    # stale), the run's progress and a line about its state ("running", an error, "cancelled").
    sig_salience_settings_changed = Signal(object)  # SalienceSettings | None
    sig_salience_changed = Signal(object)         # Salience | None
    sig_salience_progress = Signal(int, int)      # path points done, of
    sig_salience_status = Signal(str)
    sig_error = Signal(str)                       # a message for the user
    # Compare mode: the second model (None: closed), its pairing with the current analysis,
    # and which of A, B, B - A the attention views show.
    sig_compare_model_changed = Signal(object)    # ModelSummary | None
    sig_compare_changed = Signal(object)          # engine.results_compare.AnalysisPair | None
    sig_compare_source_changed = Signal(str)      # a key of COMPARE_SOURCES
    # Head ablation (explorer.ablation): the heads switched off, as sorted (layer, head)
    # pairs, and whether a click in the model view or the head lab toggles one.
    sig_ablated_heads_changed = Signal(object)    # tuple[(layer, head), ...]
    sig_ablate_mode_changed = Signal(bool)
    sig_colour_scale_changed = Signal(str)        # a key of view_settings.COLOUR_SCALES
    sig_view_style_changed = Signal(object)       # explorer.view_settings.ViewStyle

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.text_a = ""
        self.text_b = ""
        self.model: ModelSummary | None = None
        self.analysis: Analysis | None = None
        self.layer = 0
        self.head = MEAN_HEAD
        self.query_token = -1
        self.attention_filter = "all"
        self.hide_special = False
        self.busy = False
        self.view_method = "raw"
        self.lab_maps: dict[str, AttributionMaps] = {}  # method -> maps of ``analysis``
        self.salience_settings: SalienceSettings | None = None
        self.salience: Salience | None = None
        self.compare_model: ModelSummary | None = None
        self.compare = None  # AnalysisPair of the latest pairing (``compare_pair``: current)
        self.compare_source = "A"
        self.ablated_heads: tuple[tuple[int, int], ...] = ()
        self.ablate_mode = False
        # explorer.ablation.Ablated of the analysis shown when it was made with heads ablated
        # (it carries the unablated model's probabilities); None for a plain analysis.
        self.ablation = None
        self.colour_scale = DEFAULT_COLOUR_SCALE
        self.view_style = ViewStyle()

    def set_texts(self, text_a: str, text_b: str) -> None:
        if (text_a, text_b) != (self.text_a, self.text_b):
            self.text_a, self.text_b = text_a, text_b
            self.sig_texts_changed.emit(text_a, text_b)
            self.set_salience(None)  # it explained the old text: no stale colours

    def set_model(self, model: ModelSummary | None, analysis: Analysis | None = None) -> None:
        """A new model and its first analysis (None when that failed), announced together."""
        self.model = model
        self.ablated_heads, self.ablation = (), None  # its heads are not the old model's
        if model is not None:
            self.layer = min(self.layer, model.layers - 1)
            self.head = self.head if self.head < model.heads else MEAN_HEAD
        self._keep_analysis(analysis)
        self.sig_model_changed.emit(model)

    def set_analysis(self, analysis: Analysis | None, ablation=None) -> None:
        """``ablation``: the ``explorer.ablation.Ablated`` it came with, when heads were off."""
        self.ablation = ablation
        self._keep_analysis(analysis)
        self.sig_analysis_changed.emit(analysis)

    def _keep_analysis(self, analysis: Analysis | None) -> None:
        self.analysis = analysis
        self.lab_maps = {}  # they were of the previous analysis
        self.set_salience(None)
        if analysis is not None and self.query_token >= analysis.num_tokens:
            self.query_token = -1

    def set_selection(self, layer: int | None = None, head: int | None = None,
                      query_token: int | None = None) -> None:
        new = (self.layer if layer is None else layer, self.head if head is None else head,
               self.query_token if query_token is None else query_token)
        if new != (self.layer, self.head, self.query_token):
            self.layer, self.head, self.query_token = new
            self.sig_selection_changed.emit(*new)

    def set_filter(self, attention_filter: str | None = None,
                   hide_special: bool | None = None) -> None:
        new = (self.attention_filter if attention_filter is None else attention_filter,
               self.hide_special if hide_special is None else hide_special)
        if new[0] not in ATTENTION_FILTERS:
            raise ValueError(f"unknown attention filter {new[0]!r}")
        if new != (self.attention_filter, self.hide_special):
            self.attention_filter, self.hide_special = new
            self.sig_filter_changed.emit(*new)

    def set_view_method(self, method: str) -> None:
        if method not in VIEW_METHODS:
            raise ValueError(f"unknown view method {method!r}")
        if method != self.view_method:
            self.view_method = method
            self.sig_view_method_changed.emit(method)

    def add_lab_maps(self, maps: AttributionMaps) -> None:
        """Maps of the current analysis, kept until the next one (switching back is instant)."""
        self.lab_maps[maps.method] = maps
        self.sig_lab_maps_changed.emit(maps)

    def set_salience_settings(self, settings: SalienceSettings | None) -> None:
        if settings != self.salience_settings:
            self.salience_settings = settings
            self.sig_salience_settings_changed.emit(settings)

    def set_salience(self, salience: Salience | None) -> None:
        if salience is not self.salience:
            self.salience = salience
            self.sig_salience_changed.emit(salience)

    def report_salience_progress(self, done: int, total: int) -> None:
        self.sig_salience_progress.emit(done, total)

    def report_salience_status(self, text: str) -> None:
        self.sig_salience_status.emit(text)

    def set_compare_model(self, model: ModelSummary | None) -> None:
        """The second model; closing it (None) restores the single view."""
        self.compare_model = model
        if model is None:
            self.set_compare(None)
            self.set_compare_source("A")
        self.sig_compare_model_changed.emit(model)

    def set_compare(self, pair) -> None:
        self.compare = pair
        self.sig_compare_changed.emit(pair)

    def compare_pair(self):
        """The pairing of the analysis on screen with model B's; None while it is on its way."""
        pair = self.compare
        return pair if pair is not None and pair.analysis_a is self.analysis else None

    def set_compare_source(self, source: str) -> None:
        if source not in COMPARE_SOURCES:
            raise ValueError(f"unknown compare source {source!r}")
        if source != self.compare_source:
            self.compare_source = source
            self.sig_compare_source_changed.emit(source)

    def set_ablated_heads(self, heads) -> None:
        heads = tuple(sorted({(int(l), int(h)) for l, h in heads}))
        if heads != self.ablated_heads:
            self.ablated_heads = heads
            self.sig_ablated_heads_changed.emit(heads)

    def toggle_ablated_head(self, layer: int, head: int) -> None:
        self.set_ablated_heads(set(self.ablated_heads) ^ {(layer, head)})

    def set_ablate_mode(self, on: bool) -> None:
        if on != self.ablate_mode:
            self.ablate_mode = on
            self.sig_ablate_mode_changed.emit(on)

    def set_colour_scale(self, scale: str) -> None:
        if scale not in COLOUR_SCALE_NAMES:
            raise ValueError(f"unknown colour scale {scale!r}")
        if scale != self.colour_scale:
            self.colour_scale = scale
            self.sig_colour_scale_changed.emit(scale)

    def set_view_style(self, style: ViewStyle) -> None:
        if style != self.view_style:
            self.view_style = style
            self.sig_view_style_changed.emit(style)

    def set_busy(self, busy: bool) -> None:
        if busy != self.busy:
            self.busy = busy
            self.sig_busy_changed.emit(busy)

    def report_error(self, message: str) -> None:
        self.sig_error.emit(message)
