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

    def headline(self, percent=lambda p: f"{p:.1%}") -> str:
        """The prediction in a few words (the best class and its probability, the value, the
        tags, the answer), for a table cell; ``percent`` formats a probability."""
        if self.kind in ("classify", "multi_label"):
            best = int(self.probs.argmax())
            return f"{self.labels[best]} {percent(float(self.probs[best]))}"
        if self.kind == "regress":
            return f"{self.value:.4f}"
        if self.kind == "tag":
            return " ".join(tag for tag in self.tags if tag is not None)
        return repr(self.answer.text) if self.answer is not None else (self.note or "no answer")


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
    precision: str = "fp32"        # what it runs in, resolved: fp32 | bf16 (engine.precision)

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
            "precision": self.precision,
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


# ----- lab results: heads and layers (engine.lab.heads, lens, neuron, importance) -----

# Clark et al. (2019)'s shares of attention, per head: sum_ij A_ij S_ij / n for a selector S.
# Directions: "next" is A[i, i+1] (token i attends to the token after it), "prev" is A[i, i-1].
HEAD_STATISTICS = {
    "cls": "share of attention to [CLS]",
    "sep": "share of attention to [SEP]",
    "punct": "share of attention to '.' and ','",
    "self": "share of attention a token pays itself",
    "prev": "share of attention to the previous token (A[i, i-1])",
    "next": "share of attention to the next token (A[i, i+1])",
}


HEAD_BATCH = 16  # examples per forward (and backward) pass of importance and the pruning curve


@dataclass(frozen=True)
class HeadStatistics:
    """Per-head attention statistics (``engine.lab.heads.head_statistics``), averaged over
    ``examples`` inputs."""

    shares: dict[str, np.ndarray]  # key of HEAD_STATISTICS -> [L, N] float64 in [0, 1]
    entropy: np.ndarray            # [L, N] mean row entropy in nats (rows smoothed as Clark's)
    uniform_entropy: float         # mean log n over the inputs: the entropy of uniform rows
    examples: int

    def to_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "uniform_entropy": self.uniform_entropy,
                "entropy": self.entropy.tolist(),
                "shares": {k: v.tolist() for k, v in self.shares.items()}}


@dataclass(frozen=True)
class HeadImportance:
    """Michel et al. (2019) head importance: |dL/d xi_h| at xi = 1 summed over the inputs and
    divided by their loss terms (``engine.lab.importance``)."""

    raw: np.ndarray          # [L, N] float64, before normalisation
    normalised: np.ndarray   # [L, N]: each layer divided by its L2 norm, then min-max overall
    loss: str                # what L was: "mlm" or the task's loss
    examples: int
    tokens: int              # loss terms (masked tokens, or labelled examples)

    def ranking(self) -> list[tuple[int, int]]:
        """Heads from least to most important, by ``normalised`` (ties by name)."""
        layers, heads = self.normalised.shape
        return sorted(((l, h) for l in range(layers) for h in range(heads)),
                      key=lambda lh: (self.normalised[lh], lh))

    def to_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "examples": self.examples, "tokens": self.tokens,
                "raw": self.raw.tolist(), "normalised": self.normalised.tolist()}


@dataclass(frozen=True)
class PruningPoint:
    fraction: float                  # share of all heads masked
    masked: tuple[tuple[int, int], ...]  # the heads masked, (layer, head)
    metric: float


@dataclass(frozen=True)
class PruningCurve:
    metric: str                      # "mlm_acc" or the task's metric
    points: list[PruningPoint]       # 0%, 10%, ... of the heads masked, least important first

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric,
                "points": [{"fraction": p.fraction, "masked": len(p.masked),
                            "heads": [f"{l}:{h}" for l, h in p.masked], "metric": p.metric}
                           for p in self.points]}


@dataclass(frozen=True)
class LensLayer:
    """The MLM head read at one layer's hidden state (index 0: the embeddings)."""

    layer: int
    token_ids: np.ndarray   # [k] int64, most probable first
    tokens: list[str]
    probs: np.ndarray       # [k] float32
    final_rank: int         # rank of the last layer's top candidate here, 1 = top
    final_prob: float       # its probability here
    kl: float               # KL(final || this layer), nats


