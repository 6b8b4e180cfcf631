"""Norm-based maps and ALTI of a model with heads ablated: the decomposition takes the head gate,
so its per-token vectors sum back to the gated attention block's own output and an ablated
head moves nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import cli
from engine.lab.ablation import gated_passes, head_gate
from engine.lab.alti import contributions, contributions_from_vectors, token_vectors
from engine.lab.maps import _RECORDINGS, explain_maps, layer_parts, traced_pass

PAIR = ("The keeper lit the [MASK] again.", "Ships relied on it.")
HEADS = [(0, 1), (1, 0), (1, 2)]


def gated_parts(predictor, heads):
    cfg = predictor.config
    gate = head_gate(heads, cfg.num_hidden_layers, cfg.num_attention_heads)
    _, trace = traced_pass(predictor, *PAIR, _RECORDINGS, gate)
    return layer_parts(predictor, trace)


@pytest.mark.parametrize("which", ["tiny_predictor",
                                   pytest.param("default_predictor", marks=pytest.mark.slow)])
def test_alti_vectors_of_an_ablated_model_sum_to_its_gated_block_output(which, request):
    predictor = request.getfixturevalue(which)
    with torch.inference_mode():
        plain = gated_parts(predictor, [])
        gated = gated_parts(predictor, HEADS)
        for layer, (parts, unablated) in enumerate(zip(gated, plain)):
            vectors, bias = token_vectors(parts)                          # [T, T, H], [T, H]
            # attention_output is what the gated pass itself computed after LayerNorm.
            torch.testing.assert_close(vectors.sum(dim=1) + bias, parts.attention_output,
                                       atol=1e-5, rtol=0)
            # The gate changed that output (heads are ablated in every layer here), so the
            # check above is one the ungated decomposition would fail.
            assert not torch.allclose(parts.attention_output, unablated.attention_output,
                                      atol=1e-4)
            slow = contributions_from_vectors(vectors, parts.attention_output)
            torch.testing.assert_close(contributions(parts, 3), slow, atol=1e-5, rtol=0)
            if layer == 0:  # same input as unablated: only the masked head's share is gone
                ungated = token_vectors(unablated)[0]
                assert not torch.allclose(vectors, ungated, atol=1e-4)


def test_an_ablated_head_has_an_all_zero_norm_map_and_the_others_keep_theirs(tiny_predictor):
    plain = explain_maps(tiny_predictor, *PAIR, ["norm"])["norm"]
    ablated = explain_maps(tiny_predictor, *PAIR, ["norm"], head_mask=HEADS)["norm"]
    for layer, head in HEADS:
        assert plain.maps[layer, head].any()  # it moved something before
        np.testing.assert_array_equal(ablated.maps[layer, head], 0)
    # Layer 0 sees the same input either way: its other heads are unchanged, and its layer sum
    # is the norm of what the remaining heads move.
    kept = [h for h in range(tiny_predictor.config.num_attention_heads) if (0, h) not in HEADS]
    np.testing.assert_allclose(ablated.maps[0, kept], plain.maps[0, kept], atol=1e-6)
    assert not np.allclose(ablated.layer_maps[0], plain.layer_maps[0], atol=1e-4)


def test_explain_maps_head_mask_equals_maps_inside_gated_passes(tiny_predictor):
    direct = explain_maps(tiny_predictor, *PAIR, head_mask=HEADS)
    with gated_passes(tiny_predictor, HEADS):
        hooked = explain_maps(tiny_predictor, *PAIR)
    for method in ("rollout", "norm", "alti"):
        np.testing.assert_allclose(direct[method].maps, hooked[method].maps, atol=1e-6)
        np.testing.assert_allclose(direct[method].layer_maps, hooked[method].layer_maps,
                                   atol=1e-6)
    plain = explain_maps(tiny_predictor, *PAIR)
    assert not np.allclose(direct["alti"].maps, plain["alti"].maps, atol=1e-4)


def test_explain_cli_shows_norm_and_alti_of_the_ablated_model(hf_pretraining_dir, tiny_predictor,
                                                             capsys):
    import json

    for method in ("norm", "alti"):
        assert cli.main(["explain", "--model", str(hf_pretraining_dir), *PAIR, "--method",
                         method, "--mask-heads", "0:1,1:0,1:2", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["masked_heads"] == "0:1,1:0,1:2"
        expected = explain_maps(tiny_predictor, *PAIR, [method], head_mask=HEADS)[method]
        np.testing.assert_allclose(np.asarray(data["maps"]), expected.maps, atol=1e-5)
