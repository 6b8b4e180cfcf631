"""The model on tiny configs: head shapes, attention invariants, padding, losses, config."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import padded_batch
from engine.config import PRESET_SIZES, BertConfig, ConfigError
from engine.model import (ARCHITECTURES, BertForMaskedLM, BertForPreTraining,
                          BertForQuestionAnswering, BertForSequenceClassification,
                          BertForTokenClassification, BertModel)

TINY = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=37, max_position_embeddings=40)
B, T = 3, 11


def batch(seed: int = 0):
    return padded_batch(TINY.vocab_size, (11, 7, 4), seed)


@pytest.fixture
def pretraining():
    torch.manual_seed(0)
    return BertForPreTraining(TINY).eval()


def test_every_head_has_the_documented_shape():
    ids, mask, types = batch()
    torch.manual_seed(0)
    cfg = BertConfig(**{**TINY.to_dict(), "num_labels": 3})
    with torch.no_grad():
        enc = BertModel(cfg).eval()(ids, mask, types)
        assert enc.last_hidden_state.shape == (B, T, 32) and enc.pooler_output.shape == (B, 32)
        pt = BertForPreTraining(cfg).eval()(ids, mask, types)
        assert pt.prediction_logits.shape == (B, T, 120)
        assert pt.seq_relationship_logits.shape == (B, 2)
        assert BertForMaskedLM(cfg).eval()(ids, mask, types).logits.shape == (B, T, 120)
        assert BertForSequenceClassification(cfg).eval()(ids, mask, types).logits.shape == (B, 3)
        assert BertForTokenClassification(cfg).eval()(ids, mask, types).logits.shape == (B, T, 3)
    qa_cfg = BertConfig(**{**TINY.to_dict(), "num_labels": 2})
    with torch.no_grad():
        assert BertForQuestionAnswering(qa_cfg).eval()(ids, mask, types).logits.shape == (B, T, 2)


def test_attention_rows_sum_to_one_and_padded_keys_get_nothing(pretraining, device):
    pretraining.to(device)
    ids, mask, types = (t.to(device) for t in batch())
    with torch.no_grad():
        out = pretraining(ids, mask, types, output_attentions=True)
    assert len(out.encoder.attentions) == TINY.num_hidden_layers
    for probs in out.encoder.attentions:  # [B, N, T, T]
        assert probs.shape == (B, TINY.num_attention_heads, T, T)
        torch.testing.assert_close(probs.sum(-1),
                                   torch.ones(B, TINY.num_attention_heads, T, device=device))
        padded_keys = (mask == 0)[:, None, None, :].expand_as(probs)
        assert probs[padded_keys].abs().max() == 0


def test_sdpa_and_explicit_softmax_paths_agree(pretraining, device):
    pretraining.to(device)
    ids, mask, types = (t.to(device) for t in batch())
    with torch.no_grad():
        fast = pretraining(ids, mask, types, output_hidden_states=True)
        explicit = pretraining(ids, mask, types, output_hidden_states=True, output_attentions=True)
    assert fast.encoder.attentions is None
    valid = mask.bool()
    for a, b in zip(fast.encoder.hidden_states, explicit.encoder.hidden_states):
        torch.testing.assert_close(a[valid], b[valid], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast.seq_relationship_logits, explicit.seq_relationship_logits,
                               atol=1e-5, rtol=1e-5)


def test_padding_does_not_change_a_sequence(pretraining):
    """A sequence alone and the same sequence padded inside a batch give the same outputs."""
    ids, mask, types = batch()
    n = int(mask[1].sum())
    with torch.no_grad():
        batched = pretraining(ids, mask, types, output_attentions=True)
        alone = pretraining(ids[1:2, :n], mask[1:2, :n], types[1:2, :n], output_attentions=True)
    torch.testing.assert_close(batched.prediction_logits[1, :n], alone.prediction_logits[0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched.seq_relationship_logits[1], alone.seq_relationship_logits[0],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched.encoder.attentions[-1][1, :, :n, :n],
                               alone.encoder.attentions[-1][0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("with_probs", [False, True])
def test_last_layer_rows_compute_exactly_those_rows(pretraining, with_probs):
    ids, mask, types = batch()
    rows = torch.tensor([0, 3, 5])
    with torch.no_grad():
        full = pretraining.bert(ids, mask, types, output_attentions=with_probs)
        part = pretraining.bert(ids, mask, types, output_attentions=with_probs,
                                last_layer_rows=rows)
    torch.testing.assert_close(part.last_hidden_state, full.last_hidden_state[:, rows],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(part.pooler_output, full.pooler_output, atol=1e-5, rtol=1e-5)
    if with_probs:  # every attention row is still there for the caller
        torch.testing.assert_close(part.attentions[-1], full.attentions[-1])


def test_mlm_logits_only_where_asked_and_loss_ignores_minus_100(pretraining):
    ids, mask, types = batch()
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[2, 1] = 17, 42
    with torch.no_grad():
        full = pretraining(ids, mask, types)
        out = pretraining(ids, mask, types, labels=labels,
                          next_sentence_label=torch.tensor([0, 1, 0]))
    assert out.prediction_logits.shape == (2, TINY.vocab_size)  # [M, V], M = 2 labelled
    torch.testing.assert_close(out.prediction_logits, full.prediction_logits[labels != -100])
    expected = torch.nn.functional.cross_entropy(full.prediction_logits[labels != -100],
                                                 torch.tensor([17, 42]))
    torch.testing.assert_close(out.mlm_loss, expected)
    torch.testing.assert_close(out.loss, out.mlm_loss + out.nsp_loss)


@pytest.mark.parametrize("masked", [3, 70])
def test_spare_decoder_rows_change_neither_logits_nor_gradients(masked):
    from engine.model import padded_rows

    assert padded_rows(masked) > masked  # 3 -> 4 rows, 70 -> 128 rows
    torch.manual_seed(0)
    model = BertForPreTraining(TINY).eval()  # no dropout: both passes see the same network
    ids = torch.randint(5, TINY.vocab_size, (8, 20))
    ones = torch.ones_like(ids)
    where = torch.zeros(8 * 20, dtype=torch.bool)
    where[torch.randperm(8 * 20)[:masked]] = True
    where = where.view(8, 20)
    grads = []
    for predict_at in (where, None):
        model.zero_grad()
        out = model(ids, ones, ones * 0, predict_at=predict_at)
        logits = out.prediction_logits if predict_at is not None else out.prediction_logits[where]
        logits.square().sum().backward()
        grads.append(model.bert.embeddings.word_embeddings.weight.grad.clone())
        if predict_at is not None:
            asked = logits.detach()
    torch.testing.assert_close(asked, logits.detach())
    torch.testing.assert_close(grads[0], grads[1])


def test_decoded_row_counts_take_few_shapes():
    """Any masked count from 1 to 2048 is decoded in one of a few dozen shapes, never fewer rows."""
    from engine.model import padded_rows

    rows = {m: padded_rows(m) for m in range(2049)}
    assert rows[0] == 0 and all(m <= r < max(2 * m, m + 64) for m, r in rows.items() if m)
    assert len(set(rows.values())) <= 40


def test_a_batch_without_masked_tokens_has_zero_mlm_loss_not_nan(pretraining):
    ids, mask, types = batch()
    pretraining.train()
    out = pretraining(ids, mask, types, labels=torch.full_like(ids, -100),
                      next_sentence_label=torch.tensor([0, 1, 1]))
    assert out.mlm_loss.item() == 0.0
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in pretraining.parameters() if p.grad is not None)


def test_decoder_is_tied_to_word_embeddings_through_training_and_moves(pretraining):
    decoder = pretraining.cls.predictions.decoder
    assert decoder.weight is pretraining.bert.embeddings.word_embeddings.weight
    assert decoder.bias is pretraining.cls.predictions.bias
    ids, mask, types = batch()
    opt = torch.optim.SGD(pretraining.parameters(), lr=0.1)
    labels = torch.full_like(ids, -100)
    labels[0, 1] = 7
    pretraining(ids, mask, types, labels=labels).loss.backward()
    opt.step()
    torch.testing.assert_close(decoder.weight, pretraining.bert.embeddings.word_embeddings.weight)
    assert pretraining.to(torch.float64).cls.predictions.decoder.weight is \
        pretraining.bert.embeddings.word_embeddings.weight


def test_init_follows_bert(pretraining):
    emb = pretraining.bert.embeddings.word_embeddings.weight
    assert emb[TINY.pad_token_id].abs().max() == 0  # the [PAD] row starts at zero
    assert abs(emb[1:].std().item() - TINY.initializer_range) < 0.005
    assert pretraining.bert.encoder.layer[0].output.LayerNorm.weight.eq(1).all()
    assert pretraining.cls.predictions.bias.eq(0).all()


def test_sequence_classification_losses_follow_problem_type():
    torch.manual_seed(0)
    ids, mask, types = batch()
    reg = BertForSequenceClassification(BertConfig(**{**TINY.to_dict(), "num_labels": 1}))
    out = reg(ids, mask, types, labels=torch.tensor([0.5, -1.0, 2.0]))
    torch.testing.assert_close(out.loss, torch.nn.functional.mse_loss(out.logits.squeeze(-1),
                                                                      torch.tensor([0.5, -1.0, 2.0])))
    multi = BertForSequenceClassification(BertConfig(**{**TINY.to_dict(), "num_labels": 3}))
    targets = torch.tensor([[1.0, 0, 1], [0, 0, 0], [0, 1, 0]])
    out = multi(ids, mask, types, labels=targets)
    torch.testing.assert_close(out.loss, torch.nn.functional.binary_cross_entropy_with_logits(
        out.logits, targets))


def test_qa_loss_ignores_answers_cut_off_by_truncation():
    torch.manual_seed(0)
    ids, mask, types = batch()
    qa = BertForQuestionAnswering(TINY).eval()
    out = qa(ids, mask, types, start_positions=torch.tensor([2, 50, 1]),
             end_positions=torch.tensor([3, 60, 2]))
    kept = torch.tensor([0, 2])  # row 1's answer lies past the sequence: it takes no part
    ref = qa(ids[kept], mask[kept], types[kept], start_positions=torch.tensor([2, 1]),
             end_positions=torch.tensor([3, 2]))
    torch.testing.assert_close(out.loss, ref.loss)


def test_bf16_autocast_runs_and_stays_close(pretraining):
    ids, mask, types = batch()
    with torch.no_grad():
        ref = pretraining(ids, mask, types, output_attentions=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = pretraining(ids, mask, types, output_attentions=True)
    assert (low.encoder.attentions[-1].float() - ref.encoder.attentions[-1]).abs().max() < 0.05
    assert (low.seq_relationship_logits.float() - ref.seq_relationship_logits).abs().max() < 0.1


def test_presets_follow_googles_table():
    for name, (layers, hidden) in PRESET_SIZES.items():
        cfg = BertConfig.preset(name)
        assert (cfg.num_hidden_layers, cfg.hidden_size) == (layers, hidden)
        assert cfg.num_attention_heads * 64 == hidden and cfg.intermediate_size == 4 * hidden
    base = sum(p.numel() for p in BertForPreTraining(BertConfig.preset("tiny")).parameters())
    assert 4.3e6 < base < 4.5e6  # BERT-Tiny: 4.4M parameters with the MLM/NSP heads
    with pytest.raises(ConfigError, match="unknown preset"):
        BertConfig.preset("huge")


def test_config_json_round_trip_ignores_unknown_keys(tmp_path):
    data = {**TINY.to_dict(), "some_future_key": 1, "transformers_version": "9.9",
            "id2label": {"0": "neg", "1": "pos", "2": "neutral"}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    cfg = BertConfig.from_json_file(path)
    assert cfg.num_labels == 3 and cfg.id2label[2] == "neutral"
    assert cfg.label2id == {"neg": 0, "pos": 1, "neutral": 2}
    again = BertConfig.from_dict(json.loads(cfg.to_json_string()))
    assert again == cfg
    assert "some_future_key" not in cfg.to_dict()


@pytest.mark.parametrize("change, message", [
    ({"num_attention_heads": 5}, "not a multiple"),
    ({"hidden_act": "mish"}, "hidden_act"),
    ({"num_hidden_layers": 0}, "positive integer"),
    ({"vocab_size": "many"}, "positive integer"),
    ({"position_embedding_type": "relative_key"}, "only 'absolute'"),
    ({"hidden_dropout_prob": 1.5}, "hidden_dropout_prob"),
    ({"pad_token_id": 500}, "outside the vocabulary"),
])
def test_wrong_configs_get_a_clear_message(change, message):
    with pytest.raises(ConfigError, match=message):
        BertConfig.from_dict({**TINY.to_dict(), **change})


def test_architectures_registry_names_every_class():
    assert set(ARCHITECTURES) == {"BertModel", "BertForPreTraining", "BertForMaskedLM",
                                  "BertForSequenceClassification", "BertForTokenClassification",
                                  "BertForQuestionAnswering"}
