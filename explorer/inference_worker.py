"""The one place torch runs in the GUI: a long-lived thread that loads models and analyses text.

Requests overwrite each other (the latest wins): typing fast queues nothing, the thread always
works on the newest text next. Results go back by queued signals carrying the request's
sequence number, so the window can drop anything stale. torch is imported in this thread, after
the window is up.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QThread, Signal

from explorer.state import ModelInfo


class InferenceWorker(QThread):
    sig_model_loaded = Signal(object)        # ModelInfo
    sig_model_failed = Signal(str, str)      # path, message
    sig_analysis_ready = Signal(int, object)  # sequence number, Analysis
    sig_analysis_failed = Signal(int, str)   # sequence number, message

    def __init__(self, device: str | None = None, parent=None):
        super().__init__(parent)
        self._device = device
        self._wake = threading.Condition()
        self._model_request: str | None = None
        self._analysis_request: tuple[int, str, str, int] | None = None
        self._stopping = False
        self._predictor = None

    # ----- called from the GUI thread -----

    def request_model(self, path: str) -> None:
        with self._wake:
            self._model_request = path
            self._wake.notify()

    def request_analysis(self, seq: int, text_a: str, text_b: str, top_k: int = 10) -> None:
        with self._wake:
            self._analysis_request = (seq, text_a, text_b, top_k)
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self.wait()

    # ----- the thread -----

    def run(self) -> None:
        while True:
            with self._wake:
                while (not self._stopping and self._model_request is None
                       and self._analysis_request is None):
                    self._wake.wait()
                if self._stopping:
                    return
                model, self._model_request = self._model_request, None
                analysis = None if model else self._analysis_request
                if analysis is not None:
                    self._analysis_request = None
            if model is not None:
                self._load(model)
            elif analysis is not None:
                self._analyze(*analysis)

    def _load(self, path: str) -> None:
        try:
            from engine.infer import Predictor  # torch loads here, off the GUI thread

            predictor = Predictor.load(path, device=self._device)
        except Exception as exc:  # any failure keeps the previous model
            self.sig_model_failed.emit(path, _message(exc))
            return
        self._predictor = predictor
        cfg = predictor.config
        self.sig_model_loaded.emit(ModelInfo(
            path=str(predictor.checkpoint.path), name=predictor.name,
            layers=cfg.num_hidden_layers, heads=cfg.num_attention_heads,
            hidden=cfg.hidden_size, parameters=predictor.num_parameters,
            vocab_size=predictor.tokenizer.vocab_size,
            max_positions=cfg.max_position_embeddings,
            capabilities=frozenset(predictor.capabilities), device=str(predictor.device),
            warnings=tuple(predictor.checkpoint.warnings)))

    def _analyze(self, seq: int, text_a: str, text_b: str, top_k: int) -> None:
        if self._predictor is None:
            self.sig_analysis_failed.emit(seq, "no model loaded: open a model folder")
            return
        try:
            result = self._predictor.analyze(text_a, text_b or None, top_k=top_k)
        except Exception as exc:
            self.sig_analysis_failed.emit(seq, _message(exc))
            return
        self.sig_analysis_ready.emit(seq, result)


def _message(exc: Exception) -> str:
    """The user-facing line: our errors carry their own message; anything else is a bug."""
    known = {"CheckpointError", "InferenceError", "TokenizerError", "ConfigError"}
    if type(exc).__name__ in known or isinstance(exc, (ValueError, OSError)):
        return str(exc)
    return f"unexpected error: {exc!r}\n{traceback.format_exc(limit=3)}"
