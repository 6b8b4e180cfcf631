"""Labelled examples -> model inputs (unpadded id lists), and batches padded to their longest row.

A feature is a dict of plain Python values: ``input_ids``, ``token_type_ids`` and the task's
targets (``labels``: class id, float, multi-hot row or per-token ids; ``start_positions`` /
``end_positions`` for QA). Padding happens per batch, so a batch of short rows stays short.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from engine.model import IGNORE_INDEX
from engine.tokenizer import WordPieceTokenizer

Feature = dict[str, object]


def encode_text_examples(examples: Sequence, tokenizer: WordPieceTokenizer, max_length: int,
                         labels: list[str] | None, problem: str) -> list[Feature]:
    """``TextExample``s -> features; ``labels`` (class names, in id order) map names to ids."""
    encodings = tokenizer.encode_batch([(ex.text_a, ex.text_b) for ex in examples], max_length)
    index = {name: i for i, name in enumerate(labels or [])}
    features = []
    for ex, enc in zip(examples, encodings):
        feature: Feature = {"input_ids": enc.ids, "token_type_ids": enc.token_type_ids}
        if ex.label is not None:
            feature["labels"] = _label_value(ex.label, index, problem)
        features.append(feature)
    return features


def _label_value(label, index: dict[str, int], problem: str):
    if problem == "regress":
        return float(label)
    if problem == "multi":
        row = [0.0] * len(index)
        for name in label:
            row[index[name]] = 1.0
        return row
    return index[label]


def encode_tagged_sentences(sentences: Sequence, tokenizer: WordPieceTokenizer, max_length: int,
                            tags: list[str]) -> tuple[list[Feature], list[list[int | None]]]:
    """``TaggedSentence``s -> features with the tag on each word's FIRST piece (the other
    pieces, [CLS] and [SEP] get the ignore label), and each feature's word ids (to read
    predictions back per word; words cut off by ``max_length`` have no piece)."""
    index = {name: i for i, name in enumerate(tags)}
    features, word_ids = [], []
    for sentence in sentences:
        enc = tokenizer.encode_words(list(sentence.words), max_length)
        token_labels, seen = [], set()
        for word in enc.word_ids:
            if word is None or word in seen:
                token_labels.append(IGNORE_INDEX)
            else:
                seen.add(word)
                token_labels.append(index[sentence.tags[word]])
        features.append({"input_ids": enc.ids, "token_type_ids": enc.token_type_ids,
                         "labels": token_labels})
        word_ids.append(list(enc.word_ids))
    return features, word_ids


def word_predictions(token_predictions: Sequence[int], word_ids: Sequence[int | None],
                     num_words: int, fallback: int) -> list[int]:
    """Per-token predicted ids -> one per word, read at its first piece; words without a
    piece (truncated) get ``fallback`` (the "O" tag), so they count as missed entities."""
    out = [fallback] * num_words
    seen = set()
    for prediction, word in zip(token_predictions, word_ids):
        if word is not None and word not in seen:
            seen.add(word)
            out[word] = int(prediction)
    return out


def collate(features: Sequence[Feature], pad_id: int) -> dict[str, torch.Tensor]:
    """Features -> a batch padded to its longest row: input_ids, token_type_ids,
    attention_mask [B, T] and the targets present (token labels padded with the ignore id)."""
    width = max(len(f["input_ids"]) for f in features)
    batch_size = len(features)
    ids = torch.full((batch_size, width), pad_id, dtype=torch.long)        # [B, T]
    types = torch.zeros((batch_size, width), dtype=torch.long)             # [B, T]
    mask = torch.zeros((batch_size, width), dtype=torch.long)              # [B, T]
    for i, f in enumerate(features):
        n = len(f["input_ids"])
        ids[i, :n] = torch.tensor(f["input_ids"])
        types[i, :n] = torch.tensor(f["token_type_ids"])
        mask[i, :n] = 1
    batch = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
    if "labels" in features[0]:
        batch["labels"] = _collate_labels([f["labels"] for f in features], width)
    for key in ("start_positions", "end_positions"):
        if key in features[0]:
            batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)  # [B]
    return batch


def _collate_labels(labels: list, width: int) -> torch.Tensor:
    first = labels[0]
    if isinstance(first, float):
        return torch.tensor(labels, dtype=torch.float32)                   # [B] regression
    if isinstance(first, int):
        return torch.tensor(labels, dtype=torch.long)                      # [B] class ids
    if isinstance(first[0], float):
        return torch.tensor(labels, dtype=torch.float32)                   # [B, K] multi-hot
    out = torch.full((len(labels), width), IGNORE_INDEX, dtype=torch.long)  # [B, T] token tags
    for i, row in enumerate(labels):
        out[i, :len(row)] = torch.tensor(row)
    return out
