"""Two models on the same input: how far apart their heads attend, how alike their hidden
states are, and what each predicts (fill-mask, NSP, a fine-tuned task) side by side.

Both models must share a tokenizer (the same vocabulary, token for token, and the same
lowercasing), so that they see the same tokens and a candidate means the same on both sides.
Each side is read in one traced pass (``read``); ``compare_readings`` puts two readings side by
side, which lets a checkpoint series read each checkpoint once (``engine.lab.series``).
Results are the torch-free ``engine.results.Comparison`` and ``DatasetComparison``.

Shapes: L layers, N heads, T tokens, H hidden size, M [MASK]s, V vocabulary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from engine.infer_tasks import predict_task
from engine.lab.divergence import Side, check_sides, js_rows, model_shape
from engine.lab.heads import read_pairs
from engine.lab.targets import mask_rows
from engine.results import (Comparison, DatasetComparison, InferenceError,
                            MaskComparison, TaskPrediction)
from engine.trace import Trace

DEFAULT_TOP_K = 5
NO_MLM = "this model has no MLM head, so it cannot fill in [MASK]"
NO_NSP = "this model has no NSP head"


@dataclass(frozen=True)
class Reading:
    """What one model made of one input, as numpy; the raw material of a comparison."""

    name: str
    tokenizer: object
    text_a: str
    text_b: str | None
    tokens: list[str]
    attentions: np.ndarray         # [L, N, T, T] float64
    hidden: np.ndarray             # [L + 1, T, H] float64, the embeddings first
    mask_positions: list[int]
    mask_probs: np.ndarray | None  # [M, V] float32 softmax at each [MASK]; None: no MLM head
    nsp: float | None              # P(IsNext)
    task: TaskPrediction | None
    notes: tuple[str, ...]


def side_of(predictor) -> Side:
    return Side(predictor.name, str(predictor.checkpoint.path), predictor.tokenizer,
                model_shape(predictor.config))


def check_comparable(a, b) -> None:
    """Refuse two Predictors that do not share a tokenizer or a shape, naming both."""
    check_sides(side_of(a), side_of(b))


def read(predictor, text_a: str, text_b: str | None = None) -> Reading:
    """One traced pass of ``predictor`` over the pair, every result a comparison needs."""
    if not isinstance(text_a, str) or not text_a.strip():
        raise InferenceError("sentence A must be text")
    enc = predictor.tokenizer.encode(text_a, text_b or None,
                                     max_length=predictor.config.max_position_embeddings)
    ids = torch.tensor([enc.ids], device=predictor.device)              # [1, T]
    types = torch.tensor([enc.token_type_ids], device=predictor.device)  # [1, T]
    trace = Trace(record={"probs", "layer_input", "layer_output"})
    masks = mask_rows(enc, predictor.tokenizer.mask_id)
    notes = []
    with torch.inference_mode():
        out = predictor.encoder(ids, token_type_ids=types, trace=trace)
        attentions = torch.stack(trace.attentions)[:, 0].double().cpu().numpy()   # [L, N, T, T]
        hidden = torch.stack(trace.hidden_states)[:, 0].double().cpu().numpy()    # [L + 1, T, H]
        last = out.last_hidden_state[0]                                           # [T, H]
        mask_probs = None
        if "mlm" in predictor.capabilities:
            logits = predictor.heads.predictions(last[masks]).float()            # [M, V]
            mask_probs = torch.softmax(logits, dim=-1).cpu().numpy()
        elif masks:
            notes.append(NO_MLM)
        nsp = None
        if enc.has_pair and "nsp" in predictor.capabilities and out.pooler_output is not None:
            probs = torch.softmax(predictor.heads.seq_relationship(out.pooler_output).float(), -1)
            nsp = float(probs[0, 0])                                              # [1, 2] -> IsNext
        elif enc.has_pair:
            notes.append(NO_NSP)
        task = (predict_task(predictor.task_kind, predictor.model, predictor.config, enc,
                             text_b, last, out.pooler_output) if predictor.task_kind else None)
    return Reading(predictor.name, predictor.tokenizer, text_a, text_b or None,
                   list(enc.tokens), attentions, hidden, masks, mask_probs, nsp, task,
                   tuple(notes))


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a, b [..., T, H] -> [..., T] cosine similarity of each token's vectors."""
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return (a * b).sum(-1) / np.maximum(norms, np.finfo(np.float64).tiny)


def _same_tokens(a: Reading, b: Reading) -> None:
    if a.tokens != b.tokens:  # a shared tokenizer, but fewer positions on one side
        raise InferenceError(f"{a.name} and {b.name} encode this input differently "
                             f"({len(a.tokens)} and {len(b.tokens)} tokens: one has fewer "
                             "positions); shorten it")


def _top_ids(probs: np.ndarray | None, top_k: int) -> list[int]:
    if probs is None:
        return []
    return [int(i) for i in np.argsort(-probs, kind="stable")[:top_k]]


