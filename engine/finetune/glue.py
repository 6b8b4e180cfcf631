"""The nine GLUE tasks, read from a local copy of the official GLUE download.

Layout (as `download_glue_data.py` writes it): one folder per task (``glue_data/CoLA``,
``glue_data/SST-2``, …) holding ``train.tsv`` and ``dev.tsv``; MNLI has ``dev_matched.tsv`` and
``dev_mismatched.tsv``. Columns, label sets and metrics follow the GLUE paper and the reference
processors: CoLA alone has no header; MNLI's label is its last column, ``gold_label``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.finetune.errors import FinetuneDataError
from engine.finetune.tables import TextExample, check_labels_known, read_examples_and_skipped_rows

_BINARY = ("0", "1")
_NLI_TWO_WAY = ("entailment", "not_entailment")

# The real QQP train.tsv has a few rows broken by a stray newline; the reference code skips them.
_TASKS_SKIPPING_SHORT_ROWS = frozenset({"qqp"})


@dataclass(frozen=True)
class GlueTask:
    name: str                        # "cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"
    folder_name: str                 # the task's folder in the GLUE download: "CoLA", "SST-2", …
    text_a: str                      # column: header name, or 0-based number for CoLA
    text_b: str | None
    label: str
    has_header: bool
    labels: tuple[str, ...] | None   # the fixed label set, in the official order; None for stsb
    problem: str                     # "single" or "regress"
    metrics: tuple[str, ...]
    main_metric: str                 # the one GLUE's leaderboard reports first
    dev_file: str                    # "dev.tsv", or "dev_matched.tsv" for MNLI


@dataclass(frozen=True)
class GlueData:
    """A GLUE split: its examples, and how many malformed rows were skipped (QQP only, else 0)."""

    examples: list[TextExample]
    skipped_rows: int


def _task(name, folder_name, text_a, text_b, label, labels, *, metrics=("accuracy",),
          has_header=True, dev_file="dev.tsv") -> GlueTask:
    problem = "single" if labels else "regress"
    return GlueTask(name, folder_name, text_a, text_b, label, has_header, labels, problem,
                    metrics, metrics[0], dev_file)


GLUE_TASKS: dict[str, GlueTask] = {task.name: task for task in (
    # CoLA: source, label, original judgement, sentence; no header.
    _task("cola", "CoLA", "3", None, "1", _BINARY, metrics=("mcc",), has_header=False),
    _task("sst2", "SST-2", "sentence", None, "label", _BINARY),
    _task("mrpc", "MRPC", "#1 String", "#2 String", "Quality", _BINARY, metrics=("f1", "accuracy")),
    _task("stsb", "STS-B", "sentence1", "sentence2", "score", None, metrics=("pearson", "spearman")),
    _task("qqp", "QQP", "question1", "question2", "is_duplicate", _BINARY,
          metrics=("f1", "accuracy")),
    _task("mnli", "MNLI", "sentence1", "sentence2", "gold_label",
          ("contradiction", "entailment", "neutral"), dev_file="dev_matched.tsv"),
    _task("qnli", "QNLI", "question", "sentence", "label", _NLI_TWO_WAY),
    _task("rte", "RTE", "sentence1", "sentence2", "label", _NLI_TWO_WAY),
    _task("wnli", "WNLI", "sentence1", "sentence2", "label", _BINARY),
)}


def glue_task(name: str) -> GlueTask:
    """The task by name, spelled as GLUE does or not: "SST-2", "sst-2", "sst2", "STS-B", "MNLI"."""
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    if key not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {name!r}; the tasks: {', '.join(GLUE_TASKS)}")
    return GLUE_TASKS[key]


def glue_splits(task: GlueTask) -> dict[str, str]:
    """Split name -> file name: "train", "dev" and, for MNLI, "dev_mismatched"."""
    splits = {"train": "train.tsv", "dev": task.dev_file}
    if task.name == "mnli":
        splits["dev_mismatched"] = "dev_mismatched.tsv"
    return splits


def read_glue(name: str, folder: str | os.PathLike, split: str) -> GlueData:
    """The examples of one split of a GLUE task. ``folder`` is the task's folder (holding
    train.tsv); the folder above it (``glue_data``) is accepted too. Labels outside the task's
    label set are refused, with file and line."""
    task = glue_task(name)
    splits = glue_splits(task)
    if split not in splits:
        raise ValueError(f"GLUE {task.name} has no split {split!r}; its splits: {', '.join(splits)}")
    path = _split_path(task, Path(folder), splits[split])
    examples, skipped = read_examples_and_skipped_rows(
        path, task.text_a, task.text_b, task.label, problem=task.problem,
        has_header=task.has_header, skip_short_rows=task.name in _TASKS_SKIPPING_SHORT_ROWS)
    if task.labels is not None:
        check_labels_known(examples, task.labels, path, known_from=f"GLUE {task.name}'s label set")
    return GlueData(examples, skipped)


def _split_path(task: GlueTask, folder: Path, file_name: str) -> Path:
    for candidate in (folder / file_name, folder / task.folder_name / file_name):
        if candidate.is_file():
            return candidate
    raise FinetuneDataError(folder / file_name, f"no such file; give the {task.folder_name} folder "
                                                f"of the GLUE download (glue_data/{task.folder_name}), "
                                                f"which holds {file_name}")
