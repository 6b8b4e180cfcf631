"""Attention rollout (Abnar & Zuidema 2020): how much of each token's representation after a
layer can be traced, through every path of attention and residual, to each input token.

In torch, not numpy: a numpy matrix product wakes OpenBLAS's own threads, which then spin
against torch's on a small CPU (measured: the next torch call ran 2-3x slower).
"""

from __future__ import annotations

import torch


def residual_attention(attentions: torch.Tensor) -> torch.Tensor:
    """attentions [L, N, T, T] -> [L, T, T]: the heads' mean plus the identity for the residual,
    rows renormalised (each row of the mean already sums to 1, so this is 0.5 A + 0.5 I)."""
    mixed = attentions.mean(dim=1) + torch.eye(attentions.shape[-1], dtype=attentions.dtype,
                                               device=attentions.device)
    return mixed / mixed.sum(dim=-1, keepdim=True)


def rollout(mixing: torch.Tensor) -> torch.Tensor:
    """mixing [L, T, T] (row i: how layer l's output i mixes that layer's inputs) -> [L, T, T],
    the cumulative map after every layer: R[0] = M[0], R[l] = M[l] @ R[l - 1]. Row-stochastic
    mixing matrices give row-stochastic maps."""
    maps = mixing.clone()
    for layer in range(1, len(mixing)):
        maps[layer] = mixing[layer] @ maps[layer - 1]
    return maps


def attention_rollout(attentions: torch.Tensor) -> torch.Tensor:
    """attentions [L, N, T, T] (e.g. ``torch.from_numpy(Analysis.attentions)``) -> [L, T, T]."""
    return rollout(residual_attention(attentions))
