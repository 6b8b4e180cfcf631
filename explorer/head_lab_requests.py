"""The head lab's requests to the inference worker and what answers them.

Each request carries the sequence number of the analysis it goes with and the heads ablated
for it; ``compute`` runs in the worker's thread (it calls the predictor, so the engine's torch
modules are imported there, inside it, never on the GUI thread).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.lab.head_names import Head
from engine.results import Analysis, HeadImportance, HeadStatistics


@dataclass(frozen=True)
class DashboardRequest:
    """Statistics of the analysis's attention and head importance for its [MASK] predictions
    (``engine.lab.importance.prediction_importance``)."""

    seq: int
    analysis_id: int  # id(analysis): two requests are equal when they are for one analysis
    analysis: Analysis = field(compare=False)
    head_mask: tuple[Head, ...] = ()


@dataclass(frozen=True)
class LensRequest:
    """The logit lens at the token ``position`` (a [MASK]) of the input."""

    seq: int
    text_a: str
    text_b: str
    position: int
    head_mask: tuple[Head, ...] = ()


@dataclass(frozen=True)
class NeuronRequest:
    """The neuron view of head ``layer:head`` at the query token ``query``."""

    seq: int
    text_a: str
    text_b: str
    layer: int
    head: int
    query: int
    head_mask: tuple[Head, ...] = ()


@dataclass(frozen=True)
class HeadsReport:
    statistics: HeadStatistics
    importance: HeadImportance | None  # None: the model has no MLM head
    note: str                          # why importance is missing, or what it was taken on


def compute(predictor, request):
    """HeadsReport, LogitLens or NeuronView for ``request`` (in the worker thread)."""
    heads = request.head_mask
    if isinstance(request, DashboardRequest):
        from engine.lab.heads import analysis_statistics
        from engine.lab.importance import prediction_importance

        analysis = request.analysis
        statistics = analysis_statistics(analysis)
        if "mlm" not in predictor.capabilities:
            return HeadsReport(statistics, None, "no MLM head: no importance for this model")
        importance = prediction_importance(predictor, analysis.text_a, analysis.text_b,
                                           head_mask=heads)
        note = (f"importance: loss of the top candidate at the {importance.tokens} [MASK]"
                if importance.loss == "mlm_prediction" else
                f"importance: MLM loss at {importance.tokens} token(s) masked as "
                "bert-engine evaluate masks (no [MASK] typed)" if importance.tokens else
                "no token to mask in this input: importance is 0")
        return HeadsReport(statistics, importance, note)
    if isinstance(request, LensRequest):
        from engine.lab.lens import logit_lens

        return logit_lens(predictor, request.text_a, request.text_b or None,
                          position=request.position, head_mask=heads)
    from engine.lab.neuron import neuron_view

    return neuron_view(predictor, request.text_a, request.text_b or None, request.layer,
                       request.head, request.query, head_mask=heads)


HEAD_LAB_REQUESTS = (DashboardRequest, LensRequest, NeuronRequest)
