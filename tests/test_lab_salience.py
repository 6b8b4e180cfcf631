"""Gradient salience: integrated gradients against Captum's over the transformers model with
the same weights, completeness on a fixed set of inputs, gradient x input against finite
differences, and targets, baselines and the float32 twin doing what they promise."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import save_hf_model
from engine.cpu_packing import PackedLinear, packing_available
from engine.infer import Predictor
from engine.lab.integration import integration_points
from engine.lab.targets import parse_target
from engine.lab.salience import (explain_salience, gradient, ig_batch, integrated_gradients,
                                 prepare)
from engine.lab.weights import float32_model
from engine.paths import default_model_dir
from engine.precision import Bf16Linear
from engine.results import InferenceError

PAIR = ("The keeper lit the [MASK] again.", "Ships relied on it.")
COMPLETENESS_FILE = Path(__file__).parent / "data" / "lab_completeness.jsonl"


def stock_function(folder: Path, predictor: Predictor, target: str, text_b: str | None):
    """The usual way: transformers' model, full MLM (or NSP) logits, then the log-probability."""
    import transformers

    hf = transformers.BertForPreTraining.from_pretrained(folder, dtype=torch.float32).eval()
    enc = predictor.tokenizer.encode(PAIR[0], text_b)
    types = torch.tensor([enc.token_type_ids])
    row = enc.ids.index(predictor.tokenizer.mask_id)

    def function(embeds: torch.Tensor) -> torch.Tensor:
        out = hf(inputs_embeds=embeds, token_type_ids=types.expand(len(embeds), -1))
        if target == "nsp":
            return out.seq_relationship_logits.log_softmax(-1)[:, 0]
        ids = [predictor.tokenizer.token_to_id(t) for t in target.split(":")[2].split(",")]
        logp = out.prediction_logits[:, row].log_softmax(-1)
        return logp[:, ids[0]] - (logp[:, ids[1]] if len(ids) == 2 else 0)

    return function


def captum_ig(function, problem, steps: int, rule: str, batch: int):
    from captum.attr import IntegratedGradients

    attributions, delta = IntegratedGradients(function).attribute(
        problem.embeds, baselines=problem.baseline, n_steps=steps, method=rule,
        internal_batch_size=batch, return_convergence_delta=True)
    return attributions[0].detach(), float(delta)


def assert_matches_captum(predictor, folder, target, text_b, steps, rule, baseline, batch=5):
    ours = explain_salience(predictor, PAIR[0], text_b, "ig", target, steps, baseline, rule, batch)
    problem = prepare(predictor, PAIR[0], text_b, ours.target, baseline)
    stock = stock_function(folder, predictor, ours.target, text_b)
    theirs, their_delta = captum_ig(stock, problem, steps, rule, batch)
    attributions, value, base_value = integrated_gradients(problem.function, problem.embeds,
                                                           problem.baseline, steps, rule, batch)
    # Captum's trapezoid weights are 1 / steps on the same points, ours 1 / (steps - 1).
    scale = (steps - 1) / steps if rule == "riemann_trapezoid" else 1.0
    torch.testing.assert_close(attributions * scale, theirs, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours.scores * scale, theirs.sum(-1).numpy(), atol=1e-4)
    with torch.no_grad():
        ends = stock(torch.cat([problem.embeds, problem.baseline]))
    assert ours.target_value == pytest.approx(float(ends[0]), abs=1e-5)
    assert ours.baseline_value == pytest.approx(float(ends[1]), abs=1e-5)
    if rule == "gausslegendre":
        assert ours.delta == pytest.approx(their_delta, abs=1e-4)


@pytest.mark.parametrize("target,text_b,rule,baseline", [
    ("mask:0", None, "gausslegendre", "pad"),
    ("mask:0:the,a", PAIR[1], "riemann_trapezoid", "mask"),
    ("nsp", PAIR[1], "gausslegendre", "zero"),
])
def test_integrated_gradients_match_captum_on_a_tiny_model(tiny_predictor, hf_pretraining_dir, target,
                                                           text_b, rule, baseline):
    assert_matches_captum(tiny_predictor, hf_pretraining_dir, target, text_b, 16, rule, baseline)


@pytest.mark.slow
def test_integrated_gradients_match_captum_on_the_default_model(default_predictor):
    assert_matches_captum(default_predictor, default_model_dir(), "mask:0", PAIR[1], 32,
                          "gausslegendre", "pad", batch=16)


@pytest.mark.slow
def test_attributions_add_up_to_the_target_change_on_every_fixed_input(default_predictor):
    rows = [json.loads(line) for line in COMPLETENESS_FILE.read_text().splitlines()]
    assert len(rows) >= 10
    for row in rows:
        s = explain_salience(default_predictor, row["text_a"], row["text_b"], "ig", row["target"],
                             steps=64, baseline=row["baseline"], batch=16)
        gap = s.target_value - s.baseline_value
        assert abs(gap) >= 0.1, (row, gap)  # the file's promise: a change worth splitting
        assert abs(s.delta) <= 0.01 * abs(gap), (row, s.delta, gap)
        assert s.scores.sum() == pytest.approx(gap, abs=0.01 * abs(gap))


