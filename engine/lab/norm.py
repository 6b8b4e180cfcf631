"""Norm-based attention (Kobayashi et al. 2020): weigh each attention link by the size of what
it moves, ||alpha_ij f_h(x_j)||, where f_h is head h's value transform followed by its slice of
the attention output projection (value bias in, output bias out)."""

from __future__ import annotations

import torch


def head_transformed(values: torch.Tensor, per_head_weight: torch.Tensor) -> torch.Tensor:
    """values [N, T, D] (bias included), per_head_weight [N, D, H] (each head's slice of the
    output projection, ``engine.lab.weights.attention_projections``) -> f_h(x_j) source-first,
    [T(j), N, H] contiguous (``.transpose(0, 1)`` is the [N, T, H] view).

    One product per head written into its slice: a batched product over heads gives [N, T, H]
    and a transposed copy after (measured: about 15% slower than this at 128 tokens x 384)."""
    heads, seq_len, _ = values.shape
    out = torch.empty(seq_len, heads, per_head_weight.shape[-1], dtype=values.dtype,
                      device=values.device)                             # [T(j), N, H]
    for head in range(heads):
        torch.mm(values[head], per_head_weight[head], out=out[:, head])
    return out


def norm_maps(probs: torch.Tensor, transformed: torch.Tensor,
              probs_by_source: torch.Tensor | None = None,
              transformed_by_source: torch.Tensor | None = None,
              out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """probs [N, T, T], transformed [N, T, H] -> (per head ||alpha^h_ij f_h(x_j)|| [N, T, T],
    the heads' sum ||sum_h alpha^h_ij f_h(x_j)|| [T, T]). ``probs_by_source`` [T(j), T(i), N]
    and ``transformed_by_source`` [T(j), N, H]: the same tensors source-first, contiguous, when
    the caller has them already; ``out`` [N, T, T]: where to write the per-head maps.

    Why no [N, T, T, H] tensor: alpha is a scalar, so the per-head norm is alpha ||f_h(x_j)||,
    and the sum's squared norm is alpha_ij^T G_j alpha_ij with G_j the heads' Gram matrix at j.
    """
    per_head = torch.mul(probs, transformed.norm(dim=-1)[:, None, :], out=out)  # [N, T, T]
    by_source = (transformed.transpose(0, 1).contiguous() if transformed_by_source is None
                 else transformed_by_source)                            # [T(j), N, H]
    gram = torch.bmm(by_source, by_source.transpose(1, 2))              # [T(j), N, N]
    weights = (probs.permute(2, 1, 0).contiguous() if probs_by_source is None
               else probs_by_source)                                    # [T(j), T(i), N]
    squared = (torch.bmm(weights, gram) * weights).sum(dim=-1).T        # [T(i), T(j)]
    return per_head, squared.clamp_min(0).sqrt()
