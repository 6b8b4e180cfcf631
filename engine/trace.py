"""What one forward pass records when asked, and the head gate it applies.

A ``Trace`` goes down the model's ladder (``BertModel`` -> encoder -> layer -> attention) as one
object, so a new thing to observe is a new ``LayerRecord`` field and one ``save`` where it is
computed, never a new parameter at every level. Without a trace the model takes its fast paths
(SDPA, ``last_layer_rows``, packed weights) and does no extra work.

Recordings stay in the autograd graph (nothing is detached), so gradients with respect to them,
or to a float ``head_gate`` with ``requires_grad``, can be taken after the pass.

Shapes: B batch, T sequence length, H hidden size, N heads, D head size, I intermediate size,
L layers; R is T except at the last layer when the model computes only ``last_layer_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields

import torch


@dataclass(eq=False)
class LayerRecord:
    """One layer's recordings; a tensor stays None unless its name was asked for."""

    wanted: frozenset[str]
    gate: torch.Tensor | None       # [N] this layer's head gate, or None
    probs_out: torch.Tensor | None  # [B, N, T, T] slot the probabilities are copied into, or None
    # Entering the layer; layer 0's input is the embeddings' output.
    layer_input: torch.Tensor | None = None       # [B, T, H]
    queries: torch.Tensor | None = None           # [B, N, T, D] projected, before the 1/sqrt(D)
    keys: torch.Tensor | None = None              # [B, N, T, D]
    values: torch.Tensor | None = None            # [B, N, T, D]
    probs: torch.Tensor | None = None             # [B, N, T, T] softmax over keys, before dropout
    # Per head, after the gate, before the output projection.
    context: torch.Tensor | None = None           # [B, N, R, D]
    # What the attention block adds to the residual: its output dense (with dropout in training).
    attention_dense: torch.Tensor | None = None   # [B, R, H]
    attention_output: torch.Tensor | None = None  # [B, R, H] after residual + LayerNorm
    intermediate: torch.Tensor | None = None      # [B, R, I] FFN activations
    ffn_dense: torch.Tensor | None = None         # [B, R, H] FFN's output dense, before residual
    layer_output: torch.Tensor | None = None      # [B, R, H] after residual + LayerNorm, leaving

    def wants(self, name: str) -> bool:
        return name in self.wanted

    def save(self, name: str, tensor: torch.Tensor) -> None:
        if name in self.wanted:  # float32 always (a bf16 model's FFN activations are bf16)
            setattr(self, name, tensor.float() if tensor.dtype == torch.bfloat16 else tensor)

    def save_probs(self, probs: torch.Tensor) -> None:
        """probs [B, N, T, T]; with ``probs_out`` the record is a view of that buffer, and the
        layer's own copy is freed once its context exists: the maps are kept once, possibly on
        another device or dtype. Probabilities computed in the slot itself (the model's
        inference path, ``engine.model.attention_probs``) are not copied."""
        if self.probs_out is not None and probs is not self.probs_out:
            self.probs_out.copy_(probs)
            probs = self.probs_out
        self.probs = probs

    def gated(self, context: torch.Tensor) -> torch.Tensor:
        """context [B, N, R, D] -> the same with each head scaled by its gate (Michel et al.
        2019), recorded when asked."""
        if self.gate is not None:
            context = context * self.gate.to(context.dtype)[:, None, None]
        self.save("context", context)
        return context


# The tensor fields are those that start empty; the first three steer the recording.
RECORDABLE = frozenset(f.name for f in fields(LayerRecord) if f.default is None)


@dataclass(eq=False)
class Trace:
    """What to record in one forward pass (names from ``RECORDABLE``) and the head gate.

    ``head_gate`` [L, N]: 1 keeps a head, 0 ablates it; it multiplies each head's context before
    the output projection. ``probs_out`` [L, B, N, T, T]: when given, the probabilities are
    recorded into it layer by layer. After the pass ``layers`` holds one ``LayerRecord`` per
    layer; a trace may be reused, each pass starts fresh records.
    """

    record: Iterable[str] = ()
    head_gate: torch.Tensor | None = None
    probs_out: torch.Tensor | None = None
    layers: list[LayerRecord] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.record = frozenset(self.record) | ({"probs"} if self.probs_out is not None else set())
        unknown = self.record - RECORDABLE
        if unknown:
            raise ValueError(f"cannot record {sorted(unknown)}; known: {sorted(RECORDABLE)}")

    @classmethod
    def for_hf_outputs(cls, attentions: bool, hidden_states: bool) -> Trace:
        """The recordings behind HF's ``output_attentions`` / ``output_hidden_states``."""
        return cls(({"probs"} if attentions else set())
                   | ({"layer_input", "layer_output"} if hidden_states else set()))

    def start(self, num_layers: int, num_heads: int) -> list[LayerRecord]:
        """Fresh records for one pass, one per layer."""
        gate = self.head_gate
        if gate is not None and tuple(gate.shape) != (num_layers, num_heads):
            raise ValueError(f"head_gate must be [layers, heads] = [{num_layers}, {num_heads}], "
                             f"got {list(gate.shape)}")
        self.layers = [
            LayerRecord(self.record, None if gate is None else gate[i],
                        None if self.probs_out is None else self.probs_out[i])
            for i in range(num_layers)]
        return self.layers

    @property
    def attentions(self) -> tuple[torch.Tensor, ...] | None:
        """L of [B, N, T, T], as HF's ``output_attentions`` gives them."""
        if "probs" not in self.record:
            return None
        return tuple(layer.probs for layer in self.layers)

    @property
    def hidden_states(self) -> tuple[torch.Tensor, ...] | None:
        """L + 1 of [B, T, H], embeddings first, as HF's ``output_hidden_states`` gives them."""
        if not {"layer_input", "layer_output"} <= self.record:
            return None
        return (self.layers[0].layer_input, *(layer.layer_output for layer in self.layers))
