"""Packed (oneDNN) Linear layers give the plain model's outputs."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.config import BertConfig
from engine.cpu_packing import pack_linears, packing_available
from engine.model import BertModel

pytestmark = pytest.mark.skipif(not packing_available(), reason="PyTorch built without oneDNN")


def test_packed_encoder_matches_the_plain_one_on_a_padded_batch():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=200, hidden_size=64, num_hidden_layers=3,
                        num_attention_heads=4, intermediate_size=128)
    plain = BertModel(config).eval()
    packed = copy.deepcopy(plain)
    assert pack_linears(packed.encoder) == 3 * 6  # Q, K, V, attention out, FFN in, FFN out
    ids = torch.randint(5, 200, (2, 13))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    with torch.inference_mode():
        a = plain(ids, mask, output_attentions=True)
        b = packed(ids, mask, output_attentions=True)
    valid = mask.bool()
    torch.testing.assert_close(b.last_hidden_state[valid], a.last_hidden_state[valid],
                               atol=1e-5, rtol=1e-5)
    for x, y in zip(a.attentions, b.attentions):
        torch.testing.assert_close(y, x, atol=1e-5, rtol=1e-5)
    assert not any(isinstance(m, torch.nn.Linear) for m in packed.encoder.modules())
