"""Head ablation: a set of heads named ``L:H`` (layer and head, both counted from 0, as the
explorer shows them) turned into the trace's head gate (``engine.trace``), which multiplies each
head's context by 1 (kept) or 0 (ablated) before the attention output projection (Michel et al.
2019; HF's ``head_mask``)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

# Head and format_heads are re-exported: engine.infer and engine.cli import them from here.
from engine.lab.head_names import Head, check_heads, format_heads  # noqa: F401


def head_gate(heads: Iterable[Head], num_layers: int, num_heads: int,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """[L, N] float32: 0 at the named heads, 1 elsewhere."""
    gate = torch.ones(num_layers, num_heads, device=device)
    for layer, head in check_heads(heads, num_layers, num_heads):
        gate[layer, head] = 0.0
    return gate


def predictor_gate(predictor, heads: Iterable[Head] | None) -> torch.Tensor | None:
    """The predictor's head gate for ``heads``, or None (no gate: the plain path) when none."""
    heads = tuple(heads or ())
    if not heads:
        return None
    cfg = predictor.config
    return head_gate(heads, cfg.num_hidden_layers, cfg.num_attention_heads, predictor.device)
