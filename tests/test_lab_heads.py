"""Analysis lab II: head statistics, ablation, importance, the logit lens, the neuron view."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from engine import cli
from engine.config import BertConfig
from engine.lab.ablation import head_gate
from engine.lab.head_names import all_heads_except, format_heads, parse_heads
from engine.lab.heads import attention_statistics, read_pairs
from engine.lab.importance import (MaskedExample, _batches, _mlm_logits, head_importance,
                                   masked_accuracy, masked_examples, prediction_importance,
                                   pruning_curve)
from engine.lab.lens import logit_lens
from engine.lab.neuron import neuron_view
from engine.lab.weights import float32_model
from engine.model import BertModel
from engine.results import InferenceError
from engine.trace import Trace
from tests.conftest import TINY, padded_batch

TOKENS = ["[CLS]", "the", "cat", ",", "sat", ".", "[SEP]"]
N = len(TOKENS)
PAIR = ("the cat sat on the [MASK] .", "it was warm there .")
SENTENCES = [("the cat sat on the mat and looked at the door .", "it was happy ."),
             ("she walked to the market to buy some bread .", None),
             ("a dog ran across the field , barking at birds .", "then it slept .")]


def stats_of(grid: np.ndarray) -> tuple[dict[str, float], float]:
    """One [T, T] attention as a 1-layer, 1-head model's: its shares and entropy."""
    shares, entropy = attention_statistics(grid[None, None], TOKENS)
    return {k: float(v[0, 0]) for k, v in shares.items()}, float(entropy[0, 0])


def test_identity_attention_is_all_self():
    shares, entropy = stats_of(np.eye(N))
    assert shares["self"] == pytest.approx(1)
    # [CLS], [SEP] and the two punctuation tokens attend to themselves: 1/n each
    assert shares["cls"] == pytest.approx(1 / N) and shares["sep"] == pytest.approx(1 / N)
    assert shares["punct"] == pytest.approx(2 / N)
    assert shares["prev"] == shares["next"] == 0
    assert entropy == pytest.approx(0, abs=0.01)


def test_shift_by_one_is_next_token_attention():
    grid = np.eye(N, N, 1)  # token i attends to token i + 1 ...
    grid[-1, -1] = 1        # ... and the last one to itself
    shares, _ = stats_of(grid)
    assert shares["next"] == pytest.approx((N - 1) / N)
    assert shares["self"] == pytest.approx(1 / N) and shares["prev"] == 0
    shares, _ = stats_of(grid[::-1, ::-1].copy())  # the mirror: i attends to i - 1
    assert shares["prev"] == pytest.approx((N - 1) / N) and shares["next"] == 0


def test_uniform_attention_has_entropy_log_n():
    shares, entropy = stats_of(np.full((N, N), 1 / N))
    assert entropy == pytest.approx(np.log(N), rel=1e-6)
    assert shares["cls"] == pytest.approx(1 / N) and shares["self"] == pytest.approx(1 / N)
    assert shares["next"] == pytest.approx((N - 1) / N**2)


def test_all_to_cls_attention():
    grid = np.zeros((N, N))
    grid[:, 0] = 1
    shares, entropy = stats_of(grid)
    assert shares["cls"] == pytest.approx(1) and shares["sep"] == 0
    assert shares["self"] == pytest.approx(1 / N) and shares["prev"] == pytest.approx(1 / N)
    assert entropy == pytest.approx(0, abs=0.01)


def test_head_names_parse_and_format_back():
    assert parse_heads("2:3, 0:11,2:3") == ((0, 11), (2, 3))
    assert format_heads(parse_heads("5:1,0:0")) == "0:0,5:1"
    for bad in ("1", "1:2:3", "a:b", "-1:2", ""):
        with pytest.raises(InferenceError, match="L:H"):
            parse_heads(bad)
    with pytest.raises(InferenceError, match="no head 2:0"):
        head_gate([(2, 0)], 2, 4)
    assert all_heads_except([(1, 2)], 2, 3) == ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1))
    assert head_gate(all_heads_except([(1, 2)], 2, 3), 2, 3).tolist() == [[0, 0, 0], [0, 0, 1]]


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=99, **TINY)).eval()


