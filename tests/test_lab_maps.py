"""Maps beyond raw attention: rollout against every path through a toy, norm-based maps against
an explicit per-head, per-token loop over transformers' own weights and states, and ALTI's
per-token vectors against the real attention block output, fast path against the reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from engine.lab.alti import contributions, contributions_from_vectors, token_vectors
from engine.lab.maps import _RECORDINGS, explain_maps, layer_parts, traced_pass
from engine.lab.rollout import attention_rollout, residual_attention, rollout

PAIR = ("The keeper lit the [MASK] again.", "Ships relied on it.")


def random_attention(layers: int, heads: int, tokens: int, seed: int = 0) -> torch.Tensor:
    raw = torch.rand(layers, heads, tokens, tokens, dtype=torch.float64,
                     generator=torch.Generator().manual_seed(seed))
    return raw / raw.sum(dim=-1, keepdim=True)  # [L, N, T, T], rows sum to 1


def test_rollout_equals_the_sum_over_every_path_through_the_layers():
    attentions = random_attention(layers=3, heads=2, tokens=3)
    edges = [0.5 * a.mean(dim=0) + 0.5 * torch.eye(3, dtype=a.dtype) for a in attentions]  # paper
    maps = attention_rollout(attentions)
    for layer in range(3):
        for out, src in itertools.product(range(3), range(3)):
            # A path from output token `out` after `layer` down to input token `src`: one token
            # per layer boundary; its weight is the product of its edges, top layer first.
            total = 0.0
            for middle in itertools.product(range(3), repeat=layer):
                path = (out, *middle, src)
                total += math.prod(float(edges[layer - k][path[k], path[k + 1]])
                                   for k in range(layer + 1))
            assert float(maps[layer, out, src]) == pytest.approx(total, abs=1e-12)


def test_rollout_of_identity_attention_is_the_identity():
    attentions = torch.eye(4).expand(2, 3, 4, 4)
    torch.testing.assert_close(attention_rollout(attentions), torch.eye(4).expand(2, 4, 4))


def test_rollout_and_alti_maps_are_row_stochastic_and_norm_maps_are_not_normalised(default_predictor):
    maps = explain_maps(default_predictor, *PAIR)
    for method in ("rollout", "alti"):
        result = maps[method]
        assert result.row_stochastic
        for grid in (result.maps, result.layer_maps):
            assert (grid >= 0).all()
            np.testing.assert_allclose(grid.sum(axis=-1), 1, atol=1e-5)
    assert not maps["norm"].row_stochastic
    assert (maps["norm"].maps >= 0).all()


def test_explain_maps_gives_the_analysis_attention_rolled_out(default_predictor):
    analysis = default_predictor.analyze(*PAIR)
    result = explain_maps(default_predictor, *PAIR, methods=["rollout"])["rollout"]
    assert result.tokens == analysis.tokens
    attentions = torch.from_numpy(analysis.attentions)
    np.testing.assert_allclose(result.maps, attention_rollout(attentions).numpy(), atol=1e-6)
    np.testing.assert_allclose(result.layer_maps, residual_attention(attentions).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(result.maps[-1],
                               rollout(torch.from_numpy(result.layer_maps))[-1].numpy(), atol=1e-6)


@torch.no_grad()
def test_norm_maps_match_an_explicit_loop_over_heads_and_tokens(tiny_predictor, hf_pretraining_dir):
    import transformers

    hf = transformers.BertForPreTraining.from_pretrained(hf_pretraining_dir,
                                                         attn_implementation="eager").eval()
    enc = tiny_predictor.tokenizer.encode(*PAIR)
    out = hf(torch.tensor([enc.ids]), token_type_ids=torch.tensor([enc.token_type_ids]),
             output_attentions=True, output_hidden_states=True)
    result = explain_maps(tiny_predictor, *PAIR, methods=["norm"])["norm"]
    cfg = hf.config
    heads, size = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    seq = len(enc.ids)
    assert result.maps.shape == (cfg.num_hidden_layers, heads, seq, seq)
    for layer in range(cfg.num_hidden_layers):
        attn = hf.bert.encoder.layer[layer].attention
        x = out.hidden_states[layer][0]                                  # [T, H]
        alpha = out.attentions[layer][0]                                 # [N, T, T]
        w_v, b_v = attn.self.value.weight, attn.self.value.bias
        w_o = attn.output.dense.weight
        for i, j in itertools.product(range(seq), range(seq)):
            summed = torch.zeros(cfg.hidden_size)
            for h in range(heads):
                cols = slice(h * size, (h + 1) * size)
                f = (x[j] @ w_v[cols].T + b_v[cols]) @ w_o[:, cols].T  # f_h(x_j), [H]
                assert result.maps[layer, h, i, j] == pytest.approx(
                    float((alpha[h, i, j] * f).norm()), rel=1e-4, abs=1e-6)
                summed += alpha[h, i, j] * f
            assert result.layer_maps[layer, i, j] == pytest.approx(float(summed.norm()),
                                                                  rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("which", ["tiny_predictor", pytest.param("default_predictor", marks=pytest.mark.slow)])
def test_alti_vectors_sum_back_to_the_layer_output_and_the_fast_path_equals_them(which, request):
    predictor = request.getfixturevalue(which)
    with torch.inference_mode():
        _, trace = traced_pass(predictor, *PAIR, _RECORDINGS)
        for parts in layer_parts(predictor, trace):
            vectors, bias = token_vectors(parts)                        # [T, T, H], [T, H]
            torch.testing.assert_close(vectors.sum(dim=1) + bias, parts.attention_output,
                                       atol=1e-5, rtol=0)
            slow = contributions_from_vectors(vectors, parts.attention_output)
            # Chunks that do not divide the length, and one chunk for everything.
            for chunk in (3, 1000):
                torch.testing.assert_close(contributions(parts, chunk), slow, atol=1e-5, rtol=0)


def test_lab_maps_leave_the_plain_analysis_unchanged(default_predictor):
    before = default_predictor.analyze(*PAIR)
    explain_maps(default_predictor, *PAIR)
    after = default_predictor.analyze(*PAIR)
    np.testing.assert_array_equal(before.attentions, after.attentions)
    np.testing.assert_array_equal(before.fill_mask[0].probs, after.fill_mask[0].probs)
