"""What a fine-tuned model says about one input: class probabilities, token tags, or the
answer span in sentence B. Runs the task head on the encoder output ``Predictor`` already has."""

from __future__ import annotations

import numpy as np
import torch

from engine.config import BertConfig
from engine.finetune.squad import best_span
from engine.results import AnswerSpan, TaskPrediction
from engine.tokenizer import Encoding

MAX_ANSWER_TOKENS = 30


def task_kind(architecture: str, config: BertConfig) -> str | None:
    """The task a checkpoint was fine-tuned for, from its architecture and config."""
    if architecture == "BertForQuestionAnswering":
        return "qa"
    if architecture == "BertForTokenClassification":
        return "tag"
    if architecture != "BertForSequenceClassification":
        return None
    if config.problem_type == "multi_label_classification":
        return "multi_label"
    if config.problem_type == "regression" or config.num_labels == 1:
        return "regress"
    return "classify"


def label_names(config: BertConfig) -> list[str]:
    if config.id2label:
        return [config.id2label[i] for i in range(config.num_labels)]
    return [f"LABEL_{i}" for i in range(config.num_labels)]


def needs_every_row(kind: str | None) -> bool:
    """Tagging and QA read the last layer at every token, not only at [CLS] and the masks."""
    return kind in ("tag", "qa")


def predict_task(kind: str, model: torch.nn.Module, config: BertConfig, enc: Encoding,
                 text_b: str | None, hidden: torch.Tensor,
                 pooled: torch.Tensor | None) -> TaskPrediction:
    """hidden [T, H] the last layer, pooled [1, H] -> the task's reading of the input."""
    if kind in ("classify", "multi_label", "regress"):
        logits = model.classifier(pooled).float()[0]                       # [K]
        if kind == "regress":
            return TaskPrediction(kind, [], None, value=float(logits[0]))
        probs = torch.sigmoid(logits) if kind == "multi_label" else torch.softmax(logits, -1)
        return TaskPrediction(kind, label_names(config), probs.cpu().numpy())
    if kind == "tag":
        probs = torch.softmax(model.classifier(hidden).float(), -1).cpu().numpy()  # [T, K]
        names = label_names(config)
        tags = [None if special else names[int(row.argmax())]
                for row, special in zip(probs, enc.special_tokens_mask)]
        return TaskPrediction(kind, names, probs, tags=tags)
    return _answer(model, enc, text_b, hidden)


def _answer(model, enc: Encoding, text_b: str | None, hidden: torch.Tensor) -> TaskPrediction:
    logits = model.qa_outputs(hidden).float().cpu().numpy()                 # [T, 2]
    if not enc.has_pair:
        return TaskPrediction("qa", [], None, note="type the question as A and the passage as B")
    context = [tuple(off) if seq == 1 else None
               for off, seq in zip(enc.offsets, enc.sequence_ids)]
    span = best_span(logits[:, 0], logits[:, 1], context, max_answer_length=MAX_ANSWER_TOKENS)
    if span is None:
        return TaskPrediction("qa", [], None, note="sentence B has no token to answer with")
    start, end, score = span
    char_start, char_end = context[start][0], context[end][1]
    answer = AnswerSpan(text=text_b[char_start:char_end], score=score,
                        null_score=float(logits[0, 0] + logits[0, 1]), char_start=char_start,
                        char_end=char_end, token_start=start, token_end=end)
    return TaskPrediction("qa", [], None, answer=answer)
