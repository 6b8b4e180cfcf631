"""SQuAD v1.1 / v2.0: read the JSON, cut contexts into overlapping windows, decode answer spans.

The windows follow the BERT SQuAD recipe (google-research/bert ``run_squad.py``): each feature is
``[CLS] question [SEP] context-window [SEP]``; the question is cut to ``max_query_length`` pieces;
windows of ``max_seq_length - len(question) - 3`` pieces start every ``doc_stride`` pieces until
the context is covered. A training target is the first gold answer, as token indices in the
window, or ``(0, 0)`` (``[CLS]``) when the question is unanswerable or the answer is not wholly
inside the window.

Answers are decoded back to character spans of the original context through the tokenizer's
offsets, so the predicted text is the user's text, not joined word pieces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.finetune.errors import FinetuneDataError

# How far from its ``answer_start`` an answer may be found: a few official answers are off by
# a character or two (whitespace), and a hard error on the official data would be useless.
ANSWER_START_SLACK = 20
SPECIAL_TOKENS_PER_FEATURE = 3  # [CLS] question [SEP] context [SEP]


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple[tuple[str, int], ...]  # (text, char_start); empty for unanswerable
    is_impossible: bool


@dataclass(frozen=True)
class QAFeature:
    example_index: int
    input_ids: list[int]  # [CLS] question [SEP] context-window [SEP], unpadded
    token_type_ids: list[int]
    context_offsets: list[tuple[int, int] | None]  # per token: char span in the context; None outside the window
    start_position: int  # answer start token in this window; 0 ([CLS]) when unanswerable or not wholly inside
    end_position: int
    # per token: True where no other window gives this context token more context on both
    # sides (BERT's "max context" rule); an answer may start only there. Empty: no rule.
    max_context: tuple[bool, ...] = ()


@dataclass(frozen=True)
class QAPrediction:
    text: str
    score: float  # start + end logit of the best span (or the null score)
    char_start: int  # -1 for the null answer
    char_end: int  # exclusive; -1 for the null answer


# ----- reading -----


def read_squad(path: str | os.PathLike) -> tuple[list[QAExample], bool]:
    """All questions of a SQuAD file in file order, and whether it is SQuAD v2.0.

    v2.0 means a ``version`` field starting with "v2" or any question carrying ``is_impossible``.
    Answer starts are checked (and corrected by up to ``ANSWER_START_SLACK`` characters).
    Raises :class:`FinetuneDataError` naming the file and, for JSON syntax, the line; structural
    errors name the place in the JSON (``data[3].paragraphs[0].qas[2]``) and the question id.
    """
    root = _load_json(Path(path))
    data = root.get("data") if isinstance(root, dict) else None
    if not isinstance(data, list):
        raise FinetuneDataError(path, 'no "data" list at the top level: not a SQuAD file')
    version_2 = str(root.get("version", "")).startswith("v2")
    examples: list[QAExample] = []
    seen: dict[str, str] = {}  # question id -> where it was first seen
    for a, article in enumerate(data):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, f"data[{a}]", path)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _field(paragraph, "context", str, where, path)
            for q, qa in enumerate(_field(paragraph, "qas", list, where, path)):
                example = _read_question(qa, context, f"{where}.qas[{q}]", path)
                if example.id in seen:
                    raise FinetuneDataError(path, f"{where}.qas[{q}]: question id {example.id!r} "
                                                  f"was already used at {seen[example.id]}")
                seen[example.id] = f"{where}.qas[{q}]"
                version_2 |= "is_impossible" in qa
                examples.append(example)
    return examples, version_2


def _load_json(path: Path):
    if not path.is_file():
        raise FinetuneDataError(path, "no such file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FinetuneDataError(path, f"cannot read ({e.strerror or e})") from None
    if not raw.strip():
        raise FinetuneDataError(path, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FinetuneDataError(path, "not UTF-8 text", raw.count(b"\n", 0, e.start) + 1) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FinetuneDataError(path, f"malformed JSON: {e.msg} (column {e.colno})", e.lineno) from None


_TYPE_NAMES = {list: "a list", str: "a string", int: "an integer"}


def _field(obj, key: str, kind: type, where: str, path):
    if not isinstance(obj, dict):
        raise FinetuneDataError(path, f"{where}: expected a JSON object")
    value = obj.get(key)
    # bool is an int subclass; true/false is no answer_start.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FinetuneDataError(path, f"{where}: {key!r} is missing or not {_TYPE_NAMES[kind]}")
    return value


def _read_question(qa, context: str, where: str, path) -> QAExample:
    qid = _field(qa, "id", str, where, path)
    question = _field(qa, "question", str, where, path)
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise FinetuneDataError(path, f"{where} (id {qid!r}): 'is_impossible' is not true or false")
    if impossible:
        # v2.0 lists "plausible_answers" here, and "answers" is empty: nothing to read.
        return QAExample(qid, question, context, (), True)
    raw_answers = _field(qa, "answers", list, where, path)
    if not raw_answers:
        raise FinetuneDataError(path, f"{where} (id {qid!r}): an answerable question has no answers")
    answers = tuple(_read_answer(answer, context, f"{where}.answers[{j}]", qid, path)
                    for j, answer in enumerate(raw_answers))
    return QAExample(qid, question, context, answers, False)


def _read_answer(answer, context: str, where: str, qid: str, path) -> tuple[str, int]:
    text = _field(answer, "text", str, where, path)
    start = _field(answer, "answer_start", int, where, path)
    if not text:
        raise FinetuneDataError(path, f"{where} (id {qid!r}): the answer text is empty")
    found = _locate(context, text, start)
    if found is None:
        raise FinetuneDataError(path, f"{where} (id {qid!r}): answer {text!r} is not in the context "
                                      f"within {ANSWER_START_SLACK} characters of answer_start {start}")
    return text, found


def _locate(context: str, text: str, start: int) -> int | None:
    """The occurrence of ``text`` in ``context`` nearest to ``start`` within the slack, if any."""
    lowest = max(0, start - ANSWER_START_SLACK)
    highest = min(start + ANSWER_START_SLACK, len(context) - len(text))
    nearest_first = sorted(range(lowest, highest + 1), key=lambda i: abs(i - start))
    return next((i for i in nearest_first if context.startswith(text, i)), None)


# ----- features -----


def build_features(examples: Sequence[QAExample], tokenizer, max_seq_length: int = 384,
                   doc_stride: int = 128, max_query_length: int = 64) -> list[QAFeature]:
    """One feature per context window of each example, in example order (see the module doc).

    ``tokenizer`` is a :class:`engine.tokenizer.WordPieceTokenizer`. Raises ValueError when the
    lengths leave no window longer than ``doc_stride`` (then some context would never be seen).
    """
    smallest_window = max_seq_length - max_query_length - SPECIAL_TOKENS_PER_FEATURE
    if max_query_length < 1 or doc_stride < 1:
        raise ValueError(f"max_query_length ({max_query_length}) and doc_stride ({doc_stride}) must be positive")
    if doc_stride >= smallest_window:
        raise ValueError(f"doc_stride ({doc_stride}) must be smaller than the context window, "
                         f"max_seq_length - max_query_length - {SPECIAL_TOKENS_PER_FEATURE} = {smallest_window}; "
                         "raise max_seq_length or lower doc_stride / max_query_length")
    features: list[QAFeature] = []
    for index, example in enumerate(examples):
        features.extend(_example_features(index, example, tokenizer, max_seq_length, doc_stride,
                                          max_query_length))
    return features


def _example_features(index: int, example: QAExample, tokenizer, max_seq_length: int, doc_stride: int,
                      max_query_length: int) -> list[QAFeature]:
    question_ids = tokenizer.encode_pieces(example.question)[0][:max_query_length]
    context_ids, offsets = tokenizer.encode_pieces(example.context)
    prefix = [tokenizer.cls_id, *question_ids, tokenizer.sep_id]
    window_length = max_seq_length - len(prefix) - 1
    answer = _answer_tokens(example, offsets)
    windows = [(start, min(start + window_length, len(context_ids)))
               for start in _window_starts(len(context_ids), window_length, doc_stride)]
    owner = _max_context_windows(windows, len(context_ids))
    features = []
    for w, (start, stop) in enumerate(windows):
        if answer is not None and start <= answer[0] and answer[1] < stop:
            positions = (answer[0] - start + len(prefix), answer[1] - start + len(prefix))
        else:
            positions = (0, 0)
        features.append(QAFeature(
            example_index=index,
            input_ids=[*prefix, *context_ids[start:stop], tokenizer.sep_id],
            token_type_ids=[0] * len(prefix) + [1] * (stop - start + 1),
            context_offsets=[None] * len(prefix) + [tuple(o) for o in offsets[start:stop]] + [None],
            start_position=positions[0], end_position=positions[1],
            max_context=(False,) * len(prefix) + tuple(owner[d] == w for d in range(start, stop))
            + (False,)))
    return features


def _max_context_windows(windows: Sequence[tuple[int, int]], n_tokens: int) -> list[int]:
    """For each context token, the window where it has the most context: the largest
    min(tokens left, tokens right), ties to the longer window (+ 0.01 x length, as BERT)."""
    best = [(-1.0, 0)] * n_tokens  # (score, window index) per token
    for w, (start, stop) in enumerate(windows):
        for d in range(start, stop):
            score = min(d - start, stop - 1 - d) + 0.01 * (stop - start)
            if score > best[d][0]:
                best[d] = (score, w)
    return [w for _, w in best]


def _window_starts(n_tokens: int, window_length: int, stride: int) -> list[int]:
    # As the BERT recipe: the last window may be shorter (not shifted back), and a context with no
    # tokens still gets one window, so every example has a feature.
    starts = [0]
    while starts[-1] + window_length < n_tokens:
        starts.append(starts[-1] + stride)
    return starts


def _answer_tokens(example: QAExample, offsets: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """First and last context token overlapping the first gold answer (the training target)."""
    if example.is_impossible or not example.answers:
        return None
    text, char_start = example.answers[0]
    char_end = char_start + len(text)
    inside = [i for i, (a, b) in enumerate(offsets) if a < char_end and b > char_start]
    return (inside[0], inside[-1]) if inside else None


# ----- decoding -----


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, context_offsets: Sequence[tuple[int, int] | None],
              n_best: int = 20, max_answer_length: int = 30,
              max_context: Sequence[bool] = ()) -> tuple[int, int, float] | None:
    """Highest ``start + end`` logit span of one window: ``(start_token, end_token, score)``.

    Looks at the ``n_best`` highest start and end logits among the context tokens and keeps spans
    with ``end >= start`` and at most ``max_answer_length`` tokens. Logits may be longer than the
    offsets (padding); the extra positions are ignored. None when no span qualifies.
    """
    n_tokens = len(context_offsets)
    start_logits = np.asarray(start_logits, dtype=np.float64)[:n_tokens]  # [T]
    end_logits = np.asarray(end_logits, dtype=np.float64)[:n_tokens]  # [T]
    if start_logits.size < n_tokens or end_logits.size < n_tokens:
        raise ValueError(f"{n_tokens} tokens but {start_logits.size} start and {end_logits.size} end logits")
    in_context = np.flatnonzero([o is not None for o in context_offsets])  # [C]
    may_start = (in_context if not len(max_context)
                 else np.flatnonzero([o is not None and m for o, m in zip(context_offsets, max_context)]))
    if may_start.size == 0:
        return None
    starts = may_start[np.argsort(-start_logits[may_start], kind="stable")[:n_best]]  # [S]
    ends = in_context[np.argsort(-end_logits[in_context], kind="stable")[:n_best]]  # [E]
    lengths = ends[None, :] - starts[:, None] + 1  # [S, E]
    allowed = (lengths >= 1) & (lengths <= max_answer_length)
    if not allowed.any():
        return None
    scores = np.where(allowed, start_logits[starts][:, None] + end_logits[ends][None, :], -np.inf)  # [S, E]
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    return int(starts[i]), int(ends[j]), float(scores[i, j])


def decode_answers(examples: Sequence[QAExample], features: Sequence[QAFeature],
                   start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray], n_best: int = 20,
                   max_answer_length: int = 30, version_2: bool = False,
                   null_threshold: float = 0.0) -> dict[str, QAPrediction]:
    """The answer of every example that has a feature, keyed by question id.

    The best span over all windows of an example wins. For v2.0 the null score is the smallest
    ``start[0] + end[0]`` ([CLS]) over the windows, and the answer is "" when
    ``null score - best span score > null_threshold`` (the BERT recipe). An example with no
    valid span at all gets "" too, scored with its null score.
    """
    if not len(features) == len(start_logits) == len(end_logits):
        raise ValueError(f"{len(features)} features but {len(start_logits)} start and "
                         f"{len(end_logits)} end logit arrays")
    null_scores: dict[int, float] = {}
    best: dict[int, tuple[float, QAFeature, int, int]] = {}  # example index -> (score, feature, start, end)
    for feature, starts, ends in zip(features, start_logits, end_logits):
        index = feature.example_index
        null_scores[index] = min(null_scores.get(index, np.inf), float(starts[0] + ends[0]))
        span = best_span(starts, ends, feature.context_offsets, n_best, max_answer_length,
                         feature.max_context)
        if span is not None and (index not in best or span[2] > best[index][0]):
            best[index] = (span[2], feature, span[0], span[1])

    predictions: dict[str, QAPrediction] = {}
    for index, null_score in null_scores.items():
        example = examples[index]
        found = best.get(index)
        if found is None or (version_2 and null_score - found[0] > null_threshold):
            predictions[example.id] = QAPrediction("", null_score, -1, -1)
            continue
        score, feature, start, end = found
        char_start, char_end = feature.context_offsets[start][0], feature.context_offsets[end][1]
        predictions[example.id] = QAPrediction(example.context[char_start:char_end], score, char_start, char_end)
    return predictions
