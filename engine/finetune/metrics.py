"""Evaluation metrics of the fine-tuning tasks, as pure functions on numpy arrays and lists.

Each score is a Python float in [0, 1] (correlations in [-1, 1]) and is defined on every input,
degenerate ones included: where a ratio has a zero denominator the score is 0.0, as in sklearn
with ``zero_division=0`` and in conlleval, never NaN.

Reference definitions followed:
- classification: sklearn's ``accuracy_score``, ``f1_score``, ``matthews_corrcoef``;
- correlations: scipy's ``pearsonr`` and ``spearmanr`` (average ranks for ties);
- named entities: conlleval / seqeval's default (lenient) chunking;
- SQuAD: the official v2.0 evaluation script (which agrees with v1.1 on answerable questions,
  see :func:`token_f1`), keeping fractions where the script prints percentages.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# ----- classification -----


def _paired(pred, gold) -> tuple[np.ndarray, np.ndarray]:
    pred, gold = np.asarray(pred).ravel(), np.asarray(gold).ravel()
    if pred.shape != gold.shape:
        raise ValueError(f"predictions and gold labels differ in length ({pred.size} vs {gold.size})")
    return pred, gold


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def accuracy(pred, gold) -> float:
    """Share of equal labels; 0.0 for no examples."""
    pred, gold = _paired(pred, gold)
    return _ratio(np.count_nonzero(pred == gold), pred.size)


def _f1_from_counts(tp: int, fp: int, fn: int) -> float:
    # 2PR / (P + R) written with counts: no intermediate 0/0 when a class is never predicted.
    return _ratio(2 * tp, 2 * tp + fp + fn)


def f1_binary(pred, gold, positive=1) -> float:
    """F1 of the ``positive`` class; 0.0 when there is neither a positive prediction nor a positive label."""
    pred, gold = _paired(pred, gold)
    is_pred, is_gold = pred == positive, gold == positive
    tp = np.count_nonzero(is_pred & is_gold)
    return _f1_from_counts(tp, np.count_nonzero(is_pred) - tp, np.count_nonzero(is_gold) - tp)


def f1_macro(pred, gold, num_labels: int) -> float:
    """Unweighted mean of the per-class F1 over the labels 0..num_labels-1.

    A class absent from both predictions and gold counts as 0.0, as sklearn's
    ``f1_score(gold, pred, average="macro", labels=range(num_labels))``.
    """
    if num_labels < 1:
        raise ValueError(f"num_labels must be at least 1, got {num_labels}")
    return float(np.mean([f1_binary(pred, gold, positive=k) for k in range(num_labels)]))


def matthews_corrcoef(pred, gold) -> float:
    """Matthews correlation for any number of classes (Gorodkin's R_K); 0.0 when undefined.

    With the confusion matrix C (rows gold, columns predicted), c = trace, s = total,
    t_k = row sums, p_k = column sums:
        MCC = (c*s - sum p_k t_k) / sqrt((s^2 - sum p_k^2) (s^2 - sum t_k^2)),
    which for two classes is (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)).
    Constant predictions or constant gold labels make the denominator 0: the score is 0.0.
    """
    pred, gold = _paired(pred, gold)
    labels, codes = np.unique(np.concatenate([pred, gold]), return_inverse=True)
    k = labels.size
    confusion = np.zeros((k, k), dtype=np.float64)  # [K, K]; float64: the products overflow int64 on big sets
    np.add.at(confusion, (codes[pred.size:], codes[:pred.size]), 1.0)
    gold_counts, pred_counts = confusion.sum(axis=1), confusion.sum(axis=0)  # [K], [K]
    correct, total = np.trace(confusion), confusion.sum()
    numerator = correct * total - pred_counts @ gold_counts
    denominator = np.sqrt((total**2 - pred_counts @ pred_counts) * (total**2 - gold_counts @ gold_counts))
    return float(np.clip(numerator / denominator, -1.0, 1.0)) if denominator else 0.0


# ----- correlations -----


def pearson(x, y) -> float:
    """Pearson correlation; 0.0 when either input is constant (or has fewer than 2 values)."""
    x, y = _paired(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if x.size < 2:
        return 0.0
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt((dx @ dx) * (dy @ dy))
    return float(np.clip((dx @ dy) / denominator, -1.0, 1.0)) if denominator else 0.0


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span (scipy's rankdata "average")."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_group = np.r_[True, ordered[1:] != ordered[:-1]]  # [N] a new tie group begins here
    group_of = np.cumsum(starts_group) - 1  # [N] group index of each sorted position
    first = np.flatnonzero(starts_group)  # [G] first sorted position of each group
    last = np.r_[first[1:], values.size] - 1  # [G]
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = ((first + last) / 2 + 1)[group_of]
    return ranks


def spearman(x, y) -> float:
    """Spearman rank correlation (Pearson of average ranks); 0.0 when either input is constant."""
    x, y = _paired(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return pearson(_average_ranks(x), _average_ranks(y))


# ----- multi-label -----


def multilabel_scores(pred, gold) -> dict[str, float]:
    """Micro and macro F1 over the labels and exact-row accuracy of [N, K] boolean matrices.

    Macro F1 averages the per-label F1 with 0.0 for a label never predicted nor present
    (sklearn, ``zero_division=0``); all three are 0.0 for N == 0 or K == 0.
    """
    pred, gold = np.asarray(pred, dtype=bool), np.asarray(gold, dtype=bool)
    if pred.ndim != 2 or pred.shape != gold.shape:
        raise ValueError(f"expected two [N, K] matrices of the same shape, got {pred.shape} and {gold.shape}")
    tp = np.count_nonzero(pred & gold, axis=0)  # [K]
    fp = np.count_nonzero(pred & ~gold, axis=0)  # [K]
    fn = np.count_nonzero(~pred & gold, axis=0)  # [K]
    per_label = [_f1_from_counts(*counts) for counts in zip(tp, fp, fn)]
    rows_equal = np.count_nonzero((pred == gold).all(axis=1)) if per_label else 0
    return {"micro_f1": _f1_from_counts(tp.sum(), fp.sum(), fn.sum()),
            "macro_f1": float(np.mean(per_label)) if per_label else 0.0,
            "subset_accuracy": _ratio(rows_equal, pred.shape[0])}


# ----- named entities -----

SCHEMES = ("IOB1", "IOB2")


def _split_tag(tag: str) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    prefix, dash, kind = tag.partition("-")
    if prefix not in ("B", "I") or not dash or not kind:
        raise ValueError(f"tag {tag!r} is neither 'O' nor 'B-TYPE' / 'I-TYPE'")
    return prefix, kind


def entity_spans(tags: Sequence[str], scheme: str = "IOB2") -> set[tuple[str, int, int]]:
    """Entities of one tagged sentence as ``(type, start, end)`` token spans, ``end`` exclusive.

    Chunking follows conlleval (and seqeval's default mode): an entity starts at every ``B-X``
    and at an ``I-X`` that does not continue an entity of type X, and ends before ``O``, ``B-``
    or a change of type. So a stray ``I-X`` after ``O`` in IOB2 starts an entity rather than
    being dropped (seqeval's strict mode would drop it). These rules read IOB1 (``I-`` opens an
    entity, ``B-`` only splits two adjacent ones of one type) and IOB2 (every entity opens with
    ``B-``) alike, so both schemes give the same spans; ``scheme`` names the tagging for the
    reader and is checked.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r}; expected one of {', '.join(SCHEMES)}")
    spans: set[tuple[str, int, int]] = set()
    open_kind, open_start = None, 0
    for i, (prefix, kind) in enumerate(map(_split_tag, tags)):
        continues = prefix == "I" and kind == open_kind
        if open_kind is not None and not continues:
            spans.add((open_kind, open_start, i))
            open_kind = None
        if prefix != "O" and not continues:
            open_kind, open_start = kind, i
    if open_kind is not None:
        spans.add((open_kind, open_start, len(tags)))
    return spans


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                  scheme: str = "IOB2") -> dict[str, float]:
    """Entity-level precision, recall and F1 over sentences (conlleval): an entity counts as
    found only with the exact type and both boundaries. Each is 0.0 when its denominator is 0."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences, predictions have {len(pred)}")
    n_gold = n_pred = n_correct = 0
    for i, (gold_tags, pred_tags) in enumerate(zip(gold, pred)):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"sentence {i}: {len(gold_tags)} gold tags but {len(pred_tags)} predicted")
        gold_spans, pred_spans = entity_spans(gold_tags, scheme), entity_spans(pred_tags, scheme)
        n_gold, n_pred = n_gold + len(gold_spans), n_pred + len(pred_spans)
        n_correct += len(gold_spans & pred_spans)
    precision, recall = _ratio(n_correct, n_pred), _ratio(n_correct, n_gold)
    return {"entity_precision": precision, "entity_recall": recall,
            "entity_f1": _f1_from_counts(n_correct, n_pred - n_correct, n_gold - n_correct)}


# ----- SQuAD (official evaluation script) -----

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _golds(gold_answers: Iterable[str]) -> list[str]:
    # As the v2.0 script: golds that normalize to nothing are dropped; none left means "no answer".
    return [g for g in gold_answers if normalize_answer(g)] or [""]


def exact_match(prediction: str, gold_answers: Iterable[str]) -> float:
    """1.0 if the normalized prediction equals any normalized gold answer.

    ``gold_answers`` empty (or all normalizing to "") means unanswerable: only "" matches.
    """
    normalized = normalize_answer(prediction)
    return float(any(normalized == normalize_answer(g) for g in _golds(gold_answers)))


def _pair_f1(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    if not prediction_tokens or not gold_tokens:
        return float(prediction_tokens == gold_tokens)  # a no-answer scores 1 only against a no-answer
    same = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    return _f1_from_counts(same, len(prediction_tokens) - same, len(gold_tokens) - same)


def token_f1(prediction: str, gold_answers: Iterable[str]) -> float:
    """Best bag-of-words F1 of the normalized prediction against the gold answers.

    The v2.0 rules: "" against an unanswerable question scores 1. On answerable questions the
    v1.1 script agrees except for golds normalizing to "" (v1.1 keeps them, v2.0 drops them).
    """
    tokens = normalize_answer(prediction).split()
    return max(_pair_f1(tokens, normalize_answer(g).split()) for g in _golds(gold_answers))


def squad_scores(predictions: Mapping[str, str], examples) -> dict[str, float]:
    """Mean exact match and F1 over ``examples`` (``QAExample``s); a missing prediction scores 0.

    When some example is unanswerable (SQuAD v2.0) the result adds the split the official script
    reports: ``has_answer_exact_match``/``has_answer_f1`` and ``no_answer_exact_match``/``no_answer_f1``,
    each only when that group is not empty. Every score is 0.0 over no examples.
    """
    groups: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for example in examples:
        golds = [text for text, _ in example.answers]
        prediction = predictions.get(example.id)
        if prediction is None:
            groups[bool(golds)].append((0.0, 0.0))
        else:
            groups[bool(golds)].append((exact_match(prediction, golds), token_f1(prediction, golds)))

    def means(scores: list[tuple[float, float]]) -> tuple[float, float]:
        return tuple(float(m) for m in np.mean(scores, axis=0)) if scores else (0.0, 0.0)

    result = dict(zip(("exact_match", "f1"), means(groups[True] + groups[False])))
    if groups[False]:
        for name, is_answerable in (("has_answer", True), ("no_answer", False)):
            if groups[is_answerable]:
                result[f"{name}_exact_match"], result[f"{name}_f1"] = means(groups[is_answerable])
    return result