def _mask_comparisons(a: Reading, b: Reading, top_k: int) -> list[MaskComparison]:
    if a.mask_probs is None and b.mask_probs is None:
        return []
    result = []
    for row, position in enumerate(a.mask_positions):
        pa = None if a.mask_probs is None else a.mask_probs[row]  # [V]
        pb = None if b.mask_probs is None else b.mask_probs[row]
        top_a, top_b = _top_ids(pa, top_k), _top_ids(pb, top_k)
        union = top_a + [i for i in top_b if i not in top_a]
        names = a.tokenizer.convert_ids_to_tokens
        result.append(MaskComparison(
            position=position, top_a=names(top_a), top_b=names(top_b), tokens=names(union),
            probs_a=None if pa is None else pa[union], probs_b=None if pb is None else pb[union]))
    return result


def compare_readings(a: Reading, b: Reading, top_k: int = DEFAULT_TOP_K) -> Comparison:
    """Two readings of the same input, A the reference."""
    _same_tokens(a, b)
    return Comparison(
        model_a=a.name, model_b=b.name, text_a=a.text_a, text_b=a.text_b, tokens=a.tokens,
        js_divergence=js_rows(a.attentions, b.attentions).mean(-1),           # [L, N]
        hidden_cosine=cosine_rows(a.hidden, b.hidden).mean(-1),               # [L + 1]
        fill_mask=_mask_comparisons(a, b, top_k), nsp_a=a.nsp, nsp_b=b.nsp, task_a=a.task,
        task_b=b.task, notes_a=a.notes, notes_b=b.notes)


def compare(a, b, text_a: str, text_b: str | None = None,
            top_k: int = DEFAULT_TOP_K) -> Comparison:
    """Predictors ``a`` and ``b`` on one sentence or pair."""
    if top_k < 1:
        raise InferenceError(f"top_k must be at least 1, got {top_k}")
    check_comparable(a, b)
    return compare_readings(read(a, text_a, text_b), read(b, text_a, text_b), top_k)


def read_examples(path: str | os.PathLike) -> list[tuple[str, str | None]]:
    """The file's examples as ``bert-engine heads`` reads them (``engine.lab.heads.read_pairs``:
    one a line, a tab between A and B, blank lines skipped), each with a sentence A."""
    examples = read_pairs(path)
    for number, (text_a, _) in enumerate(examples, 1):
        if not text_a.strip():
            raise InferenceError(f"{path}: example {number} has no sentence A (text before "
                                 "the tab)")
    return examples


def compare_file(a, b, path: str | os.PathLike,
                 top_k: int = DEFAULT_TOP_K) -> DatasetComparison:
    """Predictors ``a`` and ``b`` over every example of a file (``read_examples``): heads and
    layers pooled over all rows and tokens; fill-mask and NSP as agreement and mean change."""
    check_comparable(a, b)
    examples = read_examples(path)
    js_sum = cos_sum = 0.0
    rows = masks = agreeing = pairs = nsp_agreeing = 0
    nsp_a, nsp_b = [], []
    notes_a, notes_b = {}, {}
    for text_a, text_b in examples:
        ra, rb = read(a, text_a, text_b), read(b, text_a, text_b)
        _same_tokens(ra, rb)
        js_sum = js_sum + js_rows(ra.attentions, rb.attentions).sum(-1)       # [L, N]
        cos_sum = cos_sum + cosine_rows(ra.hidden, rb.hidden).sum(-1)         # [L + 1]
        rows += len(ra.tokens)
        for mask in _mask_comparisons(ra, rb, top_k):
            if mask.top1_agrees is not None:
                masks += 1
                agreeing += mask.top1_agrees
        pairs += text_b is not None
        if ra.nsp is not None and rb.nsp is not None:
            nsp_a.append(ra.nsp)
            nsp_b.append(rb.nsp)
            nsp_agreeing += (ra.nsp > 0.5) == (rb.nsp > 0.5)
        notes_a.update(dict.fromkeys(ra.notes))
        notes_b.update(dict.fromkeys(rb.notes))
    both = len(nsp_a)
    return DatasetComparison(
        model_a=a.name, model_b=b.name, data=str(path), examples=len(examples), pairs=pairs,
        js_divergence=js_sum / rows, hidden_cosine=cos_sum / rows, masks=masks,
        top1_agreement=agreeing / masks if masks else None,
        nsp_mean_a=float(np.mean(nsp_a)) if both else None,
        nsp_mean_b=float(np.mean(nsp_b)) if both else None,
        nsp_mean_abs_change=float(np.mean(np.abs(np.subtract(nsp_b, nsp_a)))) if both else None,
        nsp_agreement=nsp_agreeing / both if both else None,
        notes_a=tuple(notes_a), notes_b=tuple(notes_b))


def top_changes(js_divergence: np.ndarray, count: int = 5) -> list[tuple[int, int, float]]:
    """The ``count`` heads that changed most: (layer, head, divergence), largest first."""
    order = np.argsort(-js_divergence, axis=None, kind="stable")[:count]
    return [(int(i) // js_divergence.shape[1], int(i) % js_divergence.shape[1],
             float(js_divergence.flat[i])) for i in order]
