"""Float32 Linear layers on oneDNN instead of MKL's sgemm, on a CPU, on their own parameters:
training's (every Linear, ``Trainer``) and inference's MLM decoder (``Predictor``: its weight is
the word embeddings, which packing would copy; for the few rows fill-mask decodes, MKL reads it
at a third of oneDNN's speed on this AMD CPU, 1 row at H = 256: 2.6 against 1.5 ms, one thread).

All three products of a Linear run on oneDNN on plain row-major tensors, so nothing is packed
or cached and an optimizer step needs no repacking: the forward x W^T + b and the input
gradient g W through its inner product (``mkldnn._linear_pointwise``), the weight and bias
gradients g^T x and sum(g) through its weight-gradient primitive
(``aten.mkldnn_linear_backward_weights``).

Why: on the 2-core AMD EPYC this project benchmarks on, MKL's sgemm (``F.linear``, ``mm``,
``addmm``) runs BERT-Mini's training products 1.5-3x slower than oneDNN (batch 32 x 128,
one thread, CPU time, 2026-12-02: forward 4096x256 @ 256x1024 22 ms vs 9.6 ms, input gradient
26 ms vs 12 ms, weight gradient 26 ms vs 16 ms; the whole step: ``bench/train_linear_ab.py``),
and those products were ~65% of a pretraining step.

The layer keeps its parameters (the same ``Parameter`` objects, names and state-dict keys),
so checkpoints, tied weights, DDP and the optimizer see no difference. Anything else (bf16
autocast, another dtype or device) takes ``F.linear`` as before.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.cpu_packing import packed_linear, packing_available, replace_linears


class _OneDnnLinearProducts(torch.autograd.Function):
    """x [..., in], weight [out, in], bias [out] or None -> x W^T + b [..., out]."""

    @staticmethod
    def forward(x, weight, bias):
        rows = x.reshape(-1, x.shape[-1]).contiguous()  # [n, in]
        return packed_linear(rows, weight.contiguous(), bias).view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # grad [..., out]
        x, weight = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1]).contiguous()  # [n, out]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = packed_linear(g, weight.t().contiguous(), None).view(x.shape)  # [..., in]
        if ctx.needs_input_grad[1]:
            rows = x.reshape(-1, x.shape[-1]).contiguous()  # [n, in]
            # oneDNN's own weight-gradient primitive reads g and x as they are (its tensors are
            # plain copies, cheaper than the transposes an inner product of g^T and x^T needs)
            grad_weight, grad_bias = torch.ops.aten.mkldnn_linear_backward_weights(
                g.to_mkldnn(), rows.to_mkldnn(), weight, ctx.has_bias)
            grad_weight = grad_weight.to_dense()  # [out, in]
            grad_bias = grad_bias.to_dense() if ctx.has_bias else None  # [out]
        elif ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = g.sum(0)  # [out]
        return grad_x, grad_weight, grad_bias


def _routed(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu"))


class OneDnnLinear(nn.Linear):
    """An ``nn.Linear`` holding another one's parameters, whose float32 CPU products (forward
    and both gradients) run on oneDNN."""

    def __init__(self, linear: nn.Linear):
        super().__init__(linear.in_features, linear.out_features, bias=linear.bias is not None,
                         device="meta")
        self.weight = linear.weight  # the same Parameter: ties, names and the optimizer hold
        self.bias = linear.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., in] -> [..., out]
        if not _routed(x, self.weight):
            return F.linear(x, self.weight, self.bias)
        return _OneDnnLinearProducts.apply(x, self.weight, self.bias)


def route_linears_to_onednn(model: nn.Module) -> int:
    """Replace every ``nn.Linear`` of ``model`` by a ``OneDnnLinear`` on the same parameters,
    where this PyTorch has the oneDNN op; returns how many were replaced."""
    if not (packing_available() and hasattr(torch.ops.aten, "mkldnn_linear_backward_weights")):
        return 0
    return replace_linears(model, OneDnnLinear)
