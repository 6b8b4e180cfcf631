"""ALTI (Ferrando et al. 2022): each layer's attention block output, residual and LayerNorm
included, split exactly into one vector per input token (Kobayashi et al. 2021), and how much
each of those vectors shaped the result (the ALTI distance rule).

For output token i of a layer with input x, attention alpha, head transforms f_h (see
``engine.lab.norm``), output bias b, LayerNorm gamma, beta and pre-LN standard deviation s_i:

    T_i(x_j) = gamma * C[sum_h alpha^h_ij f_h(x_j) + [i == j] x_i] / s_i,   C v = v - mean(v)
    y_i      = sum_j T_i(x_j) + gamma * C[b] / s_i + beta                    (the LN output)
    c_ij     = max(0, |y_i|_1 - |y_i - T_i(x_j)|_1), rows then normalised to sum 1.

``token_vectors`` materialises every vector (the reference); ``contributions`` computes the
same c in chunks of input tokens without the [T, T, H] tensor of a whole layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

# Floats of T_i(x_j) live at a time in the fast path (sources x T x H): about 1.6 MB, 8 sources
# of 128 tokens x 384, the fastest measured on the 2-core CPU (4 and 16 within 3%, 2 and 32
# 8-20% slower).
CHUNK_FLOATS = 400_000


@dataclass(frozen=True)
class LayerParts:
    """One layer's recordings and weights, batch dimension removed, float32."""

    probs: torch.Tensor             # [N, T, T]
    transformed_by_source: torch.Tensor  # [T(j), N, H] f_h(x_j), source-first, as norm and
                                         # ALTI both read it
    layer_input: torch.Tensor       # [T, H] x
    attention_dense: torch.Tensor   # [T, H] sum_j sum_h alpha f_h(x_j) + b, before the residual
    attention_output: torch.Tensor  # [T, H] y, after residual + LayerNorm
    out_bias: torch.Tensor          # [H] b
    gamma: torch.Tensor             # [H]
    beta: torch.Tensor              # [H]
    eps: float

    @cached_property
    def std(self) -> torch.Tensor:
        """[T] s_i, the exact pre-LN standard deviation of token i."""
        pre_ln = self.attention_dense + self.layer_input                     # [T, H]
        # Not Tensor.var: on the CPU it took 7x as long as this for [128, 384] (measured).
        variance = _centred(pre_ln).square().mean(dim=-1)                     # [T]
        return (variance + self.eps).sqrt()

    @property
    def scale(self) -> torch.Tensor:
        """[T, H] gamma / s_i."""
        return self.gamma[None, :] / self.std[:, None]

    @cached_property
    def probs_by_source(self) -> torch.Tensor:
        """[T(j), T(i), N] the probabilities source-first, as norm and ALTI both read them."""
        return self.probs.permute(2, 1, 0).contiguous()

    @property
    def transformed(self) -> torch.Tensor:
        """[N, T, H] f_h(x_j), head-first (a view)."""
        return self.transformed_by_source.transpose(0, 1)


def _centred(v: torch.Tensor) -> torch.Tensor:
    return v - v.mean(dim=-1, keepdim=True)


def token_vectors(parts: LayerParts) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference: every T_i(x_j) as [T(i), T(j), H], and the bias term [T, H] that completes
    their sum to y. Materialises the per-head vectors [N, T, T, H]."""
    seq_len = parts.layer_input.shape[0]
    per_head = parts.probs[..., None] * parts.transformed[:, None, :, :]  # [N, T, T, H]
    residual = torch.zeros_like(per_head[0])                              # [T, T, H]
    residual[torch.arange(seq_len), torch.arange(seq_len)] = parts.layer_input
    scale = parts.scale                                                   # [T, H]
    vectors = scale[:, None, :] * _centred(per_head.sum(dim=0) + residual)
    bias = scale * _centred(parts.out_bias)[None, :] + parts.beta[None, :]
    return vectors, bias


def contributions_from_vectors(vectors: torch.Tensor, resultant: torch.Tensor) -> torch.Tensor:
    """vectors [R, T, H] T_i(x_j), resultant [R, H] y_i -> c [R, T], rows summing to 1."""
    distance = (resultant[:, None, :] - vectors).abs().sum(dim=-1)       # [R, T]
    closeness = (resultant.abs().sum(dim=-1, keepdim=True) - distance).clamp_min(0)
    return closeness / closeness.sum(dim=-1, keepdim=True)


def contributions(parts: LayerParts, source_chunk: int | None = None) -> torch.Tensor:
    """ALTI contributions c [T, T] of one layer, rows summing to 1; equal to
    ``contributions_from_vectors(token_vectors(parts)[0], parts.attention_output)``.
    ``source_chunk``: input tokens j per step (default: ``CHUNK_FLOATS`` worth).

    Why it is fast: the LayerNorm scale gamma / s_i factors into gamma (per feature) times
    1 / s_i (per output row), so |y_i - T_i(x_j)|_1 = |s_i y_i - gamma C[...]|_1 / s_i: gamma goes
    into the per-head vectors once, s_i into y_i once, and each chunk of sources is one batched
    matmul (the subtraction of s_i y_i folded in) and one absolute sum over [J, T, H] (no
    per-element scaling pass).
    """
    seq_len, hidden = parts.layer_input.shape
    source_chunk = min(source_chunk or max(1, CHUNK_FLOATS // (seq_len * hidden)), seq_len)
    # Source-first, [J(j), T(i), H]: each chunk is one batched matmul over j whose every
    # product is a whole [T, N] x [N, H] (not a chunk of rows of it: measured 27% faster), and
    # the distances reduce over the contiguous last axis. One buffer, written in place: a fresh
    # tensor of this size per step costs more in page faults than the arithmetic.
    probs = parts.probs_by_source                                         # [T(j), T(i), N]
    gamma = parts.gamma
    gamma_f = _centred(parts.transformed_by_source) * gamma               # [T(j), N, H]
    gamma_x = _centred(parts.layer_input) * gamma                         # [T, H] the residual
    std = parts.std                                                       # [T]
    resultant = parts.attention_output                                    # [T, H] y
    minus_scaled = (resultant * -std[:, None])[None]                      # [1, T, H] -s_i y_i
    scaled_distance = torch.empty(seq_len, seq_len, dtype=gamma_f.dtype,
                                  device=gamma_f.device)                  # [T(j), T(i)]
    buffer = torch.empty(source_chunk * seq_len * hidden, dtype=gamma_f.dtype,
                         device=gamma_f.device)
    for start in range(0, seq_len, source_chunk):
        sources = slice(start, min(start + source_chunk, seq_len))
        gaps = buffer[:(sources.stop - start) * seq_len * hidden].view(-1, seq_len, hidden)
        # s_i (T_i(x_j) - y_i), the -s_i y_i as the product's starting value: one pass less
        # over [J, T, H] than a subtraction after it.
        torch.baddbmm(minus_scaled, probs[sources], gamma_f[sources], out=gaps)  # [J, T(i), H]
        torch.diagonal(gaps[:, sources], dim1=0, dim2=1).add_(gamma_x[sources].T)  # + residual
        torch.sum(gaps.abs_(), dim=-1, out=scaled_distance[sources])      # [J, T(i)]
    distance = scaled_distance.T / std[:, None]                           # [T(i), T(j)]
    closeness = (resultant.abs().sum(dim=-1, keepdim=True) - distance).clamp_min_(0)
    return closeness / closeness.sum(dim=-1, keepdim=True)
