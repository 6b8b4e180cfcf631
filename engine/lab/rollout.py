"""Attention rollout (Abnar & Zuidema 2020): how much of each token's representation after a
layer can be traced, through every path of attention and residual, to each input token."""

from __future__ import annotations

import numpy as np


def residual_attention(attentions: np.ndarray) -> np.ndarray:
    """attentions [L, N, T, T] -> [L, T, T]: the heads' mean plus the identity for the residual,
    rows renormalised (each row of the mean already sums to 1, so this is 0.5 A + 0.5 I)."""
    mixed = attentions.mean(axis=1) + np.eye(attentions.shape[-1], dtype=attentions.dtype)
    return mixed / mixed.sum(axis=-1, keepdims=True)


def rollout(mixing: np.ndarray) -> np.ndarray:
    """mixing [L, T, T] (row i: how layer l's output i mixes that layer's inputs) -> [L, T, T],
    the cumulative map after every layer: R[0] = M[0], R[l] = M[l] @ R[l - 1]. Row-stochastic
    mixing matrices give row-stochastic maps."""
    maps = np.empty_like(mixing)
    maps[0] = mixing[0]
    for layer in range(1, len(mixing)):
        maps[layer] = mixing[layer] @ maps[layer - 1]
    return maps


def attention_rollout(attentions: np.ndarray) -> np.ndarray:
    """attentions [L, N, T, T] (e.g. ``Analysis.attentions``) -> rollout maps [L, T, T]."""
    return rollout(residual_attention(attentions))