def test_gradient_x_input_matches_finite_differences(tiny_predictor):
    s = explain_salience(tiny_predictor, *PAIR, method="grad-input", target="mask:0")
    problem = prepare(tiny_predictor, *PAIR, target=s.target)
    step = 1e-2
    with torch.no_grad():
        assert float(problem.function(problem.embeds)[0]) == pytest.approx(s.target_value,
                                                                            abs=1e-6)
        for i in range(len(s.tokens)):
            # Along token i's own embedding: d/dt F(x + t x_i) at t = 0 is sum_k x_ik dF/dx_ik.
            direction = torch.zeros_like(problem.embeds)
            direction[0, i] = problem.embeds[0, i]
            ahead = problem.function(problem.embeds + step * direction)
            behind = problem.function(problem.embeds - step * direction)
            numeric = float(ahead - behind) / (2 * step)
            assert s.scores[i] == pytest.approx(numeric, rel=2e-2, abs=2e-4)


def test_gradient_norm_is_the_per_token_norm_of_the_gradient(tiny_predictor):
    s = explain_salience(tiny_predictor, *PAIR, method="grad", target="mask:0:the")
    problem = prepare(tiny_predictor, *PAIR, target="mask:0:the")
    _, grad = gradient(problem.function, problem.embeds)
    np.testing.assert_allclose(s.scores, grad[0].norm(dim=-1).numpy(), rtol=1e-6)
    assert (s.scores > 0).all() and s.delta is None and s.baseline_value is None


def test_targets_read_what_the_analysis_predicts(default_predictor):
    analysis = default_predictor.analyze(*PAIR)
    top = analysis.fill_mask[0]
    first = explain_salience(default_predictor, *PAIR, method="grad")
    assert first.target == f"mask:0:{top.tokens[0]}"
    assert first.target_value == pytest.approx(math.log(top.probs[0]), abs=1e-4)
    second = explain_salience(default_predictor, *PAIR, method="grad",
                              target=f"mask:0:{top.tokens[1]}")
    pair = explain_salience(default_predictor, *PAIR, method="grad",
                            target=f"mask:0:{top.tokens[0]},{top.tokens[1]}")
    assert pair.target_value == pytest.approx(first.target_value - second.target_value, abs=1e-5)
    nsp = explain_salience(default_predictor, *PAIR, method="grad", target="nsp")
    assert nsp.target_value == pytest.approx(math.log(analysis.nsp_is_next), abs=1e-5)


def test_baselines_keep_the_special_tokens_and_replace_the_rest(tiny_predictor):
    words = float32_model(tiny_predictor).bert.embeddings.word_embeddings.weight
    for baseline, token in (("pad", tiny_predictor.tokenizer.pad_id), ("mask", tiny_predictor.tokenizer.mask_id),
                            ("zero", None)):
        problem = prepare(tiny_predictor, *PAIR, target="mask:0", baseline=baseline)
        special = np.array([t in ("[CLS]", "[SEP]") for t in problem.tokens])
        torch.testing.assert_close(problem.baseline[0, special], problem.embeds[0, special])
        expected = torch.zeros(words.shape[1]) if token is None else words[token]
        for row in problem.baseline[0, ~special]:
            torch.testing.assert_close(row, expected)


def test_class_and_span_targets_on_fine_tuned_models(tmp_path, vocab_file):
    classifier = Predictor.load(save_hf_model(
        "BertForSequenceClassification", tmp_path / "cls", vocab_file, num_labels=3,
        id2label={0: "neg", 1: "neutral", 2: "pos"}, label2id={"neg": 0, "neutral": 1, "pos": 2}),
        device="cpu")
    probs = classifier.analyze("a fine day").task.probs
    by_name = explain_salience(classifier, "a fine day", method="grad", target="class:pos")
    by_index = explain_salience(classifier, "a fine day", method="grad", target="class:2")
    default = explain_salience(classifier, "a fine day", method="grad")
    assert by_name.target == by_index.target == "class:pos"
    assert by_name.target_value == pytest.approx(math.log(probs[2]), abs=1e-5)
    assert default.target == f"class:{['neg', 'neutral', 'pos'][int(probs.argmax())]}"
    with pytest.raises(InferenceError, match="unknown label 'great'.*neg, neutral, pos"):
        explain_salience(classifier, "a fine day", method="grad", target="class:great")
    with pytest.raises(InferenceError, match="no MLM head"):
        explain_salience(classifier, "a fine [MASK]", method="grad", target="mask:0")

    qa = Predictor.load(save_hf_model("BertForQuestionAnswering", tmp_path / "qa", vocab_file),
                        device="cpu")
    question, passage = "who lit the lamp?", "the old keeper lit the lamp every evening"
    answer = qa.analyze(question, passage).task.answer
    for end, position in (("start", answer.token_start), ("end", answer.token_end)):
        s = explain_salience(qa, question, passage, method="grad-input", target=end)
        assert s.target == end and f"at token {position}" in s.target_label
    with pytest.raises(InferenceError, match="question-answering"):
        explain_salience(classifier, "a", "b", method="grad", target="start")