def test_head_gate_equals_zeroing_the_context_slice_by_hand(tiny_model):
    ids, mask, types = padded_batch(99, (9, 6))
    layer, head, size = 1, 2, tiny_model.config.head_size
    dense = tiny_model.encoder.layer[layer].attention.output.dense

    def zero_slice(_module, inputs):
        context = inputs[0].clone()  # [B, T, H], heads side by side
        context[..., head * size:(head + 1) * size] = 0
        return (context,)

    with torch.no_grad():
        gated = tiny_model(ids, mask, types,
                           trace=Trace(head_gate=head_gate([(layer, head)], 2, 4)))
        gated = gated.last_hidden_state
        hook = dense.register_forward_pre_hook(zero_slice)
        try:
            by_hand = tiny_model(ids, mask, types).last_hidden_state
        finally:
            hook.remove()
        plain = tiny_model(ids, mask, types).last_hidden_state
        kept = tiny_model(ids, mask, types, trace=Trace(head_gate=torch.ones(2, 4)))
        kept = kept.last_hidden_state
    torch.testing.assert_close(gated, by_hand, rtol=0, atol=1e-6)
    torch.testing.assert_close(kept, plain, rtol=0, atol=0)
    assert (gated - plain).abs().max() > 1e-3


def test_masking_every_head_of_a_layer_leaves_layernorm_of_input_plus_bias(tiny_model):
    ids, mask, types = padded_batch(99, (9, 6))
    gate = torch.ones(2, 4)
    gate[0] = 0
    trace = Trace(record={"layer_input", "attention_output"}, head_gate=gate)
    with torch.no_grad():
        tiny_model(ids, mask, types, trace=trace)
    out = tiny_model.encoder.layer[0].attention.output
    x = trace.layers[0].layer_input
    expected = out.LayerNorm(x + out.dense.bias)
    torch.testing.assert_close(trace.layers[0].attention_output, expected, rtol=0, atol=1e-6)


def test_analyze_with_a_head_mask_changes_predictions_and_none_keeps_them(tiny_predictor):
    plain = tiny_predictor.analyze(*PAIR)
    empty = tiny_predictor.analyze(*PAIR, head_mask=())
    masked = tiny_predictor.analyze(*PAIR, head_mask=[(0, 1), (1, 3)])
    np.testing.assert_array_equal(plain.fill_mask[0].probs, empty.fill_mask[0].probs)
    assert not np.array_equal(plain.fill_mask[0].probs, masked.fill_mask[0].probs)
    assert masked.nsp_is_next != plain.nsp_is_next


def test_importance_gradient_matches_a_finite_difference(tiny_predictor):
    pairs = SENTENCES[:1]
    importance = head_importance(tiny_predictor, pairs)
    model = copy.deepcopy(float32_model(tiny_predictor)).double()
    (batch,) = _batches(masked_examples(tiny_predictor, pairs), 1, 0, torch.device("cpu"))

    def loss(gate: torch.Tensor) -> float:
        with torch.no_grad():
            logits, labels = _mlm_logits(model, batch, gate)
            return float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))

    eps = 1e-5
    for layer, head in [(0, 0), (1, 2)]:
        up, down = torch.ones(2, 4, dtype=torch.float64), torch.ones(2, 4, dtype=torch.float64)
        up[layer, head] += eps
        down[layer, head] -= eps
        finite = abs(loss(up) - loss(down)) / (2 * eps)
        assert importance.raw[layer, head] * importance.tokens == pytest.approx(finite, rel=1e-3)
    per_layer = importance.normalised
    assert per_layer.min() == 0 and per_layer.max() == 1


