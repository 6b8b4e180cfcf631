"""The fine-tuning task for the shared training loop: classify, regress, tag, qa.

Data are read and checked when the task is built, before any run folder exists, so bad input
never leaves a half-made run. The label set is fixed from the training file on the first start
and saved in the run's config, so a resumed run maps labels to the same ids.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.checkpoint import load_checkpoint
from engine.finetune import evaluation
from engine.finetune.batches import EpochBatches
from engine.finetune.task_data import EvalSet, TaskData
from engine.model import IGNORE_INDEX
from engine.specs import FinetuneSpec

ARCHITECTURE = {"classify": "BertForSequenceClassification",
                "regress": "BertForSequenceClassification",
                "tag": "BertForTokenClassification", "qa": "BertForQuestionAnswering"}
# The metric that picks the best checkpoint, by task and problem (higher is better).
MAIN_METRIC = {"single": "accuracy", "multi": "micro_f1", "regress": "pearson",
               "tag": "entity_f1", "qa": "f1"}


class FinetuningTask:
    kind = "finetune"
    loss_weights: dict[str, float] = {}  # one loss: nothing to weigh

    def __init__(self, spec: FinetuneSpec):
        self.spec = spec
        base = load_checkpoint(spec.model)  # a bad folder fails here, before any run exists
        self.tokenizer = base.tokenizer
        if self.tokenizer is None:
            raise ValueError(f"{spec.model}: has no vocab.txt or tokenizer.json to encode text")
        if base.config.max_position_embeddings < spec.max_seq_length:
            raise ValueError(f"{spec.model}: {base.config.max_position_embeddings} positions, "
                             f"fewer than --seq-len {spec.max_seq_length}")
        self.heldout_note: str | None = None
        self.data = TaskData(spec, self.tokenizer)
        known = self.reported_metrics()
        if spec.metric_for_best and spec.metric_for_best not in known:
            raise ValueError(f"--metric-for-best {spec.metric_for_best!r} is not reported for "
                             f"this --task {spec.task} data (choose from {', '.join(known)})")
        self.main_metric = (spec.metric_for_best or self._glue_main_metric()
                            or self._default_metric())
        spec.labels = self.data.labels
        if self.data.eval is None:
            self.heldout_note = "no --eval file: no evaluation and no best checkpoint"

    def reported_metrics(self) -> tuple[str, ...]:
        """What every evaluation of this task on this data reports."""
        problem, labels = self.spec.problem, self.data.labels
        if problem == "single":
            return ("accuracy", "mcc", "f1" if len(labels) == 2 else "macro_f1", "eval_loss")
        if problem == "tag":
            entities = ("entity_f1", "entity_precision", "entity_recall")
            return (*(entities if evaluation.has_entities(labels) else ()), "tag_accuracy",
                    "eval_loss")
        return {"multi": ("micro_f1", "macro_f1", "subset_accuracy"),
                "regress": ("pearson", "spearman", "mse"),
                "qa": ("f1", "exact_match")}[problem] + ("eval_loss",)

    def _default_metric(self) -> str:
        if self.spec.problem == "tag" and not evaluation.has_entities(self.data.labels):
            return "tag_accuracy"  # plain per-word labels (POS tags): no entities to score
        return MAIN_METRIC[self.spec.problem]

    def _glue_main_metric(self) -> str | None:
        if not self.spec.glue_task:
            return None
        from engine.finetune.glue import glue_task

        return glue_task(self.spec.glue_task).main_metric

    # ----- the loop's interface -----

    def build_model(self) -> nn.Module:
        s = self.spec
        overrides: dict[str, Any] = {}
        if s.problem in ("single", "multi", "tag"):
            overrides["id2label"] = dict(enumerate(self.data.labels))
            overrides["num_labels"] = len(self.data.labels)
        else:
            overrides["id2label"] = None
            overrides["num_labels"] = 1 if s.problem == "regress" else 2
        overrides["problem_type"] = {"single": "single_label_classification",
                                     "multi": "multi_label_classification",
                                     "regress": "regression"}.get(s.problem)
        if s.dropout is not None:
            overrides.update(hidden_dropout_prob=s.dropout, attention_probs_dropout_prob=s.dropout)
        loaded = load_checkpoint(s.model, architecture=ARCHITECTURE[s.task],
                                 config_overrides=overrides)
        return loaded.model.train()

    def batches(self, rank: int, world_size: int) -> EpochBatches:
        return EpochBatches(self.data.train, self.spec.batch_size, self.spec.seed,
                            self.tokenizer.pad_id, rank, world_size)

    def denominators(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        problem = self.spec.problem
        if problem == "tag":
            return {"tag": float((batch["labels"] != IGNORE_INDEX).sum())}
        if problem == "multi":
            return {"cls": float(batch["labels"].numel())}
        return {_LOSS_KEY[problem]: float(batch["input_ids"].shape[0])}

    def losses(self, model: nn.Module, batch: dict[str, torch.Tensor]):
        """Loss SUMS (the loop divides by the global denominators) and hit counts.

        Rows of similar length run together, each group trimmed to its own longest row: the
        same sums as one padded pass, without the work on padding. Under DDP a micro-batch
        must be one forward pass, so it is only trimmed to its longest row."""
        per_token = self.spec.problem == "tag"
        if isinstance(model, DistributedDataParallel):
            return self._group_losses(model, _trim_padding(batch, per_token))
        lengths = batch["attention_mask"].sum(1).tolist()  # [B] real tokens per row
        sums: dict[str, torch.Tensor] = {}
        hits: dict[str, torch.Tensor] = {}
        for rows in length_groups(lengths):
            index = torch.tensor(rows, device=batch["input_ids"].device)
            group = _trim_padding({k: v.index_select(0, index) for k, v in batch.items()},
                                  per_token)
            group_sums, group_hits = self._group_losses(model, group)
            for total, part in ((sums, group_sums), (hits, group_hits)):
                for k, v in part.items():
                    total[k] = total[k] + v if k in total else v
        return sums, hits

    def _group_losses(self, model: nn.Module, batch: dict[str, torch.Tensor]):
        problem = self.spec.problem
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        logits = model(**inputs).logits.float()
        if problem == "qa":
            start, end = batch["start_positions"], batch["end_positions"]
            total = (F.cross_entropy(logits[..., 0], start, reduction="sum")
                     + F.cross_entropy(logits[..., 1], end, reduction="sum")) / 2
            hits = ((logits[..., 0].argmax(-1) == start) & (logits[..., 1].argmax(-1) == end)).sum()
            return {"qa": total}, {"qa": hits}
        labels = batch["labels"]
        if problem == "regress":
            return {"reg": F.mse_loss(logits.squeeze(-1), labels, reduction="sum")}, {}
        if problem == "multi":
            total = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum")
            return {"cls": total}, {"cls": ((logits > 0) == (labels > 0.5)).sum()}
        if problem == "tag":
            flat, gold = logits.flatten(0, 1), labels.flatten()   # [B*T, K], [B*T]
            total = F.cross_entropy(flat, gold, ignore_index=IGNORE_INDEX, reduction="sum")
            return {"tag": total}, {"tag": ((flat.argmax(-1) == gold) & (gold != IGNORE_INDEX)).sum()}
        total = F.cross_entropy(logits, labels, reduction="sum")
        return {"cls": total}, {"cls": (logits.argmax(-1) == labels).sum()}

    @torch.no_grad()
    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        return {} if self.data.eval is None else self.score(model, self.data.eval, device)

    @torch.no_grad()
    def score(self, model: nn.Module, data: EvalSet, device: torch.device) -> dict[str, float]:
        """The task's metrics on ``data`` (the --eval or --test set), plus the mean loss."""
        s = self.spec
        logits, loss = evaluation.predict_logits(model, data.features, s.eval_batch_size,
                                                 self.tokenizer.pad_id, device)
        if s.problem == "tag":
            scores = evaluation.tagging_scores(logits, data.sentences, data.word_ids,
                                               self.data.labels, s.tag_scheme)
        elif s.problem == "qa":
            scores = self._qa_scores(logits, data)
        else:
            scores = evaluation.sequence_scores(logits, data.features, s.problem,
                                                len(self.data.labels or [1]))
        return {**scores, "eval_loss": loss, "examples": data.count}

    def _qa_scores(self, logits, data: EvalSet) -> dict[str, float]:
        from engine.finetune import metrics, squad

        s = self.spec
        predictions = squad.decode_answers(
            data.qa_examples, data.qa_features, [row[:, 0] for row in logits],
            [row[:, 1] for row in logits], n_best=s.n_best,
            max_answer_length=s.max_answer_length, version_2=data.version_2,
            null_threshold=s.null_threshold)
        return metrics.squad_scores({k: p.text for k, p in predictions.items()},
                                    data.qa_examples)

    def checkpoint_extras(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        return {}


_LOSS_KEY = {"single": "cls", "regress": "reg", "qa": "qa"}
_PER_TOKEN = ("input_ids", "attention_mask", "token_type_ids")


# What one more forward pass costs, in padded tokens' worth of work: a group is split off only
# when that saves more padding than this.
GROUP_OVERHEAD_TOKENS = 64


def length_groups(lengths: list[int], overhead: int = GROUP_OVERHEAD_TOKENS) -> list[list[int]]:
    """Row indices in groups of similar length: the split of the length-sorted rows into
    contiguous groups that minimises padded tokens (rows x longest row, per group) plus
    ``overhead`` per group. Exact, by dynamic programming over the sorted rows."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sorted_lengths = [lengths[i] for i in order]
    n = len(order)
    cost = [0.0] + [float("inf")] * n   # cost[j]: the best split of the j shortest rows
    start = [0] * (n + 1)               # start[j]: where the last group of that split begins
    for j in range(1, n + 1):
        for i in range(j):
            c = cost[i] + (j - i) * sorted_lengths[j - 1] + overhead
            if c < cost[j]:
                cost[j], start[j] = c, i
    groups, j = [], n
    while j > 0:
        groups.append(order[start[j]:j])
        j = start[j]
    return groups[::-1]


def _trim_padding(batch: dict[str, torch.Tensor], per_token_labels: bool) -> dict[str, torch.Tensor]:
    """Drop the columns past the longest row: padding for every row, so the results are
    identical and a batch that arrives padded to a fixed width costs only its real length."""
    width = int(batch["attention_mask"].sum(1).max())
    per_token = _PER_TOKEN + (("labels",) if per_token_labels else ())
    return {k: v[:, :width] if k in per_token else v for k, v in batch.items()}
