"""The logit lens on BERT: the whole MLM head (transform, GELU, LayerNorm, tied decoder) read
at every layer's hidden state at one position, embeddings first.

BERT is post-LN: each layer's output is already LayerNorm's, so no extra norm is applied (unlike
GPT-2's lens, which applies ``ln_f``). The last entry is the model's own fill-mask distribution.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from engine.lab.ablation import predictor_gate
from engine.lab.head_names import Head
from engine.results import InferenceError, LensLayer, LogitLens
from engine.trace import Trace


def decode(predictions: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """The MLM head (``BertLMPredictionHead``) on hidden [R, H] -> logits [R, V].

    Why not ``predictions(hidden)``: for a few rows MKL's gemm first repacks the whole
    30522 x H decoder weight; W @ h^T streams it as stored (7 rows of the default model: 8.4
    against 12.3 ms in one-thread CPU time, 25 against 68 ms wall at 2 threads, measured).
    """
    transformed = predictions.transform(hidden)                             # [R, H]
    decoder = predictions.decoder
    if type(decoder) is not nn.Linear or decoder.weight.dtype != transformed.dtype:
        return decoder(transformed)  # a packed, bf16 or oneDNN layer: its own kernel
    return torch.addmm(decoder.bias[:, None], decoder.weight, transformed.T).T


def mask_positions(predictor, encoding) -> list[int]:
    """The [MASK] rows of an encoding, left to right."""
    return [i for i, (tok, special) in enumerate(zip(encoding.ids, encoding.special_tokens_mask))
            if tok == predictor.tokenizer.mask_id and not special]


def logit_lens(predictor, text_a: str, text_b: str | None = None, position: int | None = None,
               mask: int = 0, top_k: int = 5,
               head_mask: Iterable[Head] | None = None) -> LogitLens:
    """The lens at token ``position``, or at the ``mask``-th [MASK] (from 0) when none is given."""
    if "mlm" not in predictor.capabilities:
        raise InferenceError("this model has no MLM head, so there is nothing to read layers with")
    if top_k < 1:
        raise InferenceError(f"top_k must be at least 1, got {top_k}")
    gate = predictor_gate(predictor, head_mask)
    enc = predictor.tokenizer.encode(text_a, text_b,
                                     max_length=predictor.config.max_position_embeddings)
    if position is None:
        masks = mask_positions(predictor, enc)
        if not 0 <= mask < len(masks):
            raise InferenceError(f"the text has {len(masks)} [MASK]; there is no [MASK] {mask} "
                                 "(counted from 0)" if masks else
                                 "no [MASK] in the text: type [MASK] or give a position")
        position = masks[mask]
    if not 0 <= position < len(enc.ids):
        raise InferenceError(f"position {position} is outside the {len(enc.ids)} tokens")
    ids = torch.tensor([enc.ids], device=predictor.device)              # [1, T]
    types = torch.tensor([enc.token_type_ids], device=predictor.device)  # [1, T]
    # The last layer only at [CLS] (the pooler reads it) and the position, as analyze() does.
    rows = sorted({0, position})
    with torch.inference_mode():
        trace = Trace(record={"layer_input", "layer_output"}, head_gate=gate)
        predictor.encoder(ids, token_type_ids=types, trace=trace,
                          last_layer_rows=torch.tensor(rows, device=predictor.device))
        *inner, last = trace.hidden_states  # L of [1, T, H], then [1, R, H]
        hidden = torch.stack([h[0, position] for h in inner]
                             + [last[0, rows.index(position)]])                 # [L + 1, H]
        # float64: the KL below is a difference of sums over the vocabulary (7 x 30522 values,
        # well under a millisecond either way).
        logits = decode(predictor.heads.predictions, hidden).double()        # [L + 1, V]
        # From the logits, not log_softmax's [L + 1, V] copy: log p = logits - lse per row, so
        # ranks and top-k read the logits, and KL(final || l) = sum p log p - p . logits_l + lse_l.
        lse = torch.logsumexp(logits, dim=-1)                                 # [L + 1]
        final = logits[-1] - lse[-1]                                          # [V] log p
        final_probs = final.exp()
        top = int(final.argmax())
        kl = final_probs @ final - logits @ final_probs + lse                 # [L + 1]
        ranks = (logits > logits[:, top:top + 1]).sum(-1) + 1                 # [L + 1]
        top_logits, top_ids = logits.topk(min(top_k, logits.shape[-1]), dim=-1)  # [L + 1, k]
        top_probs = (top_logits - lse[:, None]).exp().float()
        final_prob = (logits[:, top] - lse).exp()                             # [L + 1]
    to_tokens = predictor.tokenizer.convert_ids_to_tokens
    layers = [LensLayer(layer=i, token_ids=top_ids[i].cpu().numpy(),
                        tokens=to_tokens(top_ids[i].tolist()), probs=top_probs[i].cpu().numpy(),
                        final_rank=int(ranks[i]), final_prob=float(final_prob[i]),
                        kl=max(float(kl[i]), 0.0))
              for i in range(len(hidden))]
    return LogitLens(tokens=enc.tokens, position=position,
                     final_token=to_tokens([top])[0], layers=layers)
