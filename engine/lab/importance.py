"""Head importance (Michel et al. 2019) for the MLM loss over a text file, and the pruning
curve: masked-token accuracy as the least important heads are masked, 10% at a time.

Masking follows ``bert-engine evaluate``: 15% of each example's tokens (at most 20), chosen with
the example's own generator seeded ``[EVAL_SEED, 0, i]`` for the i-th example, every chosen
token replaced by [MASK] (no 10/10 noise). Importance is I_h = sum over batches of |dL/d xi_h| at
xi = 1, with L the summed cross-entropy of the batch's masked tokens, divided by the number of
masked tokens; then each layer is divided by its L2 norm and all heads min-max scaled, as
HF's ``run_bertology.py``. Gradients run on the float32 twin (``engine.lab.weights``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.masking import IGNORE_INDEX, mask_batch
from engine.lab.ablation import head_gate
from engine.lab.head_names import Head
from engine.lab.weights import float32_model
from engine.results import HEAD_BATCH, HeadImportance, InferenceError, PruningCurve, PruningPoint
from engine.trace import Trace
from engine.train.pretraining import EVAL_SEED

PRUNE_STEP = 0.1


@dataclass(frozen=True)
class MaskedExample:
    ids: np.ndarray     # [T] int64, chosen tokens replaced by [MASK]
    types: np.ndarray   # [T] int64
    labels: np.ndarray  # [T] int64, the original id where chosen, IGNORE_INDEX elsewhere


def masked_examples(predictor, pairs: Sequence[tuple[str, str | None]],
                    seed: int = EVAL_SEED) -> list[MaskedExample]:
    """Each (A, B or None) encoded and masked as ``bert-engine evaluate`` masks."""
    tok = predictor.tokenizer
    examples = []
    for i, (a, b) in enumerate(pairs):
        enc = tok.encode(a, b, max_length=predictor.config.max_position_embeddings)
        ids = np.asarray([enc.ids], dtype=np.int64)                         # [1, T]
        # A [MASK] typed in the text is never chosen: it has no original token to predict.
        special = np.asarray([enc.special_tokens_mask], dtype=bool) | (ids == tok.mask_id)
        _, labels = mask_batch(ids, np.ones_like(ids), special,
                               [np.random.default_rng([seed, 0, i])], tok.mask_id, tok.vocab_size,
                               special_ids=[tok.cls_id, tok.sep_id, tok.pad_id, tok.mask_id])
        chosen = labels[0] != IGNORE_INDEX
        examples.append(MaskedExample(np.where(chosen, tok.mask_id, ids[0]),
                                      np.asarray(enc.token_type_ids, dtype=np.int64), labels[0]))
    return examples


def _batches(examples: Sequence[MaskedExample], batch_size: int, pad_id: int,
             device: torch.device) -> Iterator[dict[str, torch.Tensor]]:
    """Right-padded [B, T] batches of ids, attention mask, types and labels."""
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        width = max(len(e.ids) for e in chunk)
        out = {"ids": np.full((len(chunk), width), pad_id), "mask": np.zeros((len(chunk), width)),
               "types": np.zeros((len(chunk), width)),
               "labels": np.full((len(chunk), width), IGNORE_INDEX)}
        for row, e in enumerate(chunk):
            n = len(e.ids)
            out["ids"][row, :n], out["mask"][row, :n] = e.ids, 1
            out["types"][row, :n], out["labels"][row, :n] = e.types, e.labels
        yield {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in out.items()}


def _mlm_logits(model: torch.nn.Module, batch: dict[str, torch.Tensor],
                gate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (logits [M, V] at the masked tokens, their labels [M])."""
    encoder = getattr(model, "bert", model)
    out = encoder(batch["ids"], attention_mask=batch["mask"], token_type_ids=batch["types"],
                  trace=Trace(head_gate=gate))
    chosen = batch["labels"] != IGNORE_INDEX                                   # [B, T]
    logits = model.cls.predictions(out.last_hidden_state[chosen])             # [M, V]
    # bf16 up to float32; a float64 model (a finite-difference check) stays float64
    return logits.to(torch.promote_types(logits.dtype, torch.float32)), batch["labels"][chosen]


def _check_mlm(predictor) -> None:
    if "mlm" not in predictor.capabilities:
        raise InferenceError("this model has no MLM head: MLM head importance needs one")


def normalise(raw: np.ndarray) -> np.ndarray:
    """[L, N]: each layer divided by its L2 norm, then min-max over all heads (Michel et al.)."""
    per_layer = raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-20)
    low, high = per_layer.min(), per_layer.max()
    return (per_layer - low) / (high - low) if high > low else np.zeros_like(per_layer)


