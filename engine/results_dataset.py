"""Torch-free results of a dataset run (``bert-engine dataset``, the explorer's Dataset
window): one row per example, the file's metrics, per-slice scores, pooled embeddings."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

import numpy as np

CSV_COLUMNS = ("index", "line", "text_a", "text_b", "tokens", "label", "prediction",
               "probability", "correct", "loss", "fill_mask", "nsp_is_next")


@dataclass
class ExampleResult:
    """What the model made of one example. A fine-tuned model fills ``prediction`` and
    ``probability`` (and ``correct`` and ``loss`` when the file has labels); a pretraining
    model fills ``fill_mask`` (each [MASK]'s top candidates) and, for pairs, ``nsp_is_next``."""

    index: int
    line: int                     # where it starts in the file, from 1
    text_a: str
    text_b: str | None
    tokens: int                   # [CLS] and [SEP] included, after truncation
    label: str | float | list[str] | None = None
    prediction: str | float | list[str] | None = None
    probability: float | None = None
    correct: bool | None = None
    loss: float | None = None
    fill_mask: list[list[tuple[str, float]]] = field(default_factory=list)
    nsp_is_next: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SliceScores:
    """The examples of one slice (a label, a length bucket or a column's value) and their
    scores: accuracy for classes, mean loss when labelled, MSE for regression."""

    kind: str        # "label", "length" or "column:NAME"
    value: str
    count: int
    accuracy: float | None = None
    loss: float | None = None
    mse: float | None = None


@dataclass
class DatasetRun:
    path: str
    kind: str                        # classify | multi_label | regress | fill-mask
    labels: list[str] | None
    examples: list[ExampleResult]
    metrics: dict[str, float]        # as `finetune --test` gives them on this file
    slices: list[SliceScores]
    # Pooled hidden states [N, layers, H] float32: "cls" ([CLS]) and "mean" (non-special mean).
    embeddings: dict[str, np.ndarray]
    cancelled: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        """Everything but the embeddings, for JSON."""
        return {"path": self.path, "kind": self.kind, "labels": self.labels,
                "metrics": self.metrics, "cancelled": self.cancelled, "seconds": self.seconds,
                "slices": [asdict(s) for s in self.slices],
                "examples": [e.to_dict() for e in self.examples]}

    def to_csv(self) -> str:
        """The table of examples as CSV text (``dataset --csv`` and the Dataset window's
        Export CSV); fill-mask candidates as "token:prob" lists, masks split by " | "."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for e in self.examples:
            row = e.to_dict()
            row["fill_mask"] = " | ".join(" ".join(f"{t}:{p:.3f}" for t, p in m)
                                          for m in e.fill_mask)
            writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
        return out.getvalue()
