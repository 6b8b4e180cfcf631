"""The lab twin's packed Linear: the same forward and input gradient as ``F.linear``, the
predictor's packed weight shared rather than copied, and a plain Linear again once copied or
converted (oneDNN tensors cannot be copied)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from engine.cpu_packing import PackedLinear, packing_available
from engine.lab.packed_grad import GradLinear
from engine.lab.weights import float32_model

pytestmark = pytest.mark.skipif(not packing_available(), reason="needs oneDNN packing")


def _forward_and_input_gradient(layer, x):
    x = x.detach().requires_grad_(True)
    out = layer(x)
    (grad,) = torch.autograd.grad((out * out.detach().cos()).sum(), x)  # a non-uniform upstream
    return out.detach(), grad


def test_packed_products_equal_the_plain_linear_and_its_input_gradient():
    torch.manual_seed(0)
    weight, bias = torch.randn(48, 32), torch.randn(48)
    layer = GradLinear(weight, bias)
    x = torch.randn(3, 7, 32)
    out, grad = _forward_and_input_gradient(layer, x)
    plain_out, plain_grad = _forward_and_input_gradient(lambda v: F.linear(v, weight, bias), x)
    assert layer.packs is not None
    assert out.shape == (3, 7, 48) and grad.shape == x.shape
    torch.testing.assert_close(out, plain_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad, plain_grad, atol=1e-5, rtol=1e-5)


def test_a_copied_or_converted_layer_runs_as_a_plain_linear():
    torch.manual_seed(1)
    layer = GradLinear(torch.randn(6, 4), torch.randn(6))
    x = torch.randn(2, 4, dtype=torch.float64)
    double = copy.deepcopy(layer).double()
    assert double.packs is None and layer.packs is not None
    torch.testing.assert_close(double(x), F.linear(x, layer.weight.double(), layer.bias.double()))


def test_the_twin_shares_the_predictors_packed_weights(tiny_predictor):
    twin = float32_model(tiny_predictor)
    packed = tiny_predictor.encoder.encoder.layer[0].attention.self.query
    twin_layer = twin.bert.encoder.layer[0].attention.self.query
    assert isinstance(packed, PackedLinear) and isinstance(twin_layer, GradLinear)
    assert twin_layer.packs[0] is packed.weight  # the forward pack is the predictor's own
    assert not twin_layer.weight.requires_grad
    torch.testing.assert_close(twin_layer.weight, packed.weight.to_dense())