def head_importance(predictor, pairs: Sequence[tuple[str, str | None]],
                    batch_size: int = HEAD_BATCH, seed: int = EVAL_SEED,
                    head_mask: Sequence[Head] = ()) -> HeadImportance:
    """MLM head importance over the inputs, one forward and backward per batch; with
    ``head_mask`` those heads' gates are 0 (ablated) and the others' importance is taken there."""
    _check_mlm(predictor)
    cfg = predictor.config
    model = float32_model(predictor)
    examples = masked_examples(predictor, pairs, seed)
    raw = torch.zeros(cfg.num_hidden_layers, cfg.num_attention_heads, dtype=torch.float64)
    tokens = 0
    with torch.enable_grad():
        for batch in _batches(examples, batch_size, predictor.tokenizer.pad_id, predictor.device):
            gate = head_gate(head_mask, cfg.num_hidden_layers, cfg.num_attention_heads,
                             predictor.device).requires_grad_()  # [L, N]
            logits, labels = _mlm_logits(model, batch, gate)
            loss = F.cross_entropy(logits, labels, reduction="sum")
            (grad,) = torch.autograd.grad(loss, gate)
            raw += grad.abs().double().cpu()
            tokens += labels.numel()
    raw = (raw / max(tokens, 1)).numpy()
    return HeadImportance(raw=raw, normalised=normalise(raw), loss="mlm",
                          examples=len(examples), tokens=tokens)


def prediction_importance(predictor, text_a: str, text_b: str | None = None,
                          head_mask: Sequence[Head] = ()) -> HeadImportance:
    """Head importance for what the model predicts at the [MASK]s typed in one input: L is the
    cross-entropy of each [MASK]'s own top candidate (the explorer's "which heads made this
    prediction"), in one forward and backward pass. An input without [MASK] falls back to
    ``head_importance`` over it, masked as ``bert-engine evaluate`` masks."""
    from engine.lab.lens import mask_positions

    _check_mlm(predictor)
    cfg = predictor.config
    enc = predictor.tokenizer.encode(text_a, text_b, max_length=cfg.max_position_embeddings)
    masks = mask_positions(predictor, enc)
    if not masks:
        return head_importance(predictor, [(text_a, text_b)], head_mask=head_mask)
    labels = np.full(len(enc.ids), IGNORE_INDEX)
    labels[masks] = 0  # a placeholder: the label is the top candidate, known after the pass
    example = MaskedExample(np.asarray(enc.ids), np.asarray(enc.token_type_ids), labels)
    batch = next(_batches([example], 1, predictor.tokenizer.pad_id, predictor.device))
    model = float32_model(predictor)
    with torch.enable_grad():
        gate = head_gate(head_mask, cfg.num_hidden_layers, cfg.num_attention_heads,
                         predictor.device).requires_grad_()  # [L, N]
        logits, _ = _mlm_logits(model, batch, gate)                   # [M, V]
        loss = F.cross_entropy(logits, logits.argmax(-1).detach(), reduction="sum")
        (grad,) = torch.autograd.grad(loss, gate)
    raw = (grad.abs().double().cpu() / len(masks)).numpy()
    return HeadImportance(raw=raw, normalised=normalise(raw), loss="mlm_prediction",
                          examples=1, tokens=len(masks))


def masked_accuracy(predictor, examples: Sequence[MaskedExample], heads: Sequence[Head] = (),
                    batch_size: int = HEAD_BATCH) -> float:
    """Top-1 accuracy at the masked tokens with ``heads`` ablated."""
    _check_mlm(predictor)
    cfg = predictor.config
    gate = head_gate(heads, cfg.num_hidden_layers, cfg.num_attention_heads, predictor.device)
    hits = total = 0
    with torch.inference_mode():
        for batch in _batches(examples, batch_size, predictor.tokenizer.pad_id, predictor.device):
            logits, labels = _mlm_logits(predictor.model, batch, gate)
            hits += int((logits.argmax(-1) == labels).sum())
            total += labels.numel()
    return hits / max(total, 1)


def pruning_curve(predictor, pairs: Sequence[tuple[str, str | None]],
                  importance: HeadImportance | None = None, step: float = PRUNE_STEP,
                  batch_size: int = HEAD_BATCH, seed: int = EVAL_SEED) -> PruningCurve:
    """Masked-token accuracy with 0%, 10%, ... of all heads masked, least important first
    (ranked once, globally, after the per-layer normalisation, as Michel et al.)."""
    if importance is None:
        importance = head_importance(predictor, pairs, batch_size, seed)
    ranking = importance.ranking()
    examples = masked_examples(predictor, pairs, seed)
    points = []
    for k in range(int(round(1 / step)) + 1):
        count = min(len(ranking), int(round(k * step * len(ranking))))
        masked = tuple(sorted(ranking[:count]))
        points.append(PruningPoint(count / len(ranking), masked,
                                   masked_accuracy(predictor, examples, masked, batch_size)))
    return PruningCurve("mlm_acc", points)
