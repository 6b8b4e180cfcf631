"""Per-head attention statistics (Clark et al. 2019, "What does BERT look at?"), on one input
or averaged over a text file of inputs.

For a head's attention A [T, T] (rows: the attending token i, columns: the attended token j) and
a selector S, the share is sum_ij A_ij S_ij / T: [CLS] and [SEP] columns, the punctuation columns
('.' and ',', as Clark's), self (S = I), previous token (S_ij = 1 where j = i - 1) and next token
(S_ij = 1 where j = i + 1). "Next" therefore means token i attending to token i + 1. Entropy is
the mean over rows of -sum_j A'_ij log A'_ij with Clark's smoothing A' = 0.9999 A + 0.0001 / T;
a uniform row's is log T.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from engine.lab.head_names import Head
from engine.results import HEAD_STATISTICS, HeadStatistics, InferenceError

PUNCTUATION = frozenset({".", ","})
SMOOTHING = 1e-4


def read_pairs(path: str | os.PathLike) -> list[tuple[str, str | None]]:
    """One example per non-blank line: sentence A, or A and B separated by a tab."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            a, _, b = line.partition("\t")
            pairs.append((a, b if b.strip() else None))
    if not pairs:
        raise InferenceError(f"{path}: no examples (one per line, a tab between A and B)")
    return pairs


def selectors(tokens: list[str], cls_token: str = "[CLS]",
              sep_token: str = "[SEP]") -> dict[str, np.ndarray]:
    """Key of HEAD_STATISTICS -> S [T, T] of 0/1."""
    n = len(tokens)
    column = {"cls": [t == cls_token for t in tokens], "sep": [t == sep_token for t in tokens],
              "punct": [t in PUNCTUATION for t in tokens]}
    found = {k: np.broadcast_to(np.asarray(v, dtype=np.float64)[None, :], (n, n))
             for k, v in column.items()}
    found.update({"self": np.eye(n), "prev": np.eye(n, n, -1), "next": np.eye(n, n, 1)})
    return {k: found[k] for k in HEAD_STATISTICS}


def attention_statistics(attentions: np.ndarray,
                         tokens: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """attentions [L, N, T, T] of one input -> (shares: key -> [L, N], entropy [L, N])."""
    a = np.asarray(attentions, dtype=np.float64)
    n = a.shape[-1]
    shares = {k: np.einsum("lnij,ij->ln", a, s) / n for k, s in selectors(tokens).items()}
    smooth = (1 - SMOOTHING) * a + SMOOTHING / n
    entropy = -(smooth * np.log(smooth)).sum(-1).mean(-1)  # [L, N]
    return shares, entropy


def combine(per_input: list[tuple[dict[str, np.ndarray], np.ndarray, int]]) -> HeadStatistics:
    """(shares, entropy, T) of each input -> their means."""
    shares = {k: np.mean([s[k] for s, _, _ in per_input], axis=0) for k in HEAD_STATISTICS}
    return HeadStatistics(shares=shares, entropy=np.mean([e for _, e, _ in per_input], axis=0),
                          uniform_entropy=float(np.mean([np.log(n) for _, _, n in per_input])),
                          examples=len(per_input))


def analysis_statistics(analysis) -> HeadStatistics:
    """The statistics of one ``Analysis`` (its attention maps and tokens)."""
    shares, entropy = attention_statistics(analysis.attentions, analysis.tokens)
    return combine([(shares, entropy, analysis.num_tokens)])


def head_statistics(predictor, pairs: Iterable[tuple[str, str | None]],
                    head_mask: Iterable[Head] | None = None) -> HeadStatistics:
    """The statistics averaged over inputs (A, B or None), each analysed once."""
    per_input = []
    for a, b in pairs:
        analysis = predictor.analyze(a, b, top_k=1, head_mask=head_mask)
        shares, entropy = attention_statistics(analysis.attentions, analysis.tokens)
        per_input.append((shares, entropy, analysis.num_tokens))
    if not per_input:
        raise InferenceError("no inputs to compute head statistics over")
    return combine(per_input)
