"""Parity with HuggingFace ``transformers``: random weights both ways, and real MiniLM weights."""

from __future__ import annotations

import pytest
import torch
import transformers

from conftest import save_hf_model
from engine.checkpoint import load_checkpoint, save_checkpoint
from engine.infer import Predictor
from engine.precision import Bf16Linear

TOL = 1e-5


def hf_load(model_class: str, folder, device="cpu"):
    """A ``transformers`` model in fp32 with eager attention, the reference implementation."""
    return getattr(transformers, model_class).from_pretrained(
        folder, attn_implementation="eager", dtype=torch.float32).to(device).eval()


def padded_pair_batch(tokenizer, device):
    """Two pairs of different lengths, right-padded into one batch."""
    encs = [tokenizer.encode("The cat sat on the [MASK].", "It purred."),
            tokenizer.encode("A much longer first sentence, with commas, runs on here.",
                             "And the second one [MASK] too, quite a bit longer than that.")]
    width = max(len(e.ids) for e in encs)
    ids = torch.zeros(2, width, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, enc in enumerate(encs):
        n = len(enc.ids)
        ids[row, :n] = torch.tensor(enc.ids)
        types[row, :n] = torch.tensor(enc.token_type_ids)
        mask[row, :n] = 1
    assert mask.sum() < mask.numel(), "the batch must contain padding"
    return ids.to(device), types.to(device), mask.to(device)


def assert_close(ours, theirs, what):
    diff = (ours.float() - theirs.float()).abs().max().item()
    assert diff <= TOL, f"{what}: max abs diff {diff:.2e}"


def compare_pretraining(ours, hf, ids, types, mask):
    with torch.no_grad():
        a = ours(ids, mask, types, output_attentions=True, output_hidden_states=True)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=types,
               output_attentions=True, output_hidden_states=True)
    valid = mask.bool()
    # Padded query rows are undefined in both implementations; every real row must match.
    assert_close(a.prediction_logits[valid], b.prediction_logits[valid], "MLM logits")
    assert_close(a.seq_relationship_logits, b.seq_relationship_logits, "NSP logits")
    for i, (x, y) in enumerate(zip(a.encoder.hidden_states, b.hidden_states)):
        assert_close(x[valid], y[valid], f"hidden state {i}")
    assert len(a.encoder.attentions) == len(b.attentions)
    for i, (x, y) in enumerate(zip(a.encoder.attentions, b.attentions)):
        rows = valid[:, None, :, None].expand_as(x)
        assert_close(x[rows], y[rows], f"attention layer {i}")


def test_hf_pretraining_checkpoint_loads_with_same_outputs(hf_pretraining_dir, device):
    ours = load_checkpoint(hf_pretraining_dir, device=device)
    assert ours.architecture == "BertForPreTraining"
    hf = hf_load("BertForPreTraining", hf_pretraining_dir, device)
    ids, types, mask = padded_pair_batch(ours.tokenizer, device)
    compare_pretraining(ours.model, hf, ids, types, mask)
    single = ours.tokenizer.encode("Hello [MASK] world!")
    one = torch.tensor([single.ids], device=device)
    compare_pretraining(ours.model, hf, one, torch.zeros_like(one), torch.ones_like(one))


def test_our_checkpoint_loads_into_transformers_with_same_outputs(hf_pretraining_dir, tmp_path,
                                                                  device):
    ours = load_checkpoint(hf_pretraining_dir, device=device)
    with torch.no_grad():  # make sure the round trip carries trained-looking, non-init weights
        for p in ours.model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    saved = save_checkpoint(ours.model, tmp_path / "ours", ours.tokenizer)
    hf = hf_load("BertForPreTraining", saved, device)
    assert hf.cls.predictions.decoder.weight.data_ptr() == \
        hf.bert.embeddings.word_embeddings.weight.data_ptr(), "decoder must stay tied"
    ids, types, mask = padded_pair_batch(ours.tokenizer, device)
    compare_pretraining(ours.model, hf, ids, types, mask)


@pytest.mark.parametrize("model_class", ["BertForMaskedLM", "BertForSequenceClassification",
                                         "BertForTokenClassification", "BertForQuestionAnswering"])
