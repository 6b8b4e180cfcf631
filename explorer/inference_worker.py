"""The one place torch runs in the GUI: a long-lived thread that loads models and analyses text.

The window submits typed requests (``LoadModel``, ``Analyze``, and after an analysis the lab's
``ExplainMaps`` and ``ExplainSalience``, the Head lab's ``explorer.head_lab_requests``; a new
kind is a class and a handler; an ``Analyze`` with ``head_mask`` answers by
``sig_ablated_ready`` with an ``explorer.ablation.Ablated``). The newest
request of each kind replaces a pending one, so typing fast queues nothing and the thread
always works on the newest text next. A model load goes first; once it succeeds it drops
pending work for the old model and answers with the new model and its first analysis
together, so panels repaint once (a failed load leaves pending work as it was). Results go
back by queued signals carrying the request's sequence number, so the window can drop
anything stale; lab requests carry the sequence number of the analysis they extend, and one
for an analysis older than the newest is skipped. An integrated-gradients run stops between
batches when a newer model, text or salience request is waiting, when the window calls
``cancel_salience`` (an edit: at once, not after the debounce), or when the worker stops.
torch is imported in this thread, after the window is up. Compare mode runs its model B in a
second worker of this class, and scrubbing reads a run's checkpoint series (``ReadSeries``,
point by point, a newer request ending it between points) in a third.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import Signal

from engine.results import Analysis, ModelSummary
from explorer.ablation import ReferenceCache, ablated_analysis
from explorer.head_lab_requests import HEAD_LAB_REQUESTS, compute as compute_head_lab
from explorer.heap import freeze_startup_heap
from explorer.request_thread import RequestThread, user_message
from explorer.state import SalienceSettings


@dataclass(frozen=True)
class Analyze:
    seq: int
    text_a: str
    text_b: str
    top_k: int = 10
    head_mask: tuple[tuple[int, int], ...] = ()  # ablated heads: answered by sig_ablated_ready


@dataclass(frozen=True)
class LoadModel:
    path: str
    first: Analyze  # analysed with the new model and delivered with it
    precision: str = "fp32"  # fp32 | bf16 | auto (engine.precision), resolved in the thread


@dataclass(frozen=True)
class ExplainMaps:
    seq: int        # of the analysis these maps go with
    text_a: str
    text_b: str
    method: str     # a key of engine.results.MAP_METHODS
    head_mask: tuple[tuple[int, int], ...] = ()  # the analysis's ablated heads


@dataclass(frozen=True)
class ExplainSalience:
    seq: int        # of the analysis this salience goes with
    run: int        # this request's own number: the window's settings may change, not the text
    text_a: str
    text_b: str
    settings: SalienceSettings
    head_mask: tuple[tuple[int, int], ...] = ()  # the analysis's ablated heads


@dataclass(frozen=True)
class ReadSeries:
    run: int        # this request's own number
    run_dir: str
    text_a: str
    text_b: str
    cache_dir: str  # the app's own (engine.lab.series caches each point there)


@dataclass(frozen=True)
class FindInCorpus:
    seq: int        # this search's own number: the newest one wins
    index: str      # a corpus index folder
    text_a: str
    text_b: str
    token: int
    layer: int
    top_k: int = 30


@dataclass(frozen=True)
class RunDataset:
    seq: int        # this run's own number
    path: str       # a file of examples (engine.dataset_run)
    text_a: str = "text"
    text_b: str | None = None


class _Cancelled(Exception):
    """Raised from the progress callback to stop a run whose result nobody wants any more."""


@dataclass(frozen=True)
class ModelLoaded:
    model: ModelSummary
    seq: int                       # of the first analysis
    analysis: Analysis | None
    analysis_error: str | None     # why the first analysis failed, when it did


class InferenceWorker(RequestThread):
    sig_model_loaded = Signal(object)         # ModelLoaded
    sig_model_failed = Signal(str, str)       # path, message
    sig_analysis_ready = Signal(int, object)  # sequence number, Analysis
    sig_analysis_failed = Signal(int, str)    # sequence number, message
    sig_maps_ready = Signal(int, object)      # analysis sequence number, AttributionMaps
    sig_maps_failed = Signal(int, str)
    sig_salience_ready = Signal(int, object)  # run number, Salience
    sig_salience_failed = Signal(int, str)
    sig_salience_progress = Signal(int, int, int)  # run number, points done, of
    sig_salience_cancelled = Signal(int)      # run number: a newer request took over
    sig_series_point = Signal(int, object, int, int)  # run number, SeriesPoint, done, of
    sig_series_ready = Signal(int, object)    # run number, CheckpointSeries
    sig_series_failed = Signal(int, str)
    sig_ablated_ready = Signal(int, object)   # sequence number, explorer.ablation.Ablated
    sig_head_lab_ready = Signal(object, object)  # request (explorer.head_lab_requests), its result
    sig_head_lab_failed = Signal(object, str)    # request, message
    sig_corpus_ready = Signal(int, object)    # search number, engine.results_corpus.CorpusSearch
    sig_corpus_failed = Signal(int, str)
    sig_dataset_ready = Signal(int, object)   # run number, engine.results_dataset.DatasetRun
    sig_dataset_failed = Signal(int, str)
    sig_dataset_progress = Signal(int, int, int)  # run number, examples done, of

    def __init__(self, device: str | None = None, parent=None):
        super().__init__(parent)
        self._device = device
        self._predictor = None
        self._salience_cancelled = False
        self._analysed_seq = 0  # the newest analysis started: lab work for older ones is moot
        self._series_memo = None  # engine.lab.series.ReadingMemo, once a series is read
        self._references = ReferenceCache()  # the unablated model's view of the newest input
        self._corpus_indexes: dict[str, object] = {}  # path -> an opened CorpusIndex
        self._dataset_cancelled = False
        self.handlers = {LoadModel: self._load, Analyze: self._analyze,
                         ExplainMaps: self._explain_maps, ExplainSalience: self._explain_salience,
                         ReadSeries: self._read_series, FindInCorpus: self._find_in_corpus,
                         RunDataset: self._run_dataset,
                         **{kind: self._head_lab for kind in HEAD_LAB_REQUESTS}}

    # ----- called from the GUI thread -----

    def cancel_salience(self) -> None:
        """Drop a waiting salience request and stop a running one at its next batch."""
        with self._wake:
            self._pending.pop(ExplainSalience, None)
            self._salience_cancelled = True

    def cancel_dataset(self) -> None:
        """Drop a waiting dataset run and stop a running one between batches."""
        with self._wake:
            self._pending.pop(RunDataset, None)
            self._dataset_cancelled = True

    # ----- the thread -----

    def _next_kind(self) -> type:
        return LoadModel if LoadModel in self._pending else super()._next_kind()

    def _starting(self, kind: type) -> None:
        # Under the lock: a cancel from now on is for this run.
        if kind is ExplainSalience:
            self._salience_cancelled = False
        if kind is RunDataset:
            self._dataset_cancelled = False

    def _load(self, request: LoadModel) -> None:
        try:
            from engine.infer import Predictor  # torch loads here, off the GUI thread

            freeze_startup_heap()  # torch's objects stay: no full collection in a later edit
            predictor = Predictor.load(request.path, device=self._device,
                                       precision=request.precision)
        except Exception as exc:  # any failure keeps the previous model
            self.sig_model_failed.emit(request.path, user_message(exc))
            return
        self._predictor = predictor
        with self._wake:  # text typed meanwhile: analyse the newest once; the rest is moot
            first = self._pending.pop(Analyze, request.first)
            self._pending.clear()
            self._analysed_seq = first.seq
        first = replace(first, head_mask=())  # the old model's ablated heads are not this one's
        try:
            analysis, error = self._run_analysis(first), None
        except Exception as exc:
            analysis, error = None, user_message(exc)
        self.sig_model_loaded.emit(ModelLoaded(predictor.summary(), first.seq, analysis, error))

    def _analyze(self, request: Analyze) -> None:
        if self._predictor is None:
            self.sig_analysis_failed.emit(request.seq, "no model loaded: open a model folder")
            return
        self._analysed_seq = request.seq
        if request.head_mask:
            self._analyze_ablated(request)
            return
        try:
            result = self._run_analysis(request)
        except Exception as exc:
            self.sig_analysis_failed.emit(request.seq, user_message(exc))
            return
        self.sig_analysis_ready.emit(request.seq, result)

    def _run_analysis(self, request: Analyze) -> Analysis:
        return self._predictor.analyze(request.text_a, request.text_b or None,
                                       top_k=request.top_k)

    def _analyze_ablated(self, request: Analyze) -> None:
        try:
            result = ablated_analysis(self._predictor, self._references, request.text_a,
                                      request.text_b or None, request.head_mask, request.top_k)
        except Exception as exc:
            self.sig_analysis_failed.emit(request.seq, user_message(exc))
            return
        self.sig_ablated_ready.emit(request.seq, result)

    def _head_lab(self, request) -> None:
        if self._predictor is None or request.seq < self._analysed_seq:
            return
        try:
            result = compute_head_lab(self._predictor, request)
        except Exception as exc:
            self.sig_head_lab_failed.emit(request, user_message(exc))
            return
        self.sig_head_lab_ready.emit(request, result)

    def _explain_maps(self, request: ExplainMaps) -> None:
        if self._predictor is None or request.seq < self._analysed_seq:
            return
        try:
            from engine.lab.maps import explain_maps

            maps = explain_maps(self._predictor, request.text_a, request.text_b or None,
                                [request.method], request.head_mask)[request.method]
        except Exception as exc:
            self.sig_maps_failed.emit(request.seq, user_message(exc))
            return
        self.sig_maps_ready.emit(request.seq, maps)

    def _explain_salience(self, request: ExplainSalience) -> None:
        if self._predictor is None or request.seq < self._analysed_seq:
            return
        settings = request.settings

        def progress(done: int, total: int) -> None:
            self.sig_salience_progress.emit(request.run, done, total)
            with self._wake:
                if (self._stopping or self._salience_cancelled
                        or any(kind in self._pending for kind in _CANCELLING)):
                    raise _Cancelled

        try:
            from engine.lab.ablation import gated_passes
            from engine.lab.salience import explain_salience

            with gated_passes(self._predictor, request.head_mask, gradients=True):
                salience = explain_salience(
                    self._predictor, request.text_a, request.text_b or None, settings.method,
                    settings.target, steps=settings.steps, baseline=settings.baseline,
                    rule=settings.rule, progress=progress)
        except _Cancelled:
            self.sig_salience_cancelled.emit(request.run)
            return
        except Exception as exc:
            self.sig_salience_failed.emit(request.run, user_message(exc))
            return
        self.sig_salience_ready.emit(request.run, salience)

    def _read_series(self, request: ReadSeries) -> None:
        """A run's checkpoints on the texts (engine.lab.series), point by point; a newer
        series request or a stop ends it between points (the points done stay cached)."""
        def progress(point, done: int, total: int) -> None:
            self.sig_series_point.emit(request.run, point, done, total)
            with self._wake:
                if self._stopping or ReadSeries in self._pending:
                    raise _Cancelled

        try:
            from engine.lab.series import ReadingMemo, checkpoint_series

            self._series_memo = self._series_memo or ReadingMemo()
            series = checkpoint_series(request.run_dir, request.text_a, request.text_b or None,
                                       request.cache_dir, device=self._device,
                                       progress=progress, memo=self._series_memo)
        except _Cancelled:
            return
        except Exception as exc:
            self.sig_series_failed.emit(request.run, user_message(exc))
            return
        self.sig_series_ready.emit(request.run, series)

    def _find_in_corpus(self, request: FindInCorpus) -> None:
        if self._predictor is None:
            self.sig_corpus_failed.emit(request.seq, "no model loaded: open a model folder")
            return
        try:
            from engine.corpus_index.search import CorpusIndex, search_text

            index = self._corpus_indexes.get(request.index)
            if index is None:
                index = self._corpus_indexes[request.index] = CorpusIndex(request.index)
            result = search_text(self._predictor, index, request.text_a,
                                 request.text_b or None, request.token, request.layer,
                                 top_k=request.top_k)
        except Exception as exc:
            self.sig_corpus_failed.emit(request.seq, user_message(exc))
            return
        self.sig_corpus_ready.emit(request.seq, result)

    def _run_dataset(self, request: RunDataset) -> None:
        if self._predictor is None:
            self.sig_dataset_failed.emit(request.seq, "no model loaded: open a model folder")
            return

        def cancelled() -> bool:
            with self._wake:
                return self._stopping or self._dataset_cancelled or RunDataset in self._pending

        try:
            from engine.dataset_run import read_for_model, run_dataset

            kind = self._predictor.task_kind
            try:
                examples = read_for_model(request.path, kind, request.text_a, request.text_b)
            except ValueError:  # single sentences: the file has no B column
                if request.text_b is None:
                    raise
                examples = read_for_model(request.path, kind, request.text_a, None)
            result = run_dataset(self._predictor, examples, request.path,
                                 progress=lambda done, total: self.sig_dataset_progress.emit(
                                     request.seq, done, total), cancelled=cancelled)
        except Exception as exc:
            self.sig_dataset_failed.emit(request.seq, user_message(exc))
            return
        self.sig_dataset_ready.emit(request.seq, result)


# A pending request of these kinds makes a running salience moot.
_CANCELLING = (LoadModel, Analyze, ExplainSalience)


