"""Compare mode's wiring. Model B runs in a second inference worker of its own, so that A and B
analyse an edit at the same time; once B has loaded, the pair worker checks that it shares
model A's tokenizer and head layout (refused: it is dropped, with the reason). Every analysis of
model A shown is paired with B's analysis of the same texts (B's newest is kept: a new model A,
a scrubbed checkpoint, pairs with it at no cost), and the pair goes into the state
(``state.compare``), where the views, the compare panel and the divergence map read it."""

from __future__ import annotations

from PySide6.QtCore import QObject

from explorer.compare_worker import CheckSides, PairWith, PairWorker
from explorer.inference_worker import Analyze, InferenceWorker, LoadModel, ModelLoaded
from explorer.state import ExplorerState


def _texts(analysis) -> tuple[str, str]:
    return analysis.text_a, analysis.text_b or ""


class CompareController(QObject):
    def __init__(self, state: ExplorerState, device: str | None = None, parent=None):
        super().__init__(parent)
        self.state = state
        self.device = device
        self.pairs = PairWorker(self)
        self.pairs.sig_checked.connect(self._on_checked)
        self.pairs.sig_paired.connect(self._on_paired)
        self.pairs.sig_pair_failed.connect(self._on_pair_failed)
        self.worker: InferenceWorker | None = None    # model B's, once accepted
        self._opening: InferenceWorker | None = None  # loading a model B not yet checked
        self._loaded: ModelLoaded | None = None       # what it loaded
        self._seq = 0
        self._asked: tuple[str, str] | None = None    # texts of B's newest analysis request
        self._analysis_b = None                       # B's newest analysis
        state.sig_analysis_changed.connect(lambda _analysis: self._pair())
        state.sig_model_changed.connect(self._on_model_a_changed)

    @property
    def is_open(self) -> bool:
        return self.state.compare_model is not None

    def open(self, path: str) -> None:
        """Load ``path`` as model B beside the model open now (the one open before, if any,
        stays until this one is accepted)."""
        if self.state.model is None:
            self.state.report_error("Open a model first: the second model is compared with it")
            return
        self._stop(self._opening)
        self._opening = self._new_worker()
        self._opening.submit(LoadModel(path, self._request(self.state.text_a,
                                                           self.state.text_b)))

    def close(self) -> None:
        """Back to the single view."""
        if self.is_open:
            self._stop(self.worker)
            self.worker, self._analysis_b, self._asked = None, None, None
            self.state.set_compare_model(None)

    def prefetch(self, text_a: str, text_b: str) -> None:
        """B's analysis of texts A is analysing now, so that both models run at once."""
        if self.worker is not None and (text_a, text_b) != self._asked:
            self.worker.submit(self._request(text_a, text_b))

    def stop(self) -> None:
        for worker in (self._opening, self.worker):
            self._stop(worker)
        if self.pairs.isRunning():
            self.pairs.stop()

    # ----- model B -----

    def _new_worker(self) -> InferenceWorker:
        worker = InferenceWorker(self.device, self)
        worker.sig_model_loaded.connect(lambda loaded: self._on_loaded(worker, loaded))
        worker.sig_model_failed.connect(lambda path, message: self._on_failed(worker, path,
                                                                              message))
        worker.sig_analysis_ready.connect(lambda seq, analysis: self._on_analysis_b(
            worker, seq, analysis))
        worker.sig_analysis_failed.connect(lambda seq, message: self._on_analysis_b_failed(
            worker, seq, message))
        worker.start()
        return worker

    @staticmethod
    def _stop(worker: InferenceWorker | None) -> None:
        if worker is not None and worker.isRunning():
            worker.stop()

    def _request(self, text_a: str, text_b: str) -> Analyze:
        self._seq += 1
        self._asked = (text_a, text_b)
        return Analyze(self._seq, text_a, text_b)

    def _check(self, model_b) -> None:
        a = self.state.model
        if not self.pairs.isRunning():
            self.pairs.start()
        self.pairs.submit(CheckSides(a.path, a.name, model_b.path, model_b.name))

    def _on_loaded(self, worker: InferenceWorker, loaded: ModelLoaded) -> None:
        if worker is self._opening:
            self._loaded = loaded
            self._check(loaded.model)

    def _on_failed(self, worker: InferenceWorker, path: str, message: str) -> None:
        if worker is self._opening:
            self._stop(worker)
            self._opening = None
            self.state.report_error(f"Could not compare with {path}: {message}")

    def _on_checked(self, request: CheckSides, refusal: str) -> None:
        if self._loaded is not None and request.path_b == self._loaded.model.path:
            self._accept(refusal)
        elif refusal and self.is_open and request.path_b == self.state.compare_model.path:
            self.close()  # a new model A that B does not fit
            self.state.report_error(f"Closed the second model: {refusal}")

    def _accept(self, refusal: str) -> None:
        worker, loaded = self._opening, self._loaded
        self._opening = self._loaded = None
        if refusal:
            self._stop(worker)
            self.state.report_error(refusal)
            return
        self._stop(self.worker)
        self.worker = worker
        self._analysis_b = loaded.analysis
        self.state.set_compare(None)
        self.state.set_compare_model(loaded.model)
        self._pair()

    def _on_analysis_b(self, worker: InferenceWorker, seq: int, analysis) -> None:
        if worker is self.worker and seq == self._seq:
            self._analysis_b = analysis
            self._pair()

    def _on_analysis_b_failed(self, worker: InferenceWorker, seq: int, message: str) -> None:
        if worker is self.worker and seq == self._seq:
            self.state.report_error(f"Model B: {message}")

    # ----- pairing -----

    def _on_model_a_changed(self, model) -> None:
        if self.is_open and model is not None:
            self._check(self.state.compare_model)
        self._pair()  # the new model's first analysis came with it

    def _pair(self) -> None:
        analysis, model = self.state.analysis, self.state.model
        if not self.is_open or analysis is None or model is None:
            return
        b = self._analysis_b
        if b is not None and _texts(b) == _texts(analysis):
            if not self.pairs.isRunning():
                self.pairs.start()
            self.pairs.submit(PairWith(analysis, b, model.name, self.state.compare_model.name))
        elif _texts(analysis) != self._asked:
            self.worker.submit(self._request(*_texts(analysis)))

    def _on_paired(self, pair) -> None:
        if self.is_open and pair.analysis_a is self.state.analysis:
            self.state.set_compare(pair)

    def _on_pair_failed(self, analysis, message: str) -> None:
        if self.is_open and analysis is self.state.analysis:
            self.state.report_error(f"Model B: {message}")
