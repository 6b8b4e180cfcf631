"""Run a fine-tuned model over evaluation features and score it with the task's metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from engine.finetune import metrics
from engine.finetune.features import Feature, collate, word_predictions
from engine.model import IGNORE_INDEX


@torch.no_grad()
def predict_logits(model: nn.Module, features: Sequence[Feature], batch_size: int, pad_id: int,
                   device: torch.device) -> tuple[list[np.ndarray], float]:
    """Each feature's logits, unpadded ([K] per sequence, [T_i, K] per token, [T_i, 2] for
    QA), and the mean loss where the features carry targets (NaN otherwise)."""
    # Length-sorted batches pad little; results go back to the features' order.
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))
    out: list[np.ndarray | None] = [None] * len(features)
    loss_sum, loss_rows = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            batch = {k: v.to(device) for k, v in collate([features[i] for i in chosen],
                                                         pad_id).items()}
            result = model(**batch)
            if result.loss is not None:
                # The model's loss is a mean over rows, or over labelled tokens when tagging.
                labels = batch.get("labels")
                weight = (int((labels != IGNORE_INDEX).sum())
                          if labels is not None and labels.dim() == 2 and labels.dtype == torch.long
                          else len(chosen))
                loss_sum += float(result.loss) * weight
                loss_rows += weight
            logits = result.logits.float().cpu().numpy()
            for row, i in enumerate(chosen):
                n = len(features[i]["input_ids"])
                out[i] = logits[row] if logits.ndim == 2 else logits[row, :n]
    finally:
        model.train(was_training)
    return out, (loss_sum / loss_rows if loss_rows else float("nan"))


def sequence_scores(logits: list[np.ndarray], features: Sequence[Feature], problem: str,
                    num_labels: int) -> dict[str, float]:
    """Accuracy, F1 and MCC (single-label); micro/macro F1 and subset accuracy (multi-label);
    Pearson, Spearman and MSE (regression)."""
    stacked = np.stack(logits)                                    # [N, K]
    if problem == "regress":
        pred = stacked[:, 0]
        gold = np.array([f["labels"] for f in features], dtype=np.float64)
        return {"pearson": metrics.pearson(pred, gold), "spearman": metrics.spearman(pred, gold),
                "mse": float(np.mean((pred - gold) ** 2))}
    if problem == "multi":
        gold = np.array([f["labels"] for f in features]) > 0.5    # [N, K]
        return metrics.multilabel_scores(stacked > 0.0, gold)     # sigmoid(x) > 0.5 <=> x > 0
    pred = stacked.argmax(-1)
    gold = np.array([f["labels"] for f in features])
    scores = {"accuracy": metrics.accuracy(pred, gold), "mcc": metrics.matthews_corrcoef(pred, gold)}
    if num_labels == 2:
        scores["f1"] = metrics.f1_binary(pred, gold, positive=1)
    else:
        scores["macro_f1"] = metrics.f1_macro(pred, gold, num_labels)
    return scores


def tagging_scores(logits: list[np.ndarray], sentences: Sequence, word_ids: Sequence,
                   tags: list[str], scheme: str) -> dict[str, float]:
    """Entity precision / recall / F1 over whole words, and word-level tag accuracy."""
    outside = tags.index("O") if "O" in tags else 0
    gold_seqs, pred_seqs, hits, words = [], [], 0, 0
    for row, sentence, ids in zip(logits, sentences, word_ids):
        pred = word_predictions(row.argmax(-1), ids, len(sentence.words), outside)
        pred_tags = [tags[p] for p in pred]
        gold_seqs.append([as_bio(t) for t in sentence.tags])
        pred_seqs.append([as_bio(t) for t in pred_tags])
        hits += sum(p == g for p, g in zip(pred_tags, sentence.tags))
        words += len(sentence.tags)
    scores = {"tag_accuracy": hits / max(words, 1)}  # on the tags as written (BIOES too)
    if has_entities(tags):
        scores.update(metrics.entity_scores(gold_seqs, pred_seqs, scheme=scheme))
    return scores


_BIO_OF = {"B": "B", "I": "I", "E": "I", "L": "I", "S": "B", "U": "B"}


def as_bio(tag: str) -> str:
    """BIOES / BILOU tags read as IOB2 (S-X and U-X begin, E-X and L-X continue): the same
    entities, so one entity F1 serves every scheme."""
    prefix, dash, kind = tag.partition("-")
    return f"{_BIO_OF[prefix]}-{kind}" if dash and prefix in _BIO_OF else tag


def has_entities(tags: Sequence[str]) -> bool:
    """Whether the tag set marks entities (BIO, BIOES, BILOU) rather than plain labels."""
    return any(as_bio(t).startswith(("B-", "I-")) for t in tags)
