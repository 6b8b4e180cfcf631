"""A whole file of examples through the model: per example its token count and the model's
output (a fine-tuned classifier's or regressor's prediction, or a pretraining model's fill-mask
candidates and NSP), whether it is right and its loss when the file is labelled; the file's
metrics, computed by the same code as ``finetune --test``; scores per slice; and the [CLS] and
mean-pooled hidden state of every layer, for the embedding projector.

Files: the fine-tuning formats (CSV, TSV, JSONL, read by ``engine.finetune.tables``) or plain
text (``.txt``), one example per line with a tab between sentence A and B.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.finetune import evaluation, tables
from engine.finetune.features import collate, encode_text_examples
from engine.infer_tasks import label_names
from engine.results import InferenceError
from engine.results_dataset import DatasetRun, ExampleResult, SliceScores
from engine.trace import Trace

TASK_PROBLEMS = {"classify": "single", "multi_label": "multi", "regress": "regress"}
LENGTH_BUCKETS = (16, 32, 64, 128, 256, 512)


def read_dataset(path: str | Path, text_a: str = "text", text_b: str | None = None,
                 label: str | None = None, has_header: bool = True,
                 problem: str = "single") -> list[tables.TextExample]:
    """The examples of a fine-tuning file (columns as ``finetune`` names them), or of a plain
    ``.txt`` file: one per non-empty line, a tab between A and B, no labels."""
    path = tables.require_file(path)
    if path.suffix.lower() != ".txt":
        return tables.read_examples(path, text_a, text_b, label, problem=problem,
                                    has_header=has_header)
    examples = []
    for number, line in enumerate(tables.utf8_lines(path), start=1):
        line = line.rstrip("\r\n")
        if line.strip():
            a, _, b = line.partition("\t")
            examples.append(tables.TextExample(a, b or None, None, number))
    if not examples:
        raise InferenceError(f"{path}: no examples (one a line, a tab between A and B)")
    return examples


def read_for_model(path: str | Path, task_kind: str | None, text_a: str = "text",
                   text_b: str | None = None, label: str | None = None,
                   has_header: bool = True) -> list[tables.TextExample]:
    """The examples of ``path`` for a model of ``task_kind``: a fine-tuned model reads the
    ``label`` column (default "label") when the file has it, and runs unlabelled otherwise."""
    problem = TASK_PROBLEMS.get(task_kind or "", "single")
    wanted = label or ("label" if task_kind in TASK_PROBLEMS else None)
    try:
        return read_dataset(path, text_a, text_b, wanted, has_header, problem)
    except ValueError:
        if label or wanted is None:
            raise
        return read_dataset(path, text_a, text_b, None, has_header, problem)


def column_values(path: str | Path, column: str, examples: list[tables.TextExample],
                  has_header: bool = True) -> list[str]:
    """Each example's value in another ``column`` of its file (a JSONL key, or a CSV/TSV
    header name), as text, for slicing."""
    path = Path(path)
    by_line: dict[int, str] = {}
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(tables.utf8_lines(path), start=1):
            if line.strip():
                by_line[number] = str(json.loads(line).get(column))
    elif path.suffix.lower() in (".csv", ".tsv") and has_header:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            header = next(reader)
            if column not in header:
                raise InferenceError(f"{path}: no column {column!r} (columns: "
                                     f"{', '.join(header)})")
            where, start = header.index(column), reader.line_num + 1
            for row in reader:
                by_line[start] = row[where] if where < len(row) else ""
                start = reader.line_num + 1
    else:
        raise InferenceError(f"{path}: slicing by a column needs a JSONL file or a CSV/TSV "
                             "file with a header")
    return [by_line.get(ex.line, "None") for ex in examples]


def run_dataset(predictor, examples: list[tables.TextExample], path: str = "",
                seq_len: int = 128, batch_size: int = 32, top_k: int = 5,
                columns: dict[str, list[str]] | None = None,
                progress: Callable[[int, int], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> DatasetRun:
    """Run every example (length-sorted batches of ``batch_size``); ``progress(done, total)``
    after each batch, and ``cancelled()`` checked between batches (a cancelled run keeps the
    examples done, without file metrics). ``columns``: other columns' values to slice by."""
    started = time.perf_counter()
    kind = predictor.task_kind or "fill-mask"
    if kind not in (*TASK_PROBLEMS, "fill-mask"):
        raise InferenceError(f"a {kind} model: dataset runs take sequence classifiers, "
                             "regressors and pretraining models (score it with finetune --test)")
    labels = label_names(predictor.config) if kind in ("classify", "multi_label") else None
    problem = TASK_PROBLEMS.get(kind)
    labelled = problem is not None and all(ex.label is not None for ex in examples)
    if labelled and labels is not None:
        tables.check_labels_known(examples, labels, path or "the file", known_from="the model")
    max_length = min(seq_len, predictor.config.max_position_embeddings)
    features = encode_text_examples(examples if labelled else
                                    [tables.TextExample(e.text_a, e.text_b, None, e.line)
                                     for e in examples],
                                    predictor.tokenizer, max_length, labels, problem or "single")
    order = sorted(range(len(examples)), key=lambda i: len(features[i]["input_ids"]))
    results: list[ExampleResult | None] = [None] * len(examples)
    logits: list[np.ndarray | None] = [None] * len(examples)
    num_layers, hidden = predictor.config.num_hidden_layers, predictor.config.hidden_size
    pooled = {k: np.zeros((len(examples), num_layers, hidden), np.float32) for k in ("cls", "mean")}
    stopped = False
    for start in range(0, len(order), batch_size):
        if cancelled is not None and cancelled():
            stopped = True
            break
        chosen = order[start:start + batch_size]
        _run_batch(predictor, kind, problem, labels, examples, features, chosen, top_k,
                   results, logits, pooled)
        if progress is not None:
            progress(min(start + batch_size, len(order)), len(order))
    done = [i for i in range(len(examples)) if results[i] is not None]
    metrics: dict[str, float] = {}
    if labelled and not stopped:
        metrics = {**evaluation.sequence_scores(logits, features, problem, len(labels or [1])),
                   "eval_loss": float(np.mean([results[i].loss for i in done])),
                   "examples": len(examples)}
    kept = [results[i] for i in done]
    return DatasetRun(path=str(path), kind=kind, labels=labels, examples=kept, metrics=metrics,
                      slices=slice_scores(kept, problem, {k: [v[i] for i in done]
                                                          for k, v in (columns or {}).items()}),
                      embeddings={k: v[done] for k, v in pooled.items()}, cancelled=stopped,
                      seconds=time.perf_counter() - started)


