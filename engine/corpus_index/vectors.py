"""Per-token vectors from one forward pass, as the index stores them and search queries them:
the hidden state leaving a layer and the per-head attention contexts, L2-normalised (each
head's slice on its own, as exBERT does, so a head-restricted search sums per-head cosines)."""

from __future__ import annotations

import numpy as np
import torch

from engine.model import extended_attention_mask
from engine.trace import LayerRecord


def layer_vectors(encoder, ids: torch.Tensor, types: torch.Tensor, attention: torch.Tensor,
                  layers: tuple[int, ...], contexts: bool) -> dict[str, torch.Tensor]:
    """ids, types, attention [B, T] -> {"hidden-L": [B, T, H], "context-L": [B, T, H]} for each
    of ``layers``, unit rows (each head's slice for contexts). Layers above the last asked-for
    one are not run."""
    x = encoder.embeddings(ids, types)  # [B, T, H]
    key_mask = extended_attention_mask(attention)
    out: dict[str, torch.Tensor] = {}
    for i, layer in enumerate(encoder.encoder.layer[:max(layers) + 1]):
        record = (LayerRecord(frozenset({"context"}), None, None)
                  if contexts and i in layers else None)
        x = layer(x, key_mask, None, record)
        if i in layers:
            out[f"hidden-{i}"] = torch.nn.functional.normalize(x.float(), dim=-1)
            if record is not None:
                heads = torch.nn.functional.normalize(record.context.float(), dim=-1)  # [B,N,T,D]
                out[f"context-{i}"] = heads.transpose(1, 2).flatten(2)               # [B,T,H]
    return out


def head_mask_query(query: np.ndarray, heads: list[int] | None, num_heads: int) -> np.ndarray:
    """A unit-per-head context query [H] restricted to ``heads`` (None: all) and scaled so its
    inner product with a stored context is the mean cosine over those heads."""
    per_head = query.reshape(num_heads, -1).astype(np.float32)  # [N, D]
    chosen = list(range(num_heads)) if heads is None else heads
    mask = np.zeros((num_heads, 1), dtype=np.float32)
    mask[chosen] = 1.0 / len(chosen)
    return (per_head * mask).reshape(-1)
