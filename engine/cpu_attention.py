"""Attention's two products head by head on oneDNN, for long inputs on a CPU, without autograd.

``torch.matmul`` on [B, N, T, T] goes to MKL's batched gemm, which on this AMD CPU runs about
half as fast as oneDNN on the same shapes; a call per head pays some 10 us of overhead, so
oneDNN wins from about 256 rows and keys on (one thread, CPU time, scores + softmax + context
of one layer, heads of 64: 128 tokens 1.5 against 1.0 ms; 256, 12 heads: 3.2 against 3.7 ms;
512, 16 heads: 14 against 20 ms). The scores of one head ([R, S], in cache) are normalised
straight into the maps' slot, so no [N, R, S] scores tensor exists.

Shapes: B batch, N heads, R query rows, S keys, D head size.
"""

from __future__ import annotations

import torch

from engine.cpu_packing import packed_linear, packing_available

PER_HEAD_FROM = 256  # rows and keys from which the per-head oneDNN products are the faster


def per_head_wanted(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether the product of a [B, N, R, *] and b [B, N, S, *] goes head by head: float32 on a
    CPU with oneDNN, R and S at least ``PER_HEAD_FROM``, and no gradient asked through them."""
    return (a.device.type == "cpu" and a.dtype == b.dtype == torch.float32
            and min(a.shape[-2], b.shape[-2]) >= PER_HEAD_FROM
            and not (torch.is_grad_enabled() and (a.requires_grad or b.requires_grad))
            and packing_available())


def softmax_scores_per_head(q: torch.Tensor, k: torch.Tensor, scale: float,
                            key_mask: torch.Tensor | None, out: torch.Tensor) -> torch.Tensor:
    """q [B, N, R, D], k [B, N, S, D], key_mask [B, 1, 1, S] bool -> ``out`` [B, N, R, S]
    filled with softmax over S of q k^T * scale, masked keys 0."""
    lowest = torch.finfo(out.dtype).min
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            scores = packed_linear(q[b, h], k[b, h].contiguous(), None).mul_(scale)  # [R, S]
            if key_mask is not None:
                scores.masked_fill_(~key_mask[b, 0], lowest)             # [1, S] over the rows
            torch.ops.aten._softmax.out(scores, -1, False, out=out[b, h])
    return out


def context_per_head(probs: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """probs [B, N, R, S] @ v [B, N, S, D] -> [B, N, R, D], a view of a [B, R, N, D] tensor (the
    heads side by side, the layout the output projection reads, so no copy follows)."""
    batch, heads, rows, _ = probs.shape
    out = probs.new_empty(batch, rows, heads, v.shape[-1])  # [B, R, N, D]
    for b in range(batch):
        for h in range(heads):
            out[b, :, h] = packed_linear(probs[b, h], v[b, h].t().contiguous(), None)  # [R, D]
    return out.transpose(1, 2)