def _run_batch(predictor, kind, problem, labels, examples, features, chosen, top_k, results,
               logits, pooled) -> None:
    device = predictor.device
    batch = {k: v.to(device) for k, v in collate([features[i] for i in chosen],
                                                  predictor.tokenizer.pad_id).items()}
    batch.pop("labels", None)
    trace = Trace(record={"layer_output"})
    with torch.inference_mode():
        if problem is not None:
            out = predictor.model(**batch, trace=trace)
            rows_logits = out.logits.float()                               # [B, K]
        else:
            enc = predictor.encoder(batch["input_ids"], batch["attention_mask"],
                                    batch["token_type_ids"], trace=trace)
        states = torch.stack([r.layer_output.float() for r in trace.layers], 1)  # [B, L, T, H]
        keep = batch["attention_mask"].bool().clone()                          # [B, T]
        lengths = keep.sum(1)
        keep[:, 0] = False
        keep[torch.arange(len(chosen)), lengths - 1] = False                   # the last [SEP]
        keep &= batch["input_ids"] != predictor.tokenizer.sep_id
        weights = keep.float() / keep.float().sum(1, keepdim=True).clamp(min=1)  # [B, T]
        mean = torch.einsum("blth,bt->blh", states, weights)                   # [B, L, H]
        for row, i in enumerate(chosen):
            pooled["cls"][i] = states[row, :, 0].cpu().numpy()
            pooled["mean"][i] = mean[row].cpu().numpy()
        if problem is not None:
            for row, i in enumerate(chosen):
                logits[i] = rows_logits[row].cpu().numpy()
                results[i] = _task_result(i, examples[i], features[i], problem, labels,
                                          rows_logits[row])
        else:
            for row, i in enumerate(chosen):
                results[i] = _pretraining_result(predictor, i, examples[i], features[i],
                                                 enc.last_hidden_state[row],
                                                 None if enc.pooler_output is None
                                                 else enc.pooler_output[row], top_k)