def test_prediction_importance_is_the_gradient_of_the_top_candidates_loss(tiny_predictor):
    """At the typed [MASK]: L = cross-entropy of the model's own top candidate; matches a
    finite difference, and the label is the one fill-mask shows first."""
    text_a, text_b = PAIR
    importance = prediction_importance(tiny_predictor, text_a, text_b)
    assert importance.loss == "mlm_prediction" and importance.tokens == 1
    top = int(tiny_predictor.analyze(text_a, text_b, top_k=1).fill_mask[0].token_ids[0])
    enc = tiny_predictor.tokenizer.encode(text_a, text_b)
    labels = np.full(len(enc.ids), -100)
    labels[enc.ids.index(tiny_predictor.tokenizer.mask_id)] = top
    example = MaskedExample(np.asarray(enc.ids), np.asarray(enc.token_type_ids), labels)
    (batch,) = _batches([example], 1, 0, torch.device("cpu"))
    model = copy.deepcopy(float32_model(tiny_predictor)).double()

    def loss(gate: torch.Tensor) -> float:
        with torch.no_grad():
            logits, labels = _mlm_logits(model, batch, gate)
            return float(torch.nn.functional.cross_entropy(logits, labels, reduction="sum"))

    eps = 1e-5
    for layer, head in [(0, 1), (1, 3)]:
        up, down = torch.ones(2, 4, dtype=torch.float64), torch.ones(2, 4, dtype=torch.float64)
        up[layer, head] += eps
        down[layer, head] -= eps
        finite = abs(loss(up) - loss(down)) / (2 * eps)
        assert importance.raw[layer, head] == pytest.approx(finite, rel=1e-3)


def test_prediction_importance_without_a_mask_is_the_evaluate_masked_importance(
        tiny_predictor):
    text = SENTENCES[0]
    np.testing.assert_array_equal(prediction_importance(tiny_predictor, *text).raw,
                                  head_importance(tiny_predictor, [text]).raw)


def test_pruning_curve_at_zero_equals_the_unpruned_accuracy(tiny_predictor):
    examples = masked_examples(tiny_predictor, SENTENCES)
    hits = total = 0
    with torch.no_grad():  # the unpruned metric computed plainly, one example at a time
        for e in examples:
            out = tiny_predictor.model.bert(torch.from_numpy(e.ids[None]),
                                            token_type_ids=torch.from_numpy(e.types[None]))
            chosen = e.labels != -100
            logits = tiny_predictor.model.cls.predictions(out.last_hidden_state[0, chosen])
            hits += int((logits.argmax(-1).numpy() == e.labels[chosen]).sum())
            total += int(chosen.sum())
    curve = pruning_curve(tiny_predictor, SENTENCES)
    assert [p.fraction for p in curve.points][:2] == [0.0, 0.125] and curve.points[-1].fraction == 1
    assert curve.points[0].masked == () and curve.points[0].metric == pytest.approx(hits / total)
    assert masked_accuracy(tiny_predictor, examples) == pytest.approx(hits / total)
    lengths = [len(p.masked) for p in curve.points]
    assert lengths == sorted(lengths) and lengths[-1] == 8


def test_masking_is_seeded_like_evaluate_and_skips_typed_masks(tiny_predictor):
    first = masked_examples(tiny_predictor, SENTENCES)
    again = masked_examples(tiny_predictor, SENTENCES)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.labels, b.labels)
    (typed,) = masked_examples(tiny_predictor, [PAIR])
    mask_row = tiny_predictor.tokenizer.encode(*PAIR).ids.index(tiny_predictor.tokenizer.mask_id)
    assert typed.labels[mask_row] == -100 and (typed.labels != -100).any()


def test_lens_at_the_last_layer_is_the_fill_mask_distribution(default_predictor):
    text = "the cat sat on the [MASK] and looked out of the window ."
    analysis = default_predictor.analyze(text, top_k=10)
    lens = logit_lens(default_predictor, text, top_k=10)
    last = lens.layers[-1]
    assert len(lens.layers) == default_predictor.config.num_hidden_layers + 1
    assert last.tokens == analysis.fill_mask[0].tokens
    np.testing.assert_allclose(last.probs, analysis.fill_mask[0].probs, rtol=0, atol=1e-5)
    assert last.final_rank == 1 and last.kl == pytest.approx(0, abs=1e-5)
    assert lens.final_token == analysis.fill_mask[0].tokens[0]
    assert all(layer.final_rank >= 1 and layer.kl >= 0 for layer in lens.layers)


def test_lens_with_ablated_heads_matches_the_ablated_fill_mask(tiny_predictor):
    heads = [(0, 0), (1, 1)]
    analysis = tiny_predictor.analyze(*PAIR, top_k=5, head_mask=heads)
    lens = logit_lens(tiny_predictor, *PAIR, top_k=5, head_mask=heads)
    np.testing.assert_allclose(lens.layers[-1].probs, analysis.fill_mask[0].probs, atol=1e-5)


