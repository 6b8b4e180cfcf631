"""Norm-based attention (Kobayashi et al. 2020): weigh each attention link by the size of what
it moves, ||alpha_ij f_h(x_j)||, where f_h is head h's value transform followed by its slice of
the attention output projection (value bias in, output bias out)."""

from __future__ import annotations

import torch


def head_transformed(values: torch.Tensor, out_weight: torch.Tensor) -> torch.Tensor:
    """values [N, T, D] (bias included), out_weight [H, N * D] -> f_h(x_j) as [N, T, H]."""
    heads, _, head_size = values.shape
    per_head = out_weight.view(out_weight.shape[0], heads, head_size)  # [H, N, D]
    return torch.einsum("ntd,knd->ntk", values, per_head)


def norm_maps(probs: torch.Tensor, transformed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """probs [N, T, T], transformed [N, T, H] -> (per head ||alpha^h_ij f_h(x_j)|| [N, T, T],
    the heads' sum ||sum_h alpha^h_ij f_h(x_j)|| [T, T]).

    Why no [N, T, T, H] tensor: alpha is a scalar, so the per-head norm is alpha ||f_h(x_j)||,
    and the sum's squared norm is alpha_ij^T G_j alpha_ij with G_j the heads' Gram matrix at j.
    """
    per_head = probs * transformed.norm(dim=-1)[:, None, :]             # [N, T, T]
    gram = torch.einsum("njk,mjk->jnm", transformed, transformed)       # [T, N, N]
    squared = torch.einsum("nij,jnm,mij->ij", probs, gram, probs)       # [T, T]
    return per_head, squared.clamp_min(0).sqrt()
