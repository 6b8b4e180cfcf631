"""Head importance for a fine-tuned model's own task (Michel et al. 2019): |dL/d xi_h| at the
head gate xi = 1, with L the task loss (cross-entropy of the classes or tags, BCE for
multi-label, MSE for regression, the start/end cross-entropy for QA) summed over a labelled
file, divided by its loss terms and normalised as ``engine.lab.importance``; and the pruning
curve on the task's main metric (accuracy, micro-F1, Pearson, entity F1, SQuAD F1).

The file is read by the fine-tuning readers (``engine.finetune.task_data``: CSV, TSV or JSONL
with the ``--text-a/--text-b/--label`` columns; CoNLL; SQuAD JSON), with the model's own label
names, so each label maps to the id the model was trained with; the loss and the metric are
the fine-tuning task's (``engine.train.finetuning``), computed with the head gate applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.finetune.features import collate
from engine.infer_tasks import label_names
from engine.lab.ablation import head_gate
from engine.lab.head_names import Head
from engine.lab.heads import attention_statistics, combine
from engine.lab.importance import PRUNE_STEP, normalise
from engine.lab.weights import float32_model
from engine.results import (HEAD_BATCH, HeadImportance, HeadStatistics, InferenceError,
                            PruningCurve, PruningPoint)
from engine.trace import Trace

# Predictor.task_kind -> (FinetuneSpec.task, multi_label)
TASK_OF_KIND = {"classify": ("classify", False), "multi_label": ("classify", True),
                "regress": ("regress", False), "tag": ("tag", False), "qa": ("qa", False)}


@dataclass(frozen=True)
class TaskColumns:
    """Which columns of a CSV/TSV/JSONL file hold the texts and the label (as finetune's)."""

    text_a: str = "text"
    text_b: str | None = None
    label: str = "label"
    has_header: bool = True


class Gated(nn.Module):
    """``model`` with a head gate on every pass, so the fine-tuning task's own loss and
    scoring code run the ablated (or gated, for gradients) model unchanged."""

    def __init__(self, model: nn.Module, gate: torch.Tensor):
        super().__init__()
        self.model, self.gate = model, gate
        self.train(model.training)  # the scoring code restores this mode: keep the model's

    def forward(self, **inputs):
        return self.model(**inputs, trace=Trace(head_gate=self.gate))


def task_of(predictor, path: str, columns: TaskColumns = TaskColumns(),
            max_seq_length: int = 128):
    """The fine-tuning task (``FinetuningTask``) of ``predictor``'s model over the labelled
    file at ``path``, read as both its training and its evaluation set."""
    from engine.specs import FinetuneSpec
    from engine.train.finetuning import FinetuningTask

    kind = predictor.task_kind
    if kind is None:
        raise InferenceError("--task-loss needs a fine-tuned model (classify, regress, tag or "
                             "qa); this one has no task head: use the MLM importance instead")
    task, multi = TASK_OF_KIND[kind]
    labels = label_names(predictor.config) if kind in ("classify", "multi_label", "tag") else None
    spec = FinetuneSpec(task=task, model=str(predictor.checkpoint.path), train=str(path),
                        eval=str(path), text_a=columns.text_a, text_b=columns.text_b,
                        label=columns.label, has_header=columns.has_header, multi_label=multi,
                        max_seq_length=min(max_seq_length,
                                           predictor.config.max_position_embeddings),
                        labels=labels)
    return FinetuningTask(spec)


def _loss_terms(task, batch: dict[str, torch.Tensor]) -> int:
    """What the task's loss sum is divided by: rows, labelled tokens, or label cells."""
    return int(next(iter(task.denominators(batch).values())))


def task_importance(predictor, task, batch_size: int = HEAD_BATCH,
                    head_mask: Sequence[Head] = ()) -> HeadImportance:
    """Importance for the task loss over ``task``'s evaluation set, one backward per batch."""
    cfg = predictor.config
    model = float32_model(predictor)
    features = task.data.eval.features
    raw = torch.zeros(cfg.num_hidden_layers, cfg.num_attention_heads, dtype=torch.float64)
    terms = 0
    with torch.enable_grad():
        for start in range(0, len(features), batch_size):
            batch = {k: v.to(predictor.device) for k, v in
                     collate(features[start:start + batch_size], task.tokenizer.pad_id).items()}
            gate = head_gate(head_mask, cfg.num_hidden_layers, cfg.num_attention_heads,
                             predictor.device).requires_grad_()  # [L, N]
            sums, _ = task._group_losses(Gated(model, gate), batch)
            (grad,) = torch.autograd.grad(sum(sums.values()), gate)
            raw += grad.abs().double().cpu()
            terms += _loss_terms(task, batch)
    raw = (raw / max(terms, 1)).numpy()
    return HeadImportance(raw=raw, normalised=normalise(raw), loss=f"{task.spec.problem}_task",
                          examples=task.data.eval.count, tokens=terms)


def task_metric(predictor, task, heads: Sequence[Head] = ()) -> float:
    """The task's main metric over its evaluation set with ``heads`` ablated."""
    cfg = predictor.config
    gate = head_gate(heads, cfg.num_hidden_layers, cfg.num_attention_heads, predictor.device)
    with torch.inference_mode():
        scores = task.score(Gated(predictor.model, gate), task.data.eval, predictor.device)
    return float(scores[task.main_metric])


def task_pruning_curve(predictor, task, importance: HeadImportance,
                       step: float = PRUNE_STEP) -> PruningCurve:
    """The main metric with 0%, 10%, ... of all heads masked, least important first."""
    ranking = importance.ranking()
    points = []
    for k in range(int(round(1 / step)) + 1):
        count = min(len(ranking), int(round(k * step * len(ranking))))
        masked = tuple(sorted(ranking[:count]))
        points.append(PruningPoint(count / len(ranking), masked,
                                   task_metric(predictor, task, masked)))
    return PruningCurve(task.main_metric, points)


def task_statistics(predictor, task, head_mask: Sequence[Head] = ()) -> HeadStatistics:
    """Clark's statistics over the evaluation set's inputs (each window for QA), one pass each."""
    cfg = predictor.config
    gate = head_gate(head_mask, cfg.num_hidden_layers, cfg.num_attention_heads, predictor.device)
    per_input = []
    with torch.inference_mode():
        for feature in task.data.eval.features:
            ids = torch.tensor([feature["input_ids"]], device=predictor.device)         # [1, T]
            types = torch.tensor([feature["token_type_ids"]], device=predictor.device)  # [1, T]
            trace = Trace(record={"probs"}, head_gate=gate)
            predictor.encoder(ids, token_type_ids=types, trace=trace)
            attentions = np.stack([r.probs[0].float().cpu().numpy() for r in trace.layers])
            tokens = predictor.tokenizer.convert_ids_to_tokens(list(feature["input_ids"]))
            shares, entropy = attention_statistics(attentions, tokens)  # [L, N, T, T] in
            per_input.append((shares, entropy, len(tokens)))
    return combine(per_input)
