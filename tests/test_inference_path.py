"""The inference path's shortcuts give the plain path's numbers: the attention maps computed in
their buffer (and head by head on oneDNN for long inputs), the fused FFN GELU and the MLM decoder
on oneDNN, against autograd's path and against ``transformers``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import BertConfig
from engine.cpu_attention import PER_HEAD_FROM
from engine.cpu_packing import packing_available
from engine.fused_gelu import FusedGeluIntermediate
from engine.infer import Predictor
from engine.model import BertModel
from engine.onednn_linear import OneDnnLinear
from engine.trace import Trace
from tests.conftest import padded_batch

pytestmark = pytest.mark.skipif(not packing_available(), reason="PyTorch built without oneDNN")


@pytest.mark.parametrize("length", [40, PER_HEAD_FROM + 20])
def test_maps_computed_in_their_buffer_match_the_autograd_path_on_a_padded_batch(length):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=300, hidden_size=48, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=PER_HEAD_FROM + 32)  # head size 24: scale 1/sqrt(24)
    model = BertModel(config).eval()
    ids, mask, types = padded_batch(300, (length, length - 17))
    embeds = model.embeddings.word_embeddings(ids).detach().requires_grad_(True)
    plain = model(inputs_embeds=embeds, attention_mask=mask, token_type_ids=types,
                  output_attentions=True)  # a gradient asked through q and k: the plain path
    maps = torch.empty(2, 2, 2, length, length)  # [L, B, N, T, T]
    with torch.inference_mode():
        fast = model(ids, mask, types, trace=(trace := Trace(probs_out=maps)))
    valid = mask.bool()
    torch.testing.assert_close(fast.last_hidden_state[valid],
                               plain.last_hidden_state[valid].detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(maps, torch.stack(plain.attentions).detach(), atol=1e-6, rtol=0)
    assert all(layer.probs.data_ptr() == maps[i].data_ptr()  # kept once: in the buffer
               for i, layer in enumerate(trace.layers))
    assert float(maps[:, 1, :, :, length - 17:].abs().max()) == 0.0  # padding gets no attention


def test_fp32_predictor_with_fused_gelu_and_decoder_on_onednn_matches_transformers(
        hf_pretraining_dir):
    import transformers

    predictor = Predictor.load(hf_pretraining_dir, device="cpu")
    layer = predictor.encoder.encoder.layer[0]
    assert isinstance(layer.intermediate, FusedGeluIntermediate)
    decoder = predictor.heads.predictions.decoder
    assert isinstance(decoder, OneDnnLinear)  # still tied: no copy of the embeddings
    assert decoder.weight is predictor.encoder.embeddings.word_embeddings.weight
    analysis = predictor.analyze("The [MASK] sat on the mat.", "It was a sunny [MASK].", top_k=7)
    hf = transformers.BertForPreTraining.from_pretrained(
        hf_pretraining_dir, attn_implementation="eager", dtype=torch.float32).eval()
    with torch.no_grad():
        out = hf(input_ids=torch.tensor([analysis.token_ids.tolist()]),
                 token_type_ids=torch.tensor([analysis.token_type_ids.tolist()]),
                 output_attentions=True)
    np.testing.assert_allclose(analysis.attentions, torch.stack(out.attentions)[:, 0].numpy(),
                               atol=1e-6)
    for m in analysis.fill_mask:
        probs, ids = out.prediction_logits[0, m.position].softmax(-1).topk(7)
        np.testing.assert_array_equal(m.token_ids, ids.numpy())
        np.testing.assert_allclose(m.probs, probs.numpy(), atol=1e-6)
    nsp = out.seq_relationship_logits.softmax(-1)[0, 0].item()
    assert analysis.nsp_is_next == pytest.approx(nsp, abs=1e-6)
