"""Head ablation: a set of heads named ``L:H`` (layer and head, both counted from 0, as the
explorer shows them) turned into the trace's head gate (``engine.trace``), which multiplies each
head's context by 1 (kept) or 0 (ablated) before the attention output projection (Michel et al.
2019; HF's ``head_mask``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from engine.lab.head_names import Head, check_heads
from engine.lab.weights import float32_model
from engine.trace import Trace


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


_ENCODER_OPTIONAL_ARGS = ("trace", "last_attention_only")  # after x, key_mask, rows


@contextmanager
def gated_passes(predictor, heads: Iterable[Head], gradients: bool = False) -> Iterator[None]:
    """Within the block, every encoder pass of ``predictor``'s model (and, with ``gradients``,
    of the float32 twin that gradients run on) has ``heads`` ablated, whatever code makes the
    pass: for analyses that build their own passes (``bert-engine explain``). A pass given its
    own gate gets the product of both."""
    gate = predictor_gate(predictor, heads)
    if gate is None:
        yield
        return

    def hook(_module, args, kwargs):
        # BertEncoder.forward(x, key_mask, last_layer_rows, trace, last_attention_only): the
        # BertModel passes the trace by position, the lab's own passes by name.
        args, by_position = args[:3], args[3:]
        kwargs.update(zip(_ENCODER_OPTIONAL_ARGS, by_position))
        trace = kwargs.get("trace")
        if trace is None:
            kwargs["trace"] = Trace(head_gate=gate)
        else:
            trace.head_gate = gate if trace.head_gate is None else trace.head_gate * gate
        return args, kwargs

    # The layer stack itself, so a pass that skips BertModel.forward (the maps' traced pass
    # starts at the embeddings) is gated too.
    encoders = [predictor.encoder.encoder]
    if gradients:
        twin = float32_model(predictor)
        encoders.append(getattr(twin, "bert", twin).encoder)
    handles = [e.register_forward_pre_hook(hook, with_kwargs=True) for e in encoders]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
