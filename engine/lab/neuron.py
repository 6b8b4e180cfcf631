"""bertviz's neuron view: for one layer, head and query token, the query and key vectors (the
head's slices after the projections, bias included, before the 1/sqrt(D) scaling), their
elementwise product, the scaled dot products and their softmax, which is the attention row."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from engine.lab.ablation import predictor_gate
from engine.lab.head_names import Head, check_heads
from engine.results import InferenceError, NeuronView
from engine.trace import Trace


def neuron_view(predictor, text_a: str, text_b: str | None, layer: int, head: int,
                query_position: int, head_mask: Iterable[Head] | None = None) -> NeuronView:
    """The view of head ``layer:head`` (from 0) at token ``query_position``; ``head_mask``
    ablates heads first, as ``Predictor.analyze`` does."""
    cfg = predictor.config
    check_heads([(layer, head)], cfg.num_hidden_layers, cfg.num_attention_heads)
    enc = predictor.tokenizer.encode(text_a, text_b, max_length=cfg.max_position_embeddings)
    if not 0 <= query_position < len(enc.ids):
        raise InferenceError(f"query position {query_position} is outside the "
                             f"{len(enc.ids)} tokens")
    ids = torch.tensor([enc.ids], device=predictor.device)              # [1, T]
    types = torch.tensor([enc.token_type_ids], device=predictor.device)  # [1, T]
    with torch.inference_mode():
        trace = Trace(record={"queries", "keys"}, head_gate=predictor_gate(predictor, head_mask))
        predictor.encoder(ids, token_type_ids=types, trace=trace)
        record = trace.layers[layer]
        query = record.queries[0, head, query_position].float()   # [D]
        keys = record.keys[0, head].float()                        # [T, D]
        products = query[None, :] * keys                           # [T, D]
        scores = products.sum(-1) * keys.shape[-1] ** -0.5         # [T]
        probs = torch.softmax(scores, dim=-1)
    return NeuronView(tokens=enc.tokens, layer=layer, head=head, query_position=query_position,
                      query=query.cpu().numpy(), keys=keys.cpu().numpy(),
                      products=products.cpu().numpy(), scores=scores.cpu().numpy(),
                      probs=probs.cpu().numpy())