def _base(i: int, ex: tables.TextExample, feature) -> ExampleResult:
    return ExampleResult(index=i, line=ex.line, text_a=ex.text_a, text_b=ex.text_b,
                         tokens=len(feature["input_ids"]),
                         label=list(ex.label) if isinstance(ex.label, tuple) else ex.label)


def _task_result(i, ex, feature, problem, labels, row_logits: torch.Tensor) -> ExampleResult:
    """row_logits [K] -> the prediction, its probability, and when labelled, right and loss."""
    result = _base(i, ex, feature)
    gold = feature.get("labels")
    if problem == "regress":
        result.prediction = float(row_logits[0])
        if gold is not None:
            result.loss = (result.prediction - float(gold)) ** 2
        return result
    if problem == "multi":
        probs = torch.sigmoid(row_logits)
        result.prediction = [labels[k] for k in range(len(labels)) if probs[k] > 0.5]
        result.probability = float(probs.max())
        if gold is not None:
            target = torch.tensor(gold, dtype=torch.float32)
            result.loss = float(F.binary_cross_entropy_with_logits(row_logits, target))
            result.correct = sorted(result.prediction) == sorted(result.label)
        return result
    probs = torch.softmax(row_logits, -1)
    best = int(probs.argmax())
    result.prediction, result.probability = labels[best], float(probs[best])
    if gold is not None:
        result.loss = float(F.cross_entropy(row_logits[None], torch.tensor([gold])))
        result.correct = best == gold
    return result


def _pretraining_result(predictor, i, ex, feature, last: torch.Tensor, pooled, top_k):
    """last [T_pad, H] -> each [MASK]'s top candidates and, for a pair, NSP's IsNext."""
    result = _base(i, ex, feature)
    ids = feature["input_ids"]
    rows = [t for t, tok in enumerate(ids) if tok == predictor.tokenizer.mask_id]
    if rows and "mlm" in predictor.capabilities:
        probs = torch.softmax(predictor.heads.predictions(last[rows]).float(), -1)  # [M, V]
        top, token_ids = probs.topk(top_k)
        result.fill_mask = [list(zip(predictor.tokenizer.convert_ids_to_tokens(t.tolist()),
                                     map(float, p))) for p, t in zip(top, token_ids)]
    if ex.text_b and pooled is not None and "nsp" in predictor.capabilities:
        result.nsp_is_next = float(torch.softmax(
            predictor.heads.seq_relationship(pooled[None]).float(), -1)[0, 0])
    return result


def length_bucket(tokens: int) -> str:
    low = 1
    for high in LENGTH_BUCKETS:
        if tokens <= high:
            return f"{low}-{high}"
        low = high + 1
    return f">{LENGTH_BUCKETS[-1]}"


def slice_scores(examples: list[ExampleResult], problem: str | None,
                 columns: dict[str, list[str]]) -> list[SliceScores]:
    """Scores by gold label, by length bucket and by each given column's value."""
    keys: list[tuple[str, list[str]]] = [("length", [length_bucket(e.tokens) for e in examples])]
    if problem in ("single", "multi") and examples and examples[0].label is not None:
        keys.insert(0, ("label", [str(e.label) for e in examples]))
    keys += [(f"column:{name}", values) for name, values in columns.items()]
    out = []
    for kind, values in keys:
        for value in sorted(set(values), key=_slice_order):
            members = [e for e, v in zip(examples, values) if v == value]
            losses = [e.loss for e in members if e.loss is not None]
            right = [e.correct for e in members if e.correct is not None]
            out.append(SliceScores(
                kind=kind, value=value, count=len(members),
                accuracy=sum(right) / len(right) if right and problem != "regress" else None,
                loss=float(np.mean(losses)) if losses else None,
                mse=float(np.mean(losses)) if losses and problem == "regress" else None))
    return out


def _slice_order(value: str):
    head = value.lstrip(">").split("-")[0]
    return (0, float(head), value) if head.replace(".", "", 1).isdigit() else (1, math.inf, value)
