"""The logit lens's per-layer readout (top-k, the final candidate's rank and probability, KL to
the final distribution), computed from the logits with the log-sum-exp, against the same
quantities from an explicit log-softmax of each layer's hidden state through the MLM head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.lab.lens import decode, logit_lens

TEXT = ("The keeper lit the [MASK] every night.", "Ships relied on its light.")


@pytest.mark.parametrize("which", ["tiny_predictor", "default_predictor"])
def test_lens_readout_equals_an_explicit_log_softmax_at_every_layer(which, request):
    predictor = request.getfixturevalue(which)
    lens = logit_lens(predictor, *TEXT, top_k=7)
    enc = predictor.tokenizer.encode(*TEXT)
    with torch.inference_mode():
        out = predictor.encoder(torch.tensor([enc.ids]),
                                token_type_ids=torch.tensor([enc.token_type_ids]),
                                output_hidden_states=True)
        hidden = torch.stack([h[0, lens.position] for h in out.hidden_states])  # [L + 1, H]
        log_probs = predictor.heads.predictions(hidden).double().log_softmax(-1)  # [L + 1, V]
    final = log_probs[-1]
    top = int(final.argmax())
    assert lens.final_token == predictor.tokenizer.convert_ids_to_tokens([top])[0]
    for layer, row in zip(lens.layers, log_probs):
        kl = float((final.exp() * (final - row)).sum())
        assert layer.kl == pytest.approx(max(kl, 0.0), abs=1e-5)
        assert layer.final_rank == int((row > row[top]).sum()) + 1
        assert layer.final_prob == pytest.approx(float(row[top].exp()), abs=1e-6)
        probs, ids = row.exp().topk(7)
        np.testing.assert_array_equal(layer.token_ids, ids.numpy())
        np.testing.assert_allclose(layer.probs, probs.float().numpy(), rtol=0, atol=1e-6)
    if which == "default_predictor":  # trained: the embeddings are far from the answer
        assert lens.layers[0].kl > 0.1 and lens.layers[0].final_rank > 1


def test_decode_equals_the_mlm_head(default_predictor):
    hidden = torch.randn(7, default_predictor.config.hidden_size,
                         generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        head = default_predictor.heads.predictions
        torch.testing.assert_close(decode(head, hidden), head(hidden), atol=1e-5, rtol=1e-6)
