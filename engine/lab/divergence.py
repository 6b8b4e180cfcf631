"""Torch-free pieces of a model comparison: the Jensen-Shannon divergence of attention rows, and
two ``Analysis`` of the same input side by side (``pair_analyses``), which is what the explorer
draws when a second model is open. ``engine.lab.compare`` builds the CLI's fuller comparison
(hidden states, every candidate's probability) on the same divergence.

Shapes: L layers, N heads, T tokens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.config import BertConfig
from engine.results import LOG_2, ConfigError, InferenceError, MaskComparison, TokenizerError
from engine.results_compare import AnalysisPair

PAIR_TOP_K = 5  # candidates per [MASK] and side in a pair (each analysis holds more)
# The colour levels of B - A reach this percentile of |B - A|: a few large cells saturate
# instead of washing every other cell out to white.
REACH_PERCENTILE = 99.5


@dataclass(frozen=True)
class Side:
    """What decides whether two models can be compared: the tokenizer and the head layout."""

    name: str
    path: str
    tokenizer: object              # engine.tokenizer.WordPieceTokenizer
    shape: tuple[int, int, int]    # layers, heads, hidden


def model_shape(config: BertConfig) -> tuple[int, int, int]:
    return config.num_hidden_layers, config.num_attention_heads, config.hidden_size


def side_of_folder(path: str | os.PathLike, name: str) -> Side:
    """A checkpoint folder's side from its config and tokenizer, without its weights."""
    from engine.tokenizer import WordPieceTokenizer  # the tokenizers library loads here

    folder = Path(path)
    try:
        config = BertConfig.from_json_file(folder / "config.json")
        tokenizer = WordPieceTokenizer.from_file(folder)
    except (OSError, ValueError, ConfigError, TokenizerError) as exc:
        raise InferenceError(f"cannot read {name} ({folder}): {exc}") from exc
    return Side(name, str(folder), tokenizer, model_shape(config))


def check_sides(a: Side, b: Side) -> None:
    """Refuse two models that do not share a tokenizer or a shape, naming both."""
    names = f"{a.name} ({a.path}) and {b.name} ({b.path})"
    ta, tb = a.tokenizer, b.tokenizer
    if ta.lowercase != tb.lowercase:
        cased = a.name if not ta.lowercase else b.name
        raise InferenceError(f"cannot compare {names}: their tokenizers differ ({cased} keeps "
                             "case, the other lowercases)")
    va, vb = ta.get_vocab(), tb.get_vocab()
    if va != vb:
        if len(va) != len(vb):
            detail = f"{len(va)} and {len(vb)} tokens"
        else:
            token = next(t for t in va if vb.get(t) != va[t])
            detail = f"{token!r} is token {va[token]} in {a.name}, {vb.get(token)} in {b.name}"
        raise InferenceError(f"cannot compare {names}: their vocabularies differ ({detail})")
    if a.shape != b.shape:
        raise InferenceError(f"cannot compare {names} head by head: layers x heads x hidden "
                             f"are {'x'.join(map(str, a.shape))} and "
                             f"{'x'.join(map(str, b.shape))}")


def js_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p, q [..., T] attention rows -> [...] their Jensen-Shannon divergence in nats, in
    [0, log 2]; exactly 0 for equal rows and exactly symmetric (m and the sum are)."""
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum(-1)
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum(-1)
    return np.clip((kl_p + kl_q) / 2, 0.0, LOG_2)  # the clip only absorbs rounding


def head_divergence(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """attentions [L, N, T, T] of two models -> [L, N] per head, the mean over query rows."""
    return js_rows(np.asarray(a, np.float64), np.asarray(b, np.float64)).mean(-1)


def _odds(prediction, tokens: list[str]) -> np.ndarray:
    """[K] the prediction's probability of each token; NaN where it is below its own top-k."""
    known = dict(zip(prediction.tokens, prediction.probs.tolist()))
    return np.array([known.get(t, np.nan) for t in tokens], dtype=np.float64)


def _masks(a, b, top_k: int) -> list[MaskComparison]:
    """Every [MASK] either side predicts (a side without an MLM head has no candidates)."""
    side_a = {m.position: m for m in a.fill_mask}
    side_b = {m.position: m for m in b.fill_mask}
    result = []
    for position in sorted(side_a.keys() | side_b.keys()):
        ma, mb = side_a.get(position), side_b.get(position)
        top_a = [] if ma is None else list(ma.tokens[:top_k])
        top_b = [] if mb is None else list(mb.tokens[:top_k])
        union = top_a + [t for t in top_b if t not in top_a]
        result.append(MaskComparison(position=position, top_a=top_a, top_b=top_b, tokens=union,
                                     probs_a=None if ma is None else _odds(ma, union),
                                     probs_b=None if mb is None else _odds(mb, union)))
    return result


def pair_analyses(a, b, name_a: str, name_b: str, top_k: int = PAIR_TOP_K) -> AnalysisPair:
    """Analyses ``a`` and ``b`` of the same input by two models that share a tokenizer."""
    if a.tokens != b.tokens:
        raise InferenceError(f"{name_a} and {name_b} encode this input differently "
                             f"({len(a.tokens)} and {len(b.tokens)} tokens: one has fewer "
                             "positions); shorten it")
    att_a, att_b = np.asarray(a.attentions, np.float32), np.asarray(b.attentions, np.float32)
    difference = att_b - att_a                                    # [L, N, T, T]
    size = np.abs(difference)
    reach = float(np.percentile(size, REACH_PERCENTILE)) if size.size else 0.0
    return AnalysisPair(analysis_a=a, analysis_b=b, name_a=name_a, name_b=name_b,
                        difference=difference, reach=reach or 1e-6,
                        js_divergence=head_divergence(att_a, att_b),
                        fill_mask=_masks(a, b, top_k))
