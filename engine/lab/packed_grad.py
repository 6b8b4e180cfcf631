"""A float32 Linear for the lab's gradient passes that runs both of its products on oneDNN with
prepacked weights: the forward x W^T + b, and the backward's input gradient g W (weight and
bias gradients are never needed: the lab's twin has no trainable parameter).

Why: on the 2-core AMD EPYC this project benchmarks on, MKL's sgemm (``F.linear``, ``mm``)
runs the encoder's products at 64-82 GFLOP/s and oneDNN with packed weights at 96-107
(bert-base shapes, 1024 rows, one thread, 2026-12-02); those products are ~90% of an
integrated-gradients run.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.cpu_packing import pack_weight, packed_linear


class _PackedProducts(torch.autograd.Function):
    """x [..., in] -> x W^T + b [..., out]; the gradient flows to x alone."""

    @staticmethod
    def forward(x, packed, packed_transposed, bias):
        return packed_linear(x, packed, bias)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.packed_transposed = inputs[2]

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):  # grad [..., out] -> [..., in]
        return packed_linear(grad, ctx.packed_transposed, None), None, None, None


class GradLinear(nn.Linear):
    """An ``nn.Linear`` (dense float32 weight and bias, no gradient) that also holds its weight
    packed for oneDNN, as is and transposed, and runs on those for float32 inputs.

    The packs are a cache of the dense weight: converting the module (``.double()``, ``.to``)
    drops them, and so does a copy or a pickle (oneDNN tensors have no storage to copy), after
    which it is a plain ``nn.Linear``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor,
                 packed: torch.Tensor | None = None):
        """weight [out, in], bias [out], float32; ``packed``: ``weight`` already packed (a
        ``PackedLinear``'s buffer, shared rather than packed again), or None."""
        super().__init__(weight.shape[1], weight.shape[0], device="meta")
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.packs = (pack_weight(weight) if packed is None else packed,
                      pack_weight(weight.t().contiguous()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.packs is None or x.dtype != torch.float32 or self.weight.requires_grad:
            return F.linear(x, self.weight, self.bias)
        return _PackedProducts.apply(x, *self.packs, self.bias)

    def _apply(self, fn, recurse=True):
        self.packs = None
        return super()._apply(fn, recurse)

    def __getstate__(self):
        return {**self.__dict__, "packs": None}