@pytest.mark.parametrize("target,message", [
    ("mask:0", "no \\[MASK\\] in the text"),
    ("mask:x", "cannot read target"),
    ("door", "cannot read target"),
    ("nsp", "needs sentence B"),
    ("class:a", "fine-tuned to classify"),
])
def test_bad_targets_say_what_is_wrong(tiny_predictor, target, message):
    with pytest.raises(InferenceError, match=message):
        explain_salience(tiny_predictor, "The keeper lit the lamp.", method="grad", target=target)


def test_a_comma_alone_is_the_comma_token_and_one_comma_contrasts_two():
    assert parse_target("mask:2:,").tokens == (",",)
    assert parse_target("mask:0:door,window").tokens == ("door", "window")
    assert parse_target("mask:1").tokens == () and parse_target("mask:1").mask_index == 1


def test_mask_targets_name_the_mask_and_single_tokens(tiny_predictor):
    with pytest.raises(InferenceError, match="asks for \\[MASK\\] 1, but the text has 1"):
        explain_salience(tiny_predictor, *PAIR, method="grad", target="mask:1")
    with pytest.raises(InferenceError, match="not one token .* splits into"):
        explain_salience(tiny_predictor, *PAIR, method="grad", target="mask:0:lighthousekeeping")


def test_progress_counts_the_path_points_and_a_raising_callback_stops_the_run(tiny_predictor):
    seen = []
    explain_salience(tiny_predictor, *PAIR, steps=10, batch=4, progress=lambda done, total:
                     seen.append((done, total)))
    assert seen == [(4, 10), (8, 10), (10, 10)]

    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        explain_salience(tiny_predictor, *PAIR, steps=10, batch=4, progress=cancel)


def test_integration_rules_weigh_points_that_sum_to_one():
    for rule in ("gausslegendre", "riemann_trapezoid"):
        alphas, weights = integration_points(rule, 7)
        assert weights.sum() == pytest.approx(1) and ((alphas >= 0) & (alphas <= 1)).all()
        # Exact on a straight line: the integral of a from 0 to 1 is 1/2.
        assert (weights * alphas).sum() == pytest.approx(0.5)
    with pytest.raises(InferenceError, match="unknown integration rule"):
        integration_points("simpson", 8)


def test_the_twin_leaves_the_predictors_model_as_it_was(default_predictor):
    before = default_predictor.analyze(*PAIR)
    explain_salience(default_predictor, *PAIR, method="grad")
    layer = default_predictor.encoder.encoder.layer[0].attention.self
    if packing_available():
        assert isinstance(layer.query, PackedLinear)
    assert float32_model(default_predictor) is float32_model(default_predictor)  # made once
    twin_weight = float32_model(default_predictor).bert.embeddings.word_embeddings.weight
    assert not twin_weight.requires_grad
    original = default_predictor.model.bert.embeddings.word_embeddings.weight
    assert twin_weight.data_ptr() == original.data_ptr()  # shared, not copied
    np.testing.assert_array_equal(default_predictor.analyze(*PAIR).attentions, before.attentions)


def test_a_bf16_predictor_explains_in_float32(hf_pretraining_dir):
    predictor = Predictor.load(hf_pretraining_dir, device="cpu", bf16=True)
    s = explain_salience(predictor, *PAIR, steps=8)
    assert np.isfinite(s.scores).all()
    assert abs(s.delta) < 0.05 * abs(s.target_value - s.baseline_value)
    # The predictor's own bf16 layers are left as they were (the gradients ran on a twin).
    bf16_layers = [m for m in predictor.encoder.modules() if isinstance(m, Bf16Linear)]
    assert bf16_layers and all(m.weight.dtype == torch.bfloat16 for m in bf16_layers)


def test_salience_runs_where_the_caller_turned_gradients_off(tiny_predictor):
    with torch.inference_mode():
        s = explain_salience(tiny_predictor, *PAIR, method="grad-input")
    with torch.no_grad():
        again = explain_salience(tiny_predictor, *PAIR, method="grad-input")
    assert (s.scores != 0).any()
    np.testing.assert_allclose(s.scores, again.scores, rtol=1e-5, atol=1e-7)


def test_the_default_internal_batch_keeps_passes_near_a_fixed_size():
    assert ig_batch(128) == 8 and ig_batch(32) == 32 and ig_batch(5000) == 1