@dataclass(frozen=True)
class LogitLens:
    """The logit lens (``engine.lab.lens.logit_lens``) at one position of one input."""

    tokens: list[str]
    position: int
    final_token: str         # the last layer's top candidate
    layers: list[LensLayer]  # embeddings, then layer 1 .. L

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "position": self.position,
                "final_token": self.final_token,
                "layers": [{"layer": x.layer,
                            "candidates": [{"token": t, "prob": float(p)}
                                           for t, p in zip(x.tokens, x.probs)],
                            "rank": x.final_rank, "prob": x.final_prob, "kl": x.kl}
                           for x in self.layers]}


@dataclass(frozen=True)
class NeuronView:
    """bertviz's neuron view (``engine.lab.neuron.neuron_view``): how one head's query at one
    token meets every key."""

    tokens: list[str]
    layer: int
    head: int
    query_position: int
    query: np.ndarray        # [D] float32, after the projection (bias included), unscaled
    keys: np.ndarray         # [T, D]
    products: np.ndarray     # [T, D] query * key, elementwise
    scores: np.ndarray       # [T] the dot products / sqrt(D)
    probs: np.ndarray        # [T] softmax of the scores: the attention row

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "layer": self.layer, "head": self.head,
                "query_position": self.query_position, "query": self.query.tolist(),
                "keys": self.keys.tolist(), "products": self.products.tolist(),
                "scores": self.scores.tolist(), "probs": self.probs.tolist()}


# ----- comparisons of two models, and of a run's checkpoints (engine.lab.compare, .series) -----

LOG_2 = float(np.log(2.0))  # the Jensen-Shannon divergence's bound, in nats


def _listed(array: np.ndarray | None) -> list | None:
    return None if array is None else array.tolist()


def _task_dict(task: TaskPrediction | None) -> dict[str, Any] | None:
    if task is None:
        return None
    answer = task.answer
    return {"kind": task.kind, "labels": list(task.labels), "probs": _listed(task.probs),
            "value": task.value, "tags": task.tags, "note": task.note,
            "answer": None if answer is None else {
                "text": answer.text, "score": answer.score, "null_score": answer.null_score,
                "char_start": answer.char_start, "char_end": answer.char_end,
                "token_start": answer.token_start, "token_end": answer.token_end}}


def _task_from(data: dict[str, Any] | None) -> TaskPrediction | None:
    if data is None:
        return None
    probs = None if data["probs"] is None else np.asarray(data["probs"], dtype=np.float32)
    answer = None if data["answer"] is None else AnswerSpan(**data["answer"])
    return TaskPrediction(data["kind"], data["labels"], probs, value=data["value"],
                          tags=data["tags"], answer=answer, note=data["note"])


@dataclass(frozen=True)
class MaskComparison:
    """One [MASK] seen by both models: each side's top-k and the other's probability of them."""

    position: int                 # index of the [MASK] in the tokens
    top_a: list[str]              # A's top-k, most probable first; [] without an MLM head
    top_b: list[str]
    tokens: list[str]             # A's top-k, then B's that A's lacks
    probs_a: np.ndarray | None    # [K] A's probability of each of ``tokens``; None: no MLM head
    probs_b: np.ndarray | None

    @property
    def change(self) -> np.ndarray | None:
        """[K] B - A for each of ``tokens``; None unless both have an MLM head."""
        if self.probs_a is None or self.probs_b is None:
            return None
        return self.probs_b - self.probs_a

    @property
    def top1_agrees(self) -> bool | None:
        if not (self.top_a and self.top_b):
            return None
        return self.top_a[0] == self.top_b[0]

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "top_a": list(self.top_a), "top_b": list(self.top_b),
                "tokens": list(self.tokens), "probs_a": _listed(self.probs_a),
                "probs_b": _listed(self.probs_b), "change": _listed(self.change),
                "top1_agrees": self.top1_agrees}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MaskComparison:
        def probs(key):
            return None if data[key] is None else np.asarray(data[key], dtype=np.float32)
        return cls(data["position"], data["top_a"], data["top_b"], data["tokens"],
                   probs("probs_a"), probs("probs_b"))