def test_lens_at_a_position_is_the_lens_of_the_mask_there(tiny_predictor):
    by_mask = logit_lens(tiny_predictor, *PAIR)
    by_position = logit_lens(tiny_predictor, *PAIR, position=by_mask.position)
    assert by_mask.tokens[by_mask.position] == "[MASK]"
    for a, b in zip(by_mask.layers, by_position.layers):
        np.testing.assert_array_equal(a.probs, b.probs)
    first_word = logit_lens(tiny_predictor, *PAIR, position=1)
    assert first_word.position == 1 and len(first_word.layers) == 3


def test_lens_errors_name_the_problem(tiny_predictor):
    with pytest.raises(InferenceError, match="no \\[MASK\\]"):
        logit_lens(tiny_predictor, "no mask here")
    with pytest.raises(InferenceError, match="there is no \\[MASK\\] 1"):
        logit_lens(tiny_predictor, *PAIR, mask=1)
    with pytest.raises(InferenceError, match="outside"):
        logit_lens(tiny_predictor, *PAIR, position=99)


def test_neuron_view_softmax_reproduces_the_attention_probabilities(default_predictor):
    analysis = default_predictor.analyze(*PAIR)
    for layer, head, query in [(0, 0, 3), (3, 7, 0), (5, 11, 6)]:
        view = neuron_view(default_predictor, *PAIR, layer, head, query)
        np.testing.assert_allclose(view.probs, analysis.attentions[layer, head, query],
                                   rtol=0, atol=1e-6)
        np.testing.assert_allclose(view.products.sum(-1) / np.sqrt(view.query.size),
                                   view.scores, rtol=1e-5, atol=1e-5)
        assert view.keys.shape == (analysis.num_tokens, view.query.size)


