"""Dynamic MLM masking, done per batch (a new mask every time a sequence is drawn).

Per sequence: n = its tokens other than [PAD] and the template's [CLS]/[SEP]; k = min(max_predictions,
max(1, floor(mlm_probability * n + 0.5)), n) positions are chosen uniformly among those tokens (or,
whole-word mode, whole words in random order, skipping a word that would overshoot k, as
google-research/bert does, so it may pick fewer than k; if no word fits at all, one of the
shortest words is taken, so every sequence still gets a prediction). Of the chosen: 80% -> [MASK], 10% -> a
random token, 10% unchanged (decided per token). The random token is uniform over the vocabulary
minus `special_ids` (Google and HF draw from the whole vocabulary, specials included; replacing a
word by [CLS] or [PAD] only adds noise). labels = the original id at chosen positions, -100 elsewhere.

Randomness: `rng` is one Generator for the whole batch, or one Generator per sequence. With one
per sequence, each row draws only as many numbers as it has real tokens, so a sequence's mask
depends on its own generator alone, not on the batch it is in or how far it is padded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mask_batch", "IGNORE_INDEX"]

IGNORE_INDEX = -100


def _uniforms(rng, lengths: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """[3, B, T] uniforms in [0, 1): selection keys, 80/10/10 choice, random-token draw."""
    if isinstance(rng, np.random.Generator):
        return rng.random((3, *shape))
    if len(rng) != shape[0]:
        raise ValueError(f"got {len(rng)} generators for {shape[0]} sequences")
    u = np.ones((3, *shape))  # padding: never a candidate, values unused
    for row, (g, n) in enumerate(zip(rng, lengths.tolist())):
        u[:, row, :n] = g.random((3, n))
    return u


def _select_words(cand: np.ndarray, starts: np.ndarray, keys: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Whole words, in the random order of `keys` at their first piece, while they fit in k."""
    B, T = cand.shape
    cols = np.arange(T)
    # each candidate token -> the column of its word's first piece
    start_col = np.maximum.accumulate(np.where(starts, cols, -1), axis=1)
    flat_start = (np.arange(B)[:, None] * T + start_col)[cand]
    word_len = np.bincount(flat_start, minlength=B * T).reshape(B, T)  # length stored at the start column
    order = np.argsort(np.where(starts, keys, 2.0), axis=1, kind="stable")
    lens = np.take_along_axis(word_len, order, axis=1)  # word lengths in random order, then zeros
    taken = np.zeros((B, T), bool)
    count = np.zeros(B, np.int64)
    n_words = int(starts.sum(1).max(initial=0))
    for j in range(n_words):
        fits = (lens[:, j] > 0) & (count + lens[:, j] <= k)
        if not fits.any():
            if (count >= k).all():
                break
            continue
        taken[:, j] = fits
        count += np.where(fits, lens[:, j], 0)
    # No word fits (k is small and every word longer): take one of the shortest words anyway,
    # so that every sequence with a candidate gets a prediction.
    empty = np.flatnonzero((count == 0) & cand.any(1))
    if empty.size:
        row_lens = lens[empty]
        shortest = np.where(row_lens > 0, row_lens, T + 1).min(1)
        taken[empty, np.argmax(row_lens == shortest[:, None], axis=1)] = True
    chosen_start = np.zeros((B, T), bool)
    np.put_along_axis(chosen_start, order, taken, axis=1)
    return cand & np.take_along_axis(chosen_start, np.maximum(start_col, 0), axis=1)


def mask_batch(input_ids: np.ndarray, attention_mask: np.ndarray, special_mask: np.ndarray,
               rng: np.random.Generator | Sequence[np.random.Generator], mask_id: int, vocab_size: int,
               max_predictions: int = 20, mlm_probability: float = 0.15,
               word_starts: np.ndarray | None = None,
               special_ids: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """(masked_ids [B,T] same dtype as input_ids, labels [B,T] int64 with -100 where not chosen).

    attention_mask: 1 for real tokens (a row's real tokens must come first: right padding);
    special_mask: True at [CLS]/[SEP]; word_starts (whole-word mode): True at the first piece of a
    word (a "##" piece is False); a piece right after a special token starts a word regardless.
    special_ids: never drawn as the random replacement token.
    """
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be [B, T], got shape {input_ids.shape}")
    B, T = input_ids.shape
    real = np.asarray(attention_mask).astype(bool)
    cand = real & ~np.asarray(special_mask).astype(bool)
    n = cand.sum(1)
    k = np.minimum(np.minimum(max_predictions, np.maximum(1, np.floor(mlm_probability * n + 0.5))), n)
    k = k.astype(np.int64)
    u = _uniforms(rng, real.sum(1), (B, T))

    if word_starts is None:
        keys = np.where(cand, u[0], 2.0)
        order = np.argsort(keys, axis=1, kind="stable")
        rank = np.empty((B, T), np.int64)
        np.put_along_axis(rank, order, np.broadcast_to(np.arange(T), (B, T)), axis=1)
        chosen = rank < k[:, None]
    else:
        prev_cand = np.zeros_like(cand)
        prev_cand[:, 1:] = cand[:, :-1]
        starts = cand & (np.asarray(word_starts).astype(bool) | ~prev_cand)
        chosen = _select_words(cand, starts, u[0], k)

    excluded = np.unique(np.asarray([i for i in special_ids if 0 <= i < vocab_size], np.int64))
    n_choices = vocab_size - len(excluded)
    if n_choices <= 0:
        raise ValueError("no token left to draw as the random replacement")
    random_ids = np.minimum((u[2] * n_choices).astype(np.int64), n_choices - 1)
    for e in excluded:  # ascending: shift draws past each excluded id
        random_ids += random_ids >= e

    masked = input_ids.copy()
    to_mask = chosen & (u[1] < 0.8)
    to_random = chosen & (u[1] >= 0.8) & (u[1] < 0.9)
    masked[to_mask] = mask_id
    masked[to_random] = random_ids[to_random]
    labels = np.where(chosen, input_ids, IGNORE_INDEX).astype(np.int64)
    return masked, labels
