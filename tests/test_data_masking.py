"""engine/data/masking.py: dynamic MLM masking statistics, whole words, per-sequence RNGs."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.masking import mask_batch

V, PAD, UNK, CLS, SEP, MASK = 30522, 0, 100, 101, 102, 103
SPECIALS = (PAD, UNK, CLS, SEP, MASK)


def random_batch(rng, B=1000, T=128):
    """[CLS] A [SEP] B [SEP] rows of random length, right-padded; token ids avoid the specials."""
    ids = rng.integers(1000, V, (B, T))
    attention = np.zeros((B, T), np.int64)
    special = np.zeros((B, T), bool)
    for row in range(B):
        n = int(rng.integers(8, T + 1))
        a_end = int(rng.integers(2, n - 2))
        attention[row, :n] = 1
        ids[row, n:] = PAD
        ids[row, [0, a_end, n - 1]] = [CLS, SEP, SEP]
        special[row, [0, a_end, n - 1]] = True
    return ids, attention, special


def expected_k(n, max_predictions=20, p=0.15):
    return np.minimum(max_predictions, np.maximum(1, np.floor(p * n + 0.5))).astype(int)


def test_masking_statistics():
    rng = np.random.default_rng(0)
    ids, attention, special = random_batch(rng, B=2000)
    masked, labels = mask_batch(ids, attention, special, np.random.default_rng(1), MASK, V,
                                special_ids=SPECIALS)
    candidates = attention.astype(bool) & ~special
    chosen = labels != -100
    n = candidates.sum(1)
    assert n.sum() > 100_000
    # k per sequence exactly; 15% overall, up to rounding
    np.testing.assert_array_equal(chosen.sum(1), expected_k(n))
    assert abs(chosen.sum() / n.sum() - 0.15) < 0.005
    assert (chosen.sum(1) >= 1).all()
    # never a special token or padding; labels are the original ids exactly where chosen
    assert not (chosen & ~candidates).any()
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(masked[~chosen], ids[~chosen])
    # 80 / 10 / 10
    to_mask = chosen & (masked == MASK)
    kept = chosen & (masked == ids)
    replaced = chosen & (masked != MASK) & (masked != ids)
    total = chosen.sum()
    assert abs(to_mask.sum() / total - 0.8) < 0.015
    assert abs(replaced.sum() / total - 0.1) < 0.015
    assert abs(kept.sum() / total - 0.1) < 0.015
    assert not np.isin(masked[replaced], SPECIALS).any()  # random tokens are never specials
    assert masked.dtype == ids.dtype and labels.dtype == np.int64


def test_random_tokens_cover_the_vocabulary():
    rng = np.random.default_rng(2)
    ids, attention, special = random_batch(rng, B=4000)
    masked, labels = mask_batch(ids, attention, special, rng, MASK, V, mlm_probability=0.5,
                                max_predictions=200, special_ids=SPECIALS)
    replaced = masked[(labels != -100) & (masked != MASK) & (masked != ids)]
    assert replaced.min() < 500 and replaced.max() > V - 500  # spans the whole range, not only input ids


def test_max_predictions_caps_long_sequences():
    rng = np.random.default_rng(3)
    ids, attention, special = random_batch(rng, B=200, T=512)
    _, labels = mask_batch(ids, attention, special, rng, MASK, V, max_predictions=20)
    n = (attention.astype(bool) & ~special).sum(1)
    chosen = (labels != -100).sum(1)
    np.testing.assert_array_equal(chosen, expected_k(n))
    assert chosen.max() == 20 and (chosen[n > 140] == 20).all()


def test_whole_word_mode_never_splits_a_word():
    rng = np.random.default_rng(4)
    ids, attention, special = random_batch(rng, B=1000)
    candidates = attention.astype(bool) & ~special
    word_starts = rng.random(ids.shape) < 0.6  # ~40% "##" pieces: words of 1-6+ pieces
    word_starts[:, 1] = False  # a "##" piece right after [CLS] (front truncation) starts a word anyway
    masked, labels = mask_batch(ids, attention, special, rng, MASK, V, word_starts=word_starts,
                                special_ids=SPECIALS)
    chosen = labels != -100
    assert not (chosen & ~candidates).any()
    n = candidates.sum(1)
    k = expected_k(n)
    assert (chosen.sum(1) >= 1).all()
    # at most k, unless no word fits at all: then exactly one of the shortest words
    over = chosen.sum(1) > k
    for row in np.flatnonzero(over):
        starts = candidates[row] & (word_starts[row] | ~np.r_[False, candidates[row, :-1]])
        lengths = np.bincount(np.cumsum(starts)[candidates[row]])[1:]
        assert lengths.min() > k[row] and chosen[row].sum() == lengths.min()
    assert over.mean() < 0.05
    assert chosen.sum() / k.sum() > 0.95  # skipping words that overshoot still nearly fills k
    for row in range(len(ids)):
        starts = candidates[row] & (word_starts[row] | ~np.r_[False, candidates[row, :-1]])
        word = np.cumsum(starts) * candidates[row]
        for w in np.unique(word[chosen[row]]):
            assert chosen[row][word == w].all(), f"row {row}: word {w} partly chosen"
    total = chosen.sum()
    assert abs((chosen & (masked == MASK)).sum() / total - 0.8) < 0.02


def test_sequences_without_candidates_get_no_labels():
    ids = np.array([[CLS, SEP, SEP, PAD], [CLS, 2000, SEP, PAD]])
    attention = np.array([[1, 1, 1, 0], [1, 1, 1, 0]])
    special = np.array([[1, 1, 1, 0], [1, 0, 1, 0]], bool)
    _, labels = mask_batch(ids, attention, special, np.random.default_rng(0), MASK, V)
    np.testing.assert_array_equal(labels, [[-100] * 4, [-100, 2000, -100, -100]])


def test_per_sequence_generators_ignore_padding_and_batch_company():
    rng = np.random.default_rng(5)
    ids, attention, special = random_batch(rng, B=6, T=128)
    gens = lambda seeds: [np.random.default_rng([9, s]) for s in seeds]
    full_m, full_l = mask_batch(ids, attention, special, gens(range(6)), MASK, V)
    # rows 2 and 4 alone, cut to their own longest length
    rows = [2, 4]
    T = int(attention[rows].sum(1).max())
    part_m, part_l = mask_batch(ids[rows, :T], attention[rows, :T], special[rows, :T], gens(rows), MASK, V)
    np.testing.assert_array_equal(part_m, full_m[rows, :T])
    np.testing.assert_array_equal(part_l, full_l[rows, :T])
    with pytest.raises(ValueError, match="generators"):
        mask_batch(ids, attention, special, gens(range(5)), MASK, V)


def test_same_generator_state_same_mask_and_new_draws_differ():
    rng = np.random.default_rng(6)
    ids, attention, special = random_batch(rng, B=8)
    a = mask_batch(ids, attention, special, np.random.default_rng(1), MASK, V)
    b = mask_batch(ids, attention, special, np.random.default_rng(1), MASK, V)
    g = np.random.default_rng(1)
    mask_batch(ids, attention, special, g, MASK, V)
    c = mask_batch(ids, attention, special, g, MASK, V)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])  # dynamic: the next draw masks other positions
