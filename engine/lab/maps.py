"""Rollout, norm-based and ALTI maps of one input, from one traced pass of the encoder."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from engine.lab.ablation import predictor_gate
from engine.lab.alti import LayerParts, contributions
from engine.lab.head_names import Head
from engine.lab.norm import head_transformed, norm_maps
from engine.lab.rollout import residual_attention, rollout
from engine.lab.weights import attention_projections
from engine.results import MAP_METHODS, AttributionMaps, InferenceError
from engine.trace import Trace

# What the decomposition reads from each layer; rollout alone needs only the probabilities.
_RECORDINGS = frozenset({"probs", "values", "layer_input", "attention_dense", "attention_output"})


def layer_parts(predictor, trace: Trace) -> list[LayerParts]:
    """Each layer's recordings (batch 1) and weights, float32, after a pass with ``trace``.

    A head gate on the pass (``engine.lab.ablation``) scales each head's f_h(x_j) as it scaled
    the head's context: an ablated head moves nothing, so the decomposition sums to the gated
    block's own output."""
    parts = []
    for layer, record, (weight, bias) in zip(predictor.encoder.encoder.layer, trace.layers,
                                             attention_projections(predictor)):
        out = layer.attention.output
        transformed = head_transformed(record.values[0].float(), weight)  # [T(j), N, H]
        if record.gate is not None:
            transformed = transformed * record.gate.float()[None, :, None]
        parts.append(LayerParts(
            probs=record.probs[0].float(),
            transformed_by_source=transformed,
            layer_input=record.layer_input[0].float(),
            attention_dense=record.attention_dense[0].float(),
            attention_output=record.attention_output[0].float(),
            out_bias=bias, gamma=out.LayerNorm.weight.detach().float(),
            beta=out.LayerNorm.bias.detach().float(), eps=out.LayerNorm.eps))
    return parts


def traced_pass(predictor, text_a: str, text_b: str | None, record: Iterable[str],
                head_gate: torch.Tensor | None = None) -> tuple[list[str], Trace]:
    """One encoder pass over the pair with every layer's ``record`` kept, up to the last
    layer's attention block: the maps read nothing after it (its FFN is a ninth of the pass).
    ``head_gate`` [L, N]: heads to ablate (``engine.lab.ablation.head_gate``), or None."""
    enc = predictor.tokenizer.encode(text_a, text_b,
                                     max_length=predictor.config.max_position_embeddings)
    ids = torch.tensor([enc.ids], device=predictor.device)              # [1, T]
    types = torch.tensor([enc.token_type_ids], device=predictor.device)  # [1, T]
    trace = Trace(record=record, head_gate=head_gate)
    bert = predictor.encoder
    bert.encoder(bert.embeddings(ids, types), None, trace=trace, last_attention_only=True)
    return enc.tokens, trace


def explain_maps(predictor, text_a: str, text_b: str | None = None,
                 methods: Iterable[str] = tuple(MAP_METHODS),
                 head_mask: Iterable[Head] | None = None) -> dict[str, AttributionMaps]:
    """The asked-for methods' maps (keys of ``MAP_METHODS``), all from one traced pass;
    ``head_mask``: heads to ablate, as (layer, head) from 0, or none."""
    methods = list(methods)
    unknown = [m for m in methods if m not in MAP_METHODS]
    if unknown:
        raise InferenceError(f"unknown map method {unknown[0]!r}; known: {', '.join(MAP_METHODS)}")
    decompose = bool({"norm", "alti"} & set(methods))
    with torch.inference_mode():
        tokens, trace = traced_pass(predictor, text_a, text_b,
                                    _RECORDINGS if decompose else {"probs"},
                                    predictor_gate(predictor, head_mask))
        parts = layer_parts(predictor, trace) if decompose else []
        result = {}
        if "rollout" in methods:
            # Layer by layer: a stack of every probability map first would copy [L, N, T, T].
            mixing = torch.cat([residual_attention(r.probs.float()) for r in trace.layers])
            result["rollout"] = AttributionMaps("rollout", tokens, _numpy(rollout(mixing)),
                                                _numpy(mixing), True)
        if "norm" in methods:
            # Each layer's per-head maps written in place: stacking them after is one more copy.
            heads = torch.empty(len(parts), *parts[0].probs.shape,
                                device=parts[0].probs.device)                   # [L, N, T, T]
            summed = [norm_maps(p.probs, p.transformed, p.probs_by_source,
                                p.transformed_by_source, out=layer_heads)[1]
                      for p, layer_heads in zip(parts, heads)]
            result["norm"] = AttributionMaps("norm", tokens, _numpy(heads), _numpy(summed), False)
        if "alti" in methods:
            per_layer = torch.stack([contributions(p) for p in parts])          # [L, T, T]
            result["alti"] = AttributionMaps("alti", tokens, _numpy(rollout(per_layer)),
                                             _numpy(per_layer), True)
    return {m: result[m] for m in methods}


def _numpy(tensors) -> np.ndarray:
    """A tensor, or a sequence of them stacked, as float32 numpy."""
    stacked = tensors if isinstance(tensors, torch.Tensor) else torch.stack(list(tensors))
    return stacked.cpu().numpy().astype(np.float32, copy=False)
