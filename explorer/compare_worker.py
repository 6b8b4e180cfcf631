"""Compare mode's numpy side, in a thread of its own: whether two model folders can be compared
(their tokenizers and head layouts, read without the weights), and the pairing of A's and B's
analyses of one text (``engine.lab.divergence``: B − A maps, per-head divergence, candidates).
No torch here: model B itself runs in a second ``explorer.inference_worker.InferenceWorker``."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal

from explorer.request_thread import RequestThread, user_message


@dataclass(frozen=True)
class CheckSides:
    path_a: str
    name_a: str
    path_b: str
    name_b: str


@dataclass(frozen=True)
class PairWith:
    analysis_a: object  # engine.results.Analysis, model A's
    analysis_b: object  # model B's, of the same texts
    name_a: str
    name_b: str


class PairWorker(RequestThread):
    sig_checked = Signal(object, str)      # the CheckSides, "" or why they cannot be compared
    sig_paired = Signal(object)            # engine.results_compare.AnalysisPair
    sig_pair_failed = Signal(object, str)  # analysis A, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.handlers = {CheckSides: self._check, PairWith: self._pair}

    def _check(self, request: CheckSides) -> None:
        from engine.lab.divergence import check_sides, side_of_folder

        try:
            check_sides(side_of_folder(request.path_a, request.name_a),
                        side_of_folder(request.path_b, request.name_b))
        except Exception as exc:
            self.sig_checked.emit(request, user_message(exc))
            return
        self.sig_checked.emit(request, "")

    def _pair(self, request: PairWith) -> None:
        from engine.lab.divergence import pair_analyses

        try:
            pair = pair_analyses(request.analysis_a, request.analysis_b, request.name_a,
                                 request.name_b)
        except Exception as exc:
            self.sig_pair_failed.emit(request.analysis_a, user_message(exc))
            return
        self.sig_paired.emit(pair)
