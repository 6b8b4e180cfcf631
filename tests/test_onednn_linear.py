"""Training's Linear layers on oneDNN: the same loss, gradients and checkpoints as F.linear."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.config import BertConfig
from engine.cpu_packing import packing_available
from engine.model import BertForPreTraining
from engine.onednn_linear import route_linears_to_onednn

pytestmark = pytest.mark.skipif(not packing_available(), reason="this PyTorch has no oneDNN op")

TINY = BertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                  intermediate_size=64, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0)


def plain_and_routed() -> tuple[BertForPreTraining, BertForPreTraining]:
    torch.manual_seed(0)
    plain = BertForPreTraining(TINY).train()
    routed = copy.deepcopy(plain)
    assert route_linears_to_onednn(routed) > 0
    return plain, routed


def pretraining_batch(masked: bool = True) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(5, TINY.vocab_size, (3, 20), generator=generator)  # [B, T]
    mask = torch.ones_like(ids)
    mask[2, 15:] = 0  # one padded sequence
    labels = torch.full_like(ids, -100)
    if masked:
        labels[:, [2, 7, 11]] = ids[:, [2, 7, 11]]
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
            "labels": labels, "next_sentence_label": torch.tensor([0, 1, 0])}


def loss_and_grads(model: BertForPreTraining, batch) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    return float(loss.detach()), {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("masked", [True, False], ids=["masked tokens", "none masked"])
def test_loss_and_every_gradient_match_the_f_linear_path(masked):
    plain, routed = plain_and_routed()
    batch = pretraining_batch(masked)  # none masked: the MLM decoder runs on 0 rows
    plain_loss, plain_grads = loss_and_grads(plain, batch)
    routed_loss, routed_grads = loss_and_grads(routed, batch)
    assert routed_loss == pytest.approx(plain_loss, rel=1e-6)
    assert routed_grads.keys() == plain_grads.keys()
    for name, grad in plain_grads.items():
        # atol: some gradients are zero in exact arithmetic (the key bias) and rounding noise here
        torch.testing.assert_close(routed_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_parameters_names_and_the_tied_decoder_are_kept():
    plain, routed = plain_and_routed()
    assert list(routed.state_dict()) == list(plain.state_dict())
    decoder = routed.cls.predictions.decoder
    assert decoder.weight is routed.bert.embeddings.word_embeddings.weight
    assert decoder.bias is routed.cls.predictions.bias
    reloaded = BertForPreTraining(TINY)
    reloaded.load_state_dict(routed.state_dict())  # a checkpoint loads into the plain model
    ids = pretraining_batch()["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval()(ids).prediction_logits,
                                   routed.eval()(ids).prediction_logits)


def test_bf16_autocast_keeps_its_own_products():
    plain, routed = plain_and_routed()
    ids = pretraining_batch()["input_ids"]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        ours, theirs = routed.eval()(ids).prediction_logits, plain.eval()(ids).prediction_logits
    assert ours.dtype == torch.bfloat16
    assert torch.equal(ours, theirs)
