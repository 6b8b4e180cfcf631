"""Click-to-ablate: an analysis made with heads switched off, beside the unablated model's
probabilities of the same input, so each shown candidate can carry its change.

``ablated_analysis`` runs in the inference worker's thread (it calls the predictor); the rest is
plain data the widgets read. The unablated pass keeps every token's probability at each [MASK]
(not only its top-k), so a candidate that only the ablated model ranks high still has its old
value; it is cached per input, so toggling heads costs one ablated pass each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.lab.head_names import Head
from engine.results import Analysis


@dataclass(frozen=True)
class Ablated:
    heads: tuple[Head, ...]                 # ablated, sorted (layer, head)
    analysis: Analysis                      # made with ``heads`` off
    reference_probs: dict[int, np.ndarray]  # [MASK] position -> [V] float32, unablated model
    reference_nsp: float | None             # the unablated model's P(IsNext)

    def old_prob(self, position: int, token_id: int) -> float | None:
        """The unablated model's probability of ``token_id`` at the [MASK] at ``position``."""
        probs = self.reference_probs.get(int(position))
        return None if probs is None else float(probs[int(token_id)])


@dataclass(frozen=True)
class Reference:
    probs: dict[int, np.ndarray]
    nsp: float | None


def reference_of(predictor, text_a: str, text_b: str | None) -> Reference:
    """The unablated model's full distribution at every [MASK], and its NSP probability."""
    vocab = predictor.config.vocab_size
    plain = predictor.analyze(text_a, text_b, top_k=vocab)
    probs = {}
    for m in plain.fill_mask:
        full = np.zeros(vocab, dtype=np.float32)
        full[m.token_ids] = m.probs
        probs[int(m.position)] = full
    return Reference(probs, plain.nsp_is_next)


class ReferenceCache:
    """The newest input's ``Reference``: toggling heads on one input reuses it."""

    def __init__(self):
        self._key = None
        self._value: Reference | None = None

    def get(self, predictor, text_a: str, text_b: str | None) -> Reference:
        key = (id(predictor), text_a, text_b)
        if key != self._key:
            self._value, self._key = reference_of(predictor, text_a, text_b), key
        return self._value


def ablated_analysis(predictor, cache: ReferenceCache, text_a: str, text_b: str | None,
                     heads: tuple[Head, ...], top_k: int) -> Ablated:
    reference = cache.get(predictor, text_a, text_b)
    analysis = predictor.analyze(text_a, text_b, top_k=top_k, head_mask=heads)
    return Ablated(tuple(sorted(heads)), analysis, reference.probs, reference.nsp)