def test_read_pairs_splits_at_the_tab(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("one sentence\n\nfirst\tsecond\n", encoding="utf-8")
    assert read_pairs(path) == [("one sentence", None), ("first", "second")]


def call(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("command", ["fill-mask", "analyze", "nsp", "attention", "predict",
                                     "lens", "heads"])
def test_bad_head_names_are_one_line_and_exit_status_2(capsys, hf_pretraining_dir, tmp_path,
                                                       command):
    extra = ["--out", str(tmp_path / "a.npz")] if command == "attention" else []
    rc, _, err = call(capsys, command, "--model", str(hf_pretraining_dir), *PAIR, *extra,
                      "--mask-heads", "0:1,x")
    assert rc == 2 and err.count("\n") == 1 and "L:H" in err
    rc, _, err = call(capsys, command, "--model", str(hf_pretraining_dir), *PAIR, *extra,
                      "--mask-heads", "7:0")
    assert rc == 2 and err.count("\n") == 1 and "no head 7:0" in err


def test_mask_heads_changes_fill_mask_output(capsys, hf_pretraining_dir, tiny_predictor):
    rc, out, _ = call(capsys, "fill-mask", "--model", str(hf_pretraining_dir), *PAIR, "--json")
    plain = json.loads(out)
    rc, out, _ = call(capsys, "fill-mask", "--model", str(hf_pretraining_dir), *PAIR, "--json",
                      "--mask-heads", "1:3,0:1")
    masked = json.loads(out)
    assert rc == 0 and masked["masked_heads"] == "0:1,1:3" and "masked_heads" not in plain
    expected = tiny_predictor.analyze(*PAIR, top_k=5, head_mask=[(0, 1), (1, 3)]).fill_mask[0]
    probs = [c["prob"] for c in masked["fill_mask"][0]["candidates"]]
    np.testing.assert_allclose(probs, expected.probs, rtol=1e-6)
    assert probs != [c["prob"] for c in plain["fill_mask"][0]["candidates"]]


def test_lens_json_runs_from_the_embeddings_to_the_last_layer(capsys, hf_pretraining_dir):
    rc, out, _ = call(capsys, "lens", "--model", str(hf_pretraining_dir), *PAIR, "--json",
                      "--top-k", "3")
    data = json.loads(out)
    assert rc == 0 and [x["layer"] for x in data["layers"]] == [0, 1, 2]
    assert all(len(x["candidates"]) == 3 and set(x["candidates"][0]) == {"token", "prob"}
               for x in data["layers"])
    assert data["layers"][-1]["rank"] == 1 and data["tokens"][data["position"]] == "[MASK]"


def test_heads_command_over_a_file(capsys, hf_pretraining_dir, tmp_path):
    data_file = tmp_path / "pairs.txt"
    data_file.write_text("".join(f"{a}\t{b or ''}\n" for a, b in SENTENCES), encoding="utf-8")
    rc, out, _ = call(capsys, "heads", "--model", str(hf_pretraining_dir), "--data",
                      str(data_file), "--prune-curve", "--json")
    data = json.loads(out)
    assert rc == 0 and data["statistics"]["examples"] == 3
    assert np.asarray(data["statistics"]["shares"]["sep"]).shape == (2, 4)
    assert np.asarray(data["importance"]["normalised"]).shape == (2, 4)
    assert data["prune_curve"]["points"][0]["masked"] == 0
    rc, _, err = call(capsys, "heads", "--model", str(hf_pretraining_dir))
    assert rc == 2 and "--data" in err
    rc, out, _ = call(capsys, "heads", "--model", str(hf_pretraining_dir), *PAIR,
                      "--mask-heads", "0:0,1:3", "--json")
    data = json.loads(out)
    assert rc == 0 and data["masked_heads"] == "0:0,1:3" and data["statistics"]["examples"] == 1
    rc, out, _ = call(capsys, "heads", "--model", str(hf_pretraining_dir), *PAIR, "--json")
    masked = np.asarray(data["statistics"]["entropy"])
    plain = np.asarray(json.loads(out)["statistics"]["entropy"])
    # a gate acts after its layer's softmax: layer 0's maps stay, layer 1's see its effect
    np.testing.assert_allclose(masked[0], plain[0], rtol=1e-6)
    assert not np.array_equal(masked[1], plain[1])


def test_explain_mask_heads_ablates_the_rollout_pass(tiny_predictor, hf_pretraining_dir,
                                                     capsys):
    from engine.lab.rollout import residual_attention, rollout

    assert cli.main(["explain", "--model", str(hf_pretraining_dir), "--device", "cpu", *PAIR,
                     "--method", "rollout", "--mask-heads", "0:1,1:2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["masked_heads"] == "0:1,1:2"
    attentions = torch.from_numpy(tiny_predictor.analyze(*PAIR, head_mask=[(0, 1), (1, 2)])
                                  .attentions)  # [L, N, T, T] of the ablated model
    expected = rollout(residual_attention(attentions)).numpy()
    np.testing.assert_allclose(np.array(data["maps"]), expected, atol=1e-5)
    plain = tiny_predictor.analyze(*PAIR).attentions
    assert not np.allclose(np.array(data["maps"]),
                           rollout(residual_attention(torch.from_numpy(plain))).numpy())


def test_explain_mask_heads_explains_the_ablated_prediction(tiny_predictor, hf_pretraining_dir,
                                                            capsys):
    heads = [(1, 0), (1, 3)]
    top = tiny_predictor.analyze(*PAIR, top_k=1, head_mask=heads).fill_mask[0]
    assert cli.main(["explain", "--model", str(hf_pretraining_dir), "--device", "cpu", *PAIR,
                     "--method", "grad", "--target", "mask:0", "--mask-heads", "1:0,1:3",
                     "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert top.tokens[0] in data["target_label"]  # the ablated model's own top candidate
    assert data["target_value"] == pytest.approx(float(np.log(top.probs[0])), abs=1e-5)


def test_gated_passes_ablate_inside_the_block_only(tiny_predictor):
    from engine.lab.ablation import gated_passes

    heads = [(0, 2), (1, 1)]
    plain = tiny_predictor.analyze(*PAIR)
    with gated_passes(tiny_predictor, heads, gradients=True):
        inside = tiny_predictor.analyze(*PAIR)
    np.testing.assert_allclose(inside.attentions,
                               tiny_predictor.analyze(*PAIR, head_mask=heads).attentions,
                               atol=1e-6)
    assert not np.allclose(inside.attentions, plain.attentions)
    np.testing.assert_array_equal(tiny_predictor.analyze(*PAIR).attentions, plain.attentions)
