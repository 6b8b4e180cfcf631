"""What the engine hands out, without torch: analysis and prediction types, the model summary,
and the error types callers catch.

The explorer imports this module on its GUI thread, so it holds only numpy arrays and
dataclasses; ``engine.infer`` fills them in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# ----- errors: each carries a message meant for the user -----


class ConfigError(ValueError):
    """A configuration that cannot describe a BERT we can build."""


class TokenizerError(ValueError):
    """A vocabulary or tokenizer file that cannot be used; the message names the file and the reason."""


class CheckpointError(Exception):
    """A checkpoint that cannot be read or written; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InferenceError(ValueError):
    """Input the predictor cannot analyse, with a message meant for the user."""


# What a caller shows as a plain message; anything else escaping the engine is a bug.
USER_ERRORS: tuple[type[Exception], ...] = (CheckpointError, InferenceError, TokenizerError,
                                            ConfigError)

# ----- predictions -----


@dataclass(frozen=True)
class MaskPrediction:
    position: int            # index of the [MASK] in ``Analysis.tokens``
    token_ids: np.ndarray    # [k] int64, most probable first
    tokens: list[str]
    probs: np.ndarray        # [k] float32


@dataclass(frozen=True)
class AnswerSpan:
    text: str
    score: float            # start + end logit of the span
    null_score: float       # start + end logit at [CLS]: "no answer"
    char_start: int         # in sentence B
    char_end: int
    token_start: int        # in ``Analysis.tokens``
    token_end: int          # inclusive

    @property
    def no_answer_wins(self) -> bool:
        return self.null_score > self.score


@dataclass(frozen=True)
class TaskPrediction:
    kind: str                           # classify | multi_label | regress | tag | qa
    labels: list[str]                   # class or tag names, in id order ([] for regress/qa)
    probs: np.ndarray | None            # classify [K] softmax; multi_label [K] sigmoid; tag [T, K]
    value: float | None = None          # regress
    tags: list[str | None] | None = None  # tag: per token, None at [CLS]/[SEP]
    answer: AnswerSpan | None = None    # qa; None when B has no context token
    note: str | None = None             # why there is no answer


@dataclass(frozen=True)
class Analysis:
    text_a: str
    text_b: str | None
    tokens: list[str]
    token_ids: np.ndarray          # [T] int64
    token_type_ids: np.ndarray     # [T] int64, 0 = segment A, 1 = segment B
    positions: np.ndarray          # [T] int64
    special_mask: np.ndarray       # [T] bool, True for [CLS]/[SEP]
    offsets: np.ndarray            # [T, 2] int64, char span in its segment's text
    word_ids: list[int | None]
    sequence_ids: list[int | None]  # 0 = A, 1 = B, None = [CLS]/[SEP]
    attentions: np.ndarray         # [L, N, T, T] float32, rows sum to 1
    fill_mask: list[MaskPrediction]
    nsp_is_next: float | None      # P(IsNext); None without sentence B or without an NSP head
    truncated_a: int
    truncated_b: int
    warnings: tuple[str, ...]
    elapsed_ms: float
    device: str
    notes: tuple[str, ...] = field(default=())  # why a result is absent (no mask, no head, ...)
    task: TaskPrediction | None = None  # a fine-tuned model's reading: classes, tags or answer

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def truncated(self) -> bool:
        return self.truncated_a + self.truncated_b > 0


# ----- the model -----

CAPABILITY_NAMES = {"mlm": "fill-mask (MLM head)", "nsp": "next-sentence prediction (NSP head)"}


def missing_capabilities(capabilities: frozenset[str]) -> list[str]:
    """Human names of what a model cannot do, e.g. an encoder-only model's heads."""
    return [name for cap, name in CAPABILITY_NAMES.items() if cap not in capabilities]


