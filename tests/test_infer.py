"""Predictor.analyze: one pass, results equal to a full forward, and odd input handled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.analysis_io import save_analysis
from engine.infer import InferenceError, Predictor


@pytest.fixture(scope="module")
def predictor(hf_pretraining_dir) -> Predictor:
    return Predictor.load(hf_pretraining_dir, device="cpu")


def full_forward(predictor: Predictor, analysis):
    """The straightforward way: every position through the decoder, all outputs."""
    ids = torch.tensor([analysis.token_ids.tolist()])
    types = torch.tensor([analysis.token_type_ids.tolist()])
    with torch.no_grad():
        return predictor.model(ids, token_type_ids=types, output_attentions=True)


def test_analysis_equals_a_full_forward_pass(predictor):
    analysis = predictor.analyze("The [MASK] sat on the mat.", "It was a sunny [MASK].", top_k=7)
    out = full_forward(predictor, analysis)
    layers, heads = predictor.config.num_hidden_layers, predictor.config.num_attention_heads
    T = analysis.num_tokens
    assert analysis.attentions.shape == (layers, heads, T, T)
    assert analysis.attentions.dtype == np.float32
    np.testing.assert_allclose(analysis.attentions,
                               torch.stack(out.encoder.attentions)[:, 0].numpy(), atol=1e-6)
    masks = [i for i, tok in enumerate(analysis.tokens) if tok == "[MASK]"]
    assert [m.position for m in analysis.fill_mask] == masks and len(masks) == 2
    for m in analysis.fill_mask:
        probs, ids = out.prediction_logits[0, m.position].softmax(-1).topk(7)
        np.testing.assert_array_equal(m.token_ids, ids.numpy())
        np.testing.assert_allclose(m.probs, probs.numpy(), atol=1e-6)
        assert list(m.probs) == sorted(m.probs, reverse=True)
        assert m.tokens == predictor.tokenizer.convert_ids_to_tokens(ids.tolist())
    nsp = out.seq_relationship_logits.softmax(-1)[0, 0].item()
    assert analysis.nsp_is_next == pytest.approx(nsp, abs=1e-6)


def test_tokens_segments_and_offsets_describe_the_pair(predictor):
    a, b = "Héllo wörld!", "Second part."
    analysis = predictor.analyze(a, b)
    assert analysis.tokens[0] == "[CLS]" and analysis.tokens[-1] == "[SEP]"
    assert analysis.tokens.count("[SEP]") == 2
    sep = analysis.tokens.index("[SEP]")
    assert (analysis.token_type_ids[:sep + 1] == 0).all() and (analysis.token_type_ids[sep + 1:] == 1).all()
    assert analysis.special_mask.tolist() == [tok in ("[CLS]", "[SEP]") for tok in analysis.tokens]
    np.testing.assert_array_equal(analysis.positions, np.arange(analysis.num_tokens))
    for tok, seq, (start, end) in zip(analysis.tokens, analysis.sequence_ids, analysis.offsets):
        if seq is not None:
            text = a if seq == 0 else b
            assert text[start:end].lower().replace("é", "e").replace("ö", "o") == \
                tok.removeprefix("##")


def test_without_a_mask_or_sentence_b_the_result_says_why(predictor):
    analysis = predictor.analyze("Nothing is masked here.")
    assert analysis.fill_mask == [] and analysis.nsp_is_next is None
    assert any("no [MASK]" in note for note in analysis.notes)
    assert any("no sentence B" in note for note in analysis.notes)
    assert predictor.analyze("One.", "   ").nsp_is_next is None  # blank B = no pair


def test_encoder_only_model_gives_attention_and_explains_missing_heads(minilm_dir):
    analysis = Predictor.load(minilm_dir, device="cpu").analyze("A [MASK] here.", "And there.")
    assert analysis.attentions.shape[:2] == (6, 12)
    assert analysis.fill_mask == [] and analysis.nsp_is_next is None
    assert any("no MLM head" in note for note in analysis.notes)
    assert any("no NSP head" in note for note in analysis.notes)


@pytest.mark.parametrize("text_a, text_b", [
    ("", None), ("", ""), ("   ", "Only B."), ("[MASK] [MASK] [MASK]", "[MASK]"),
    ("\x00\x01\x07 bell\x1b[31m", "tab\tnew\nline"), ("😀👩‍👩‍👧 🇫🇷", "日本語のテキスト"),
    ("\ud800 lone surrogate", None), ("مرحبا بالعالم", "\u200f\u200e"),
])
def test_odd_input_gives_a_result_never_an_exception(predictor, text_a, text_b):
    analysis = predictor.analyze(text_a, text_b)
    T = analysis.num_tokens
    assert T >= 2 and analysis.attentions.shape[-2:] == (T, T)
    np.testing.assert_allclose(analysis.attentions.sum(-1), 1.0, atol=1e-5)
    assert np.isfinite(analysis.attentions).all()
    for m in analysis.fill_mask:
        assert np.isfinite(m.probs).all() and 0 < m.probs[0] <= 1
    if not text_a.strip():
        assert any("empty" in w for w in analysis.warnings)


def test_only_masks_predicts_every_one(predictor):
    analysis = predictor.analyze("[MASK] [MASK] [MASK]", "[MASK]")
    assert len(analysis.fill_mask) == 4
    assert analysis.nsp_is_next is not None


def test_text_past_max_positions_is_truncated_and_reported(predictor):
    max_pos = predictor.config.max_position_embeddings
    analysis = predictor.analyze("word " * 5000 + "[MASK]", "other " * 300)
    assert analysis.num_tokens == max_pos
    assert analysis.truncated and analysis.truncated_a > analysis.truncated_b > 0
    assert any("truncat" in w for w in analysis.warnings)


def test_top_k_is_checked_and_capped_at_the_vocabulary(predictor):
    with pytest.raises(InferenceError, match="top_k"):
        predictor.analyze("A [MASK].", top_k=0)
    analysis = predictor.analyze("A [MASK].", top_k=10**6)
    assert len(analysis.fill_mask[0].token_ids) == predictor.config.vocab_size
    np.testing.assert_allclose(analysis.fill_mask[0].probs.sum(), 1.0, atol=1e-4)
    with pytest.raises(InferenceError, match="text"):
        predictor.analyze(None)


def test_asking_for_cuda_without_it_is_a_clear_error(hf_pretraining_dir):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InferenceError, match="CUDA"):
        Predictor.load(hf_pretraining_dir, device="cuda")
    with pytest.raises(InferenceError, match="unknown device"):
        Predictor.load(hf_pretraining_dir, device="tpu9")


def test_analysis_exports_round_trip(predictor, tmp_path):
    import json

    analysis = predictor.analyze("The [MASK] is blue.", "Clouds drift.")
    npz = np.load(save_analysis(analysis, tmp_path / "a.npz"))
    np.testing.assert_array_equal(npz["attentions"], analysis.attentions)
    assert npz["tokens"].tolist() == analysis.tokens
    data = json.loads(save_analysis(analysis, tmp_path / "a.json").read_text())
    np.testing.assert_allclose(np.array(data["attentions"]), analysis.attentions, atol=1e-6)
    assert data["fill_mask"][0]["candidates"][0]["token"] == analysis.fill_mask[0].tokens[0]
    with pytest.raises(ValueError, match="format"):
        save_analysis(analysis, tmp_path / "a.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.npz"]