def test_task_heads_match_transformers_both_ways(model_class, tmp_path, vocab_file):
    labels = 2 if model_class == "BertForQuestionAnswering" else 3  # QA: start and end
    folder = save_hf_model(model_class, tmp_path / "hf", vocab_file, num_labels=labels)
    ours = load_checkpoint(folder)
    assert ours.architecture == model_class
    hf = hf_load(model_class, folder)
    ids, types, mask = padded_pair_batch(ours.tokenizer, "cpu")
    logits = {"BertForQuestionAnswering": lambda o: torch.stack([o.start_logits,
                                                                o.end_logits], -1)}
    read = logits.get(model_class, lambda o: o.logits)
    with torch.no_grad():
        a = ours.model(ids, mask, types).logits
        b = read(hf(input_ids=ids, attention_mask=mask, token_type_ids=types))
    valid = mask.bool() if a.dim() == 3 else slice(None)
    assert_close(a[valid], b[valid], model_class)

    back = hf_load(model_class, save_checkpoint(ours.model, tmp_path / "ours", ours.tokenizer))
    with torch.no_grad():
        c = read(back(input_ids=ids, attention_mask=mask, token_type_ids=types))
    assert_close(a[valid], c[valid], f"{model_class} after our save")


def test_state_dict_names_are_hf_names(hf_pretraining_dir):
    hf = transformers.BertForPreTraining.from_pretrained(hf_pretraining_dir)
    ours = load_checkpoint(hf_pretraining_dir).model
    assert set(ours.state_dict()) == set(hf.state_dict())
    assert ours.load_state_dict(hf.state_dict()).missing_keys == []


def test_real_minilm_weights_match_transformers(minilm_dir, device):
    ours = load_checkpoint(minilm_dir, device=device)
    assert ours.architecture == "BertModel"
    hf = hf_load("BertModel", minilm_dir, device)
    ids, types, mask = padded_pair_batch(ours.tokenizer, device)
    with torch.no_grad():
        a = ours.model(ids, mask, types, output_attentions=True, output_hidden_states=True)
        b = hf(input_ids=ids, attention_mask=mask, token_type_ids=types,
               output_attentions=True, output_hidden_states=True)
    valid = mask.bool()
    for i, (x, y) in enumerate(zip(a.hidden_states, b.hidden_states)):
        assert_close(x[valid], y[valid], f"hidden state {i}")
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        rows = valid[:, None, :, None].expand_as(x)
        assert_close(x[rows], y[rows], f"attention layer {i}")
    assert_close(a.pooler_output, b.pooler_output, "pooler")


def test_predictor_analysis_matches_transformers_on_real_weights(minilm_dir, device):
    predictor = Predictor.load(minilm_dir, device=device)
    analysis = predictor.analyze("Paris is the capital of France.", "It lies on the Seine.")
    hf = hf_load("BertModel", minilm_dir, device)
    with torch.no_grad():
        out = hf(input_ids=torch.tensor([analysis.token_ids.tolist()], device=device),
                 token_type_ids=torch.tensor([analysis.token_type_ids.tolist()], device=device),
                 output_attentions=True)
    expected = torch.stack(out.attentions)[:, 0].cpu()  # [L, N, T, T]
    assert analysis.attentions.shape == tuple(expected.shape)
    assert_close(torch.from_numpy(analysis.attentions), expected, "analysis attentions")


def test_bf16_predictor_stays_close_to_fp32(hf_pretraining_dir, device):
    fp32 = Predictor.load(hf_pretraining_dir, device=device)
    bf16 = Predictor.load(hf_pretraining_dir, device=device, bf16=True)
    layers = [m for m in bf16.encoder.modules() if isinstance(m, Bf16Linear)]
    assert bf16.precision == "bf16" and layers
    assert all(m.weight.dtype == torch.bfloat16 for m in layers)
    text = ("The river [MASK] through the old town.", "Boats moved slowly along it.")
    a, b = fp32.analyze(*text), bf16.analyze(*text)
    assert b.attentions.dtype == a.attentions.dtype  # float32 for the GUI either way
    assert abs(a.attentions - b.attentions).max() < 2e-2
    assert abs(a.nsp_is_next - b.nsp_is_next) < 2e-2
    assert abs(a.fill_mask[0].probs[0] - b.fill_mask[0].probs[0]) < 2e-2