@dataclass(frozen=True)
class Comparison:
    """Two models on one input (``engine.lab.compare.compare``); A is the reference, changes
    are B - A."""

    model_a: str                   # short names (``Predictor.name``)
    model_b: str
    text_a: str
    text_b: str | None
    tokens: list[str]
    js_divergence: np.ndarray      # [L, N] float64: per head, the mean over query rows of the
    #                                JS divergence of A's and B's attention rows, in [0, log 2]
    hidden_cosine: np.ndarray      # [L + 1] float64: cosine of A's and B's hidden states, mean
    #                                over tokens; the embeddings first, then each layer's output
    fill_mask: list[MaskComparison]
    nsp_a: float | None            # P(IsNext); None without sentence B or an NSP head
    nsp_b: float | None
    task_a: TaskPrediction | None  # a fine-tuned model's reading of the input
    task_b: TaskPrediction | None
    notes_a: tuple[str, ...] = ()  # why a side's result is absent (no MLM / NSP head, ...)
    notes_b: tuple[str, ...] = ()

    @property
    def nsp_change(self) -> float | None:
        if self.nsp_a is None or self.nsp_b is None:
            return None
        return self.nsp_b - self.nsp_a

    def to_dict(self) -> dict[str, Any]:
        return {"model_a": self.model_a, "model_b": self.model_b, "text_a": self.text_a,
                "text_b": self.text_b, "tokens": list(self.tokens),
                "js_divergence": self.js_divergence.tolist(),
                "hidden_cosine": self.hidden_cosine.tolist(),
                "fill_mask": [m.to_dict() for m in self.fill_mask],
                "nsp_a": self.nsp_a, "nsp_b": self.nsp_b, "nsp_change": self.nsp_change,
                "task_a": _task_dict(self.task_a), "task_b": _task_dict(self.task_b),
                "notes_a": list(self.notes_a), "notes_b": list(self.notes_b)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """The comparison ``to_dict`` wrote (the checkpoint series' cache reads it back)."""
        return cls(data["model_a"], data["model_b"], data["text_a"], data["text_b"],
                   data["tokens"], np.asarray(data["js_divergence"], dtype=np.float64),
                   np.asarray(data["hidden_cosine"], dtype=np.float64),
                   [MaskComparison.from_dict(m) for m in data["fill_mask"]], data["nsp_a"],
                   data["nsp_b"], _task_from(data["task_a"]), _task_from(data["task_b"]),
                   tuple(data["notes_a"]), tuple(data["notes_b"]))


@dataclass(frozen=True)
class DatasetComparison:
    """Two models over a file of inputs (``engine.lab.compare.compare_file``): the measures of
    ``Comparison`` pooled over every example."""

    model_a: str
    model_b: str
    data: str                      # the file
    examples: int
    pairs: int                     # examples with sentence B
    js_divergence: np.ndarray      # [L, N] mean over every query row of every example
    hidden_cosine: np.ndarray      # [L + 1] mean over every token of every example
    masks: int                     # [MASK]s seen by both
    top1_agreement: float | None   # share of those where both rank the same token first;
    #                                None without a [MASK] or without both MLM heads
    nsp_mean_a: float | None       # mean P(IsNext) over the pairs; None without an NSP head
    nsp_mean_b: float | None
    nsp_mean_abs_change: float | None  # mean |P_B(IsNext) - P_A(IsNext)| over the pairs
    nsp_agreement: float | None    # share of pairs both call the same (IsNext above 0.5 or not)
    notes_a: tuple[str, ...] = ()  # a side's missing heads, once
    notes_b: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"model_a": self.model_a, "model_b": self.model_b, "data": self.data,
                "examples": self.examples, "pairs": self.pairs,
                "js_divergence": self.js_divergence.tolist(),
                "hidden_cosine": self.hidden_cosine.tolist(), "masks": self.masks,
                "top1_agreement": self.top1_agreement, "nsp_mean_a": self.nsp_mean_a,
                "nsp_mean_b": self.nsp_mean_b, "nsp_mean_abs_change": self.nsp_mean_abs_change,
                "nsp_agreement": self.nsp_agreement, "notes_a": list(self.notes_a),
                "notes_b": list(self.notes_b)}


@dataclass(frozen=True)
class SeriesPoint:
    """One kept checkpoint of a run, compared with the one before it and with the first."""

    step: int
    path: str                           # the checkpoint folder
    from_previous: Comparison | None    # None at the first checkpoint
    from_first: Comparison              # the first against itself at the first checkpoint

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "path": self.path,
                "from_previous": None if self.from_previous is None
                else self.from_previous.to_dict(), "from_first": self.from_first.to_dict()}


@dataclass(frozen=True)
class CheckpointSeries:
    """A run's checkpoints on one input (``engine.lab.series.checkpoint_series``), by step."""

    run: str
    text_a: str
    text_b: str | None
    points: list[SeriesPoint]
    computed: int                       # points computed now; the others came from the cache

    @property
    def steps(self) -> list[int]:
        return [p.step for p in self.points]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "text_a": self.text_a, "text_b": self.text_b,
                "steps": self.steps, "computed": self.computed,
                "points": [p.to_dict() for p in self.points]}
