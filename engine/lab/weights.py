"""The model as the lab needs it: float32 ``nn.Linear`` weights that autograd can pass through.

On the CPU ``Predictor`` packs the encoder's Linear layers for oneDNN (``engine.cpu_packing``);
those have no backward, and bf16 layers (``engine.precision``) are no place for gradients
compared at 1e-4. The lab
works on a float32 twin: the same module tree with each packed layer rebuilt as a
``GradLinear`` (``engine.lab.packed_grad``: dense float32 weights, and oneDNN packs for both
products of a gradient pass, the forward one shared with the predictor's packed layer).
Float32 tensors are shared with the predictor's model, not copied, so plain ``analyze()`` keeps
its packed fast path and the twin costs the packed weights' dense and transposed copies.
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn

from engine.cpu_packing import PackedLinear
from engine.lab.packed_grad import GradLinear
from engine.precision import Bf16Linear


def linear_weights(linear: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """weight [out, in] and bias [out] of an ``nn.Linear``, a ``PackedLinear`` or a
    ``Bf16Linear``, dense float32."""
    weight = linear.weight.to_dense() if linear.weight.is_mkldnn else linear.weight
    return weight.detach().float(), linear.bias.detach().float()


def _dense_linear(packed: PackedLinear | Bf16Linear) -> nn.Linear:
    weight, bias = linear_weights(packed)
    if isinstance(packed, PackedLinear):  # its float32 pack serves the twin's forward as is
        return GradLinear(weight, bias, packed.weight)
    if packed.weight.is_mkldnn:  # a packed bf16 layer: oneDNN is there, the packs are new
        return GradLinear(weight, bias)
    linear = nn.Linear(packed.in_features, packed.out_features, device=weight.device)
    linear.weight, linear.bias = nn.Parameter(weight, False), nn.Parameter(bias, False)
    return linear


def float32_twin(module: nn.Module) -> nn.Module:
    """A copy of ``module``'s tree in eval mode whose parameters are float32 views of the
    original's (the same memory when already float32) and need no gradient, with packed layers
    unpacked. The original is left exactly as it was."""
    if isinstance(module, (PackedLinear, Bf16Linear)):
        return _dense_linear(module)
    twin = copy.copy(module)  # shallow: the dicts below are replaced, never shared
    twin._parameters = {name: None if p is None else nn.Parameter(p.detach().float(), False)
                        for name, p in module._parameters.items()}
    twin._buffers = dict(module._buffers)
    twin._modules = {name: None if child is None else float32_twin(child)
                     for name, child in module._modules.items()}
    twin.training = False
    return twin


_TWINS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()        # predictor -> twin
_PROJECTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # predictor -> list


def float32_model(predictor) -> nn.Module:
    """The predictor's model as a float32 twin autograd can pass through, made once."""
    twin = _TWINS.get(predictor)
    if twin is None:
        twin = _TWINS[predictor] = float32_twin(predictor.model)
    return twin


def attention_projections(predictor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's attention output projection split by head, (weight [N, D, H] with
    weight[h] head h's slice of the [H, N * D] matrix transposed, bias [H]) dense float32, made
    once (unpacking and re-laying them out on every call costs a fifth of an analysis)."""
    found = _PROJECTIONS.get(predictor)
    if found is None:
        heads = predictor.config.num_attention_heads
        found = _PROJECTIONS[predictor] = [
            (weight.view(-1, heads, weight.shape[1] // heads).permute(1, 2, 0).contiguous(), bias)
            for weight, bias in (linear_weights(layer.attention.output.dense)
                                 for layer in predictor.encoder.encoder.layer)]
    return found