@dataclass(frozen=True)
class ModelSummary:
    """What a loaded model is, for ``bert-engine info`` and the explorer alike.

    Made in one place, ``engine.infer.Predictor.summary``.
    """

    path: str
    name: str                      # a short, telling name (see ``Predictor.name``)
    architecture: str
    layers: int
    heads: int
    hidden: int
    intermediate: int
    max_positions: int
    vocab_size: int                # rows of the embedding matrix (config)
    tokenizer_vocab: int           # entries of the tokenizer's vocabulary
    lowercase: bool
    parameters: int
    capabilities: frozenset[str]
    task_kind: str | None          # classify | multi_label | regress | tag | qa | None
    device: str
    warnings: tuple[str, ...] = ()

    @property
    def missing_capabilities(self) -> list[str]:
        return missing_capabilities(self.capabilities)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (``bert-engine info --json``)."""
        return {
            "path": self.path, "name": self.name, "architecture": self.architecture,
            "layers": self.layers, "heads": self.heads, "hidden": self.hidden,
            "intermediate": self.intermediate, "max_positions": self.max_positions,
            "vocab_size": self.vocab_size, "tokenizer_vocab": self.tokenizer_vocab,
            "lowercase": self.lowercase, "parameters": self.parameters,
            "capabilities": sorted(self.capabilities),
            "missing_capabilities": self.missing_capabilities, "task": self.task_kind,
            "device": self.device, "warnings": list(self.warnings),
        }


# ----- lab results: maps beyond raw attention, and per-token salience (engine.lab) -----

# Each method's meaning in one line, for --help, tooltips and exports.
MAP_METHODS = {
    "rollout": "attention rollout: head-mean attention plus the residual, multiplied up through "
               "the layers (Abnar & Zuidema 2020)",
    "norm": "norm-based attention: each link weighted by the size of the value vector it moves, "
            "||alpha f(x)|| per head (Kobayashi et al. 2020)",
    "alti": "ALTI: each token's share of a layer's output with the residual and LayerNorm "
            "included, rolled out over the layers (Ferrando et al. 2022)",
}
SALIENCE_METHODS = {
    "grad": "gradient norm: how strongly the target reacts to each token's embedding",
    "grad-input": "gradient x input: the first-order share of each token's embedding in the "
                  "target (signed)",
    "ig": "integrated gradients: gradients averaged along the path from a baseline; the scores "
          "add up to target minus baseline value (Sundararajan et al. 2017)",
}

IG_BASELINES = {
    "pad": "[PAD] in place of every token except [CLS] and [SEP]",
    "mask": "[MASK] in place of every token except [CLS] and [SEP]",
    "zero": "zero word embeddings except at [CLS] and [SEP]",
}
# Integration rules, named as Captum names them.
IG_RULES = {
    "gausslegendre": "Gauss-Legendre quadrature (Captum's default)",
    "riemann_trapezoid": "trapezoid rule on evenly spaced points, both ends included",
}
DEFAULT_IG_STEPS = 64
# Path points per forward and backward pass, unless given: as many as make this many token rows
# (8 at 128 tokens, 32 at 32): big enough for efficient matrix products, small enough for memory.
IG_ROWS_PER_PASS = 1024


@dataclass(frozen=True)
class AttributionMaps:
    """Token-to-token maps of one method (``engine.lab.maps.explain_maps``); rows are the
    output tokens, columns the input tokens they draw on."""

    method: str                # a key of MAP_METHODS
    tokens: list[str]
    maps: np.ndarray           # float32; rollout, alti: [L, T, T] cumulative over the layers;
    #                            norm: [L, N, T, T] per head
    layer_maps: np.ndarray     # [L, T, T] float32, each layer alone: rollout: head-mean
    #                            attention with the residual; norm: the heads' sum; alti: ALTI
    row_stochastic: bool       # rows of maps and layer_maps sum to 1

    @property
    def per_head(self) -> bool:
        return self.maps.ndim == 4

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "tokens": list(self.tokens),
                "maps": self.maps.tolist(), "layer_maps": self.layer_maps.tolist(),
                "row_stochastic": self.row_stochastic}


@dataclass(frozen=True)
class Salience:
    """Per-token scores for one target (``engine.lab.salience.explain_salience``)."""

    method: str                    # a key of SALIENCE_METHODS
    tokens: list[str]
    scores: np.ndarray             # [T] float32: summed over the embedding dimension, signed
    #                                (grad: the gradient's L2 norm, >= 0)
    target: str                    # the target in --target form, resolved: "mask:0:door"
    target_label: str              # the same in words, e.g. "log p(door) at [MASK] 0"
    target_value: float            # F(x), a log-probability (a difference of two for a pair)
    baseline_value: float | None   # ig: F(baseline)
    delta: float | None            # ig: sum(scores) - (F(x) - F(baseline))
    settings: dict[str, Any] = field(default_factory=dict)  # ig: steps, rule, baseline, batch

    @property
    def abs_scores(self) -> np.ndarray:
        return np.abs(self.scores)

    @property
    def relative_delta(self) -> float | None:
        """|delta| / |F(x) - F(baseline)|: IG's convergence error as a share of what it splits."""
        if self.delta is None or self.baseline_value is None:
            return None
        gap = abs(self.target_value - self.baseline_value)
        return abs(self.delta) / gap if gap > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "tokens": list(self.tokens),
                "scores": self.scores.tolist(), "target": self.target,
                "target_label": self.target_label, "target_value": self.target_value,
                "baseline_value": self.baseline_value, "delta": self.delta,
                "settings": dict(self.settings)}
