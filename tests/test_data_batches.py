"""engine/data/batches.py: collate, and PretrainingBatches' resume and rank-slicing guarantees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.corpus import DataError
from engine.data.instances import Instance, epoch_plan
from engine.data.batches import PretrainingBatches, collate
from engine.data.shards import TokenizedCorpus, prepare_corpus
from engine.tokenizer import WordPieceTokenizer

MAX_LEN = 48
WORDS = ["the", "river", "mountain", "music", "history", "tokenization", "photosynthesis", "unbelievable",
         "of", "and", "alpha", "embeddings", "transformer", "a", "is", "was"]


@pytest.fixture(scope="module")
def tok(vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_file(vocab_file)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tok) -> TokenizedCorpus:
    rng = np.random.default_rng(0)
    docs = []
    for _ in range(120):
        sents = [" ".join(rng.choice(WORDS, rng.integers(3, 15))) + "." for _ in range(rng.integers(1, 10))]
        docs.append("\n".join(sents))
    folder = tmp_path_factory.mktemp("batches")
    (folder / "c.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    prepare_corpus([folder / "c.txt"], tok, folder / "data")
    return TokenizedCorpus(folder / "data")


def make(corpus, tok, batch_size, **kw) -> PretrainingBatches:
    return PretrainingBatches(corpus, MAX_LEN, batch_size, seed=kw.pop("seed", 3), mask_id=tok.mask_id,
                              vocab_size=tok.vocab_size, **kw)


def take(stream, n):
    return [next(stream) for _ in range(n)]


def assert_batches_equal(xs, ys):
    assert len(xs) == len(ys)
    for x, y in zip(xs, ys):
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), k


# ----- collate -----

def test_collate_pads_and_marks_specials():
    a = Instance(np.array([101, 7, 8, 102, 9, 102], np.int32), np.array([0, 0, 0, 0, 1, 1], np.int8), False)
    b = Instance(np.array([101, 5, 102, 6, 6, 6, 102], np.int32), np.array([0, 0, 0, 1, 1, 1, 1], np.int8), True)
    out = collate([a, b], max_seq_length=10, pad_id=0)
    np.testing.assert_array_equal(out["input_ids"], [[101, 7, 8, 102, 9, 102, 0], [101, 5, 102, 6, 6, 6, 102]])
    np.testing.assert_array_equal(out["token_type_ids"], [[0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1, 1, 1, 1, 0], [1] * 7])
    np.testing.assert_array_equal(out["special_mask"], [[1, 0, 0, 1, 0, 1, 0], [1, 0, 1, 0, 0, 0, 1]])
    np.testing.assert_array_equal(out["next_sentence_label"], [0, 1])  # HF: 0 IsNext, 1 NotNext
    assert all(v.dtype == np.int64 for k, v in out.items() if k != "special_mask")
    assert collate([a, b], 10, 0, pad_to_max=True)["input_ids"].shape == (2, 10)
    with pytest.raises(ValueError, match="max_seq_length"):
        collate([a, b], 6, 0)


# ----- PretrainingBatches -----

def test_batch_contents(corpus, tok):
    stream = make(corpus, tok, 8)
    for batch in take(stream, 10):
        assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
        assert all(v.dtype == torch.int64 for v in batch.values())
        assert batch["input_ids"].shape == (8, MAX_LEN) and batch["next_sentence_label"].shape == (8,)
        ids, labels, att = batch["input_ids"], batch["labels"], batch["attention_mask"].bool()
        chosen = labels != -100
        assert (chosen.sum(1) >= 1).all()
        assert not (chosen & ~att).any()
        assert not torch.isin(labels[chosen], torch.tensor(corpus.special_ids)).any()  # never [CLS]/[SEP]/[PAD]
        assert ((ids == tok.cls_id).sum(1) == 1).all() and ((ids == tok.sep_id).sum(1) == 2).all()
        assert (ids[~att] == tok.pad_id).all()
        # unchosen positions are the instance itself: masking touches only chosen ones
        assert (ids[~chosen & att] != tok.mask_id).all()


def test_rank_slices_union_equals_one_process(corpus, tok):
    """DDP contract: ranks 0 and 1 with batch b see exactly one process's batch 2b, masks included."""
    single = make(corpus, tok, 8)
    ranks = [make(corpus, tok, 4, rank=r, world_size=2) for r in range(2)]
    n = single.batches_per_epoch + 3  # crosses into epoch 1
    for step in range(n):
        whole = next(single)
        parts = [next(r) for r in ranks]
        for k in whole:
            assert torch.equal(whole[k], torch.cat([p[k] for p in parts])), (step, k)
    assert single.state() == ranks[0].state() == ranks[1].state() == {"epoch": 1, "index": 3}


def test_resume_from_state_reproduces_the_stream(corpus, tok):
    stream = make(corpus, tok, 8, whole_word=True)
    take(stream, 5)
    state = stream.state()
    assert state == {"epoch": 0, "index": 5}
    expected = take(stream, stream.batches_per_epoch + 2)  # runs past the end of the epoch
    resumed = make(corpus, tok, 8, whole_word=True)
    resumed.load_state(dict(state))
    assert_batches_equal(take(resumed, len(expected)), expected)


def test_resume_at_an_epoch_end(corpus, tok):
    stream = make(corpus, tok, 8)
    take(stream, stream.batches_per_epoch)
    state = stream.state()
    expected = take(stream, 2)
    assert stream.state() == {"epoch": 1, "index": 2}
    resumed = make(corpus, tok, 8)
    resumed.load_state(state)
    assert_batches_equal(take(resumed, 2), expected)


def test_epochs_cover_the_plan_and_drop_the_tail(corpus, tok):
    stream = make(corpus, tok, 16, pad_to_max=False)
    plan = epoch_plan(corpus, MAX_LEN, seed=3, epoch=0)
    assert stream.batches_per_epoch == len(plan) // 16
    nsp = torch.cat([b["next_sentence_label"] for b in take(stream, stream.batches_per_epoch)])
    np.testing.assert_array_equal(nsp.numpy(), plan.is_random_next[:len(nsp)].astype(int))
    assert stream.state() == {"epoch": 0, "index": stream.batches_per_epoch}
    next(stream)
    assert stream.state() == {"epoch": 1, "index": 1}


def test_masks_are_dynamic_across_epochs(corpus, tok):
    """The same instance masked in two epochs: seeded per (seed, epoch, position), so it differs."""
    a = make(corpus, tok, 8)
    first = next(a)
    b = make(corpus, tok, 8, seed=4)
    assert not torch.equal(first["input_ids"], next(b)["input_ids"])
    a.load_state({"epoch": 1, "index": 0})
    assert not torch.equal(first["input_ids"], next(a)["input_ids"])


def test_whole_word_batches_keep_words_together(corpus, tok):
    stream = make(corpus, tok, 8, whole_word=True)
    cont = torch.tensor([t.startswith("##") for t in tok.convert_ids_to_tokens(range(tok.vocab_size))])
    seen_multi_piece = 0
    for batch in take(stream, 20):
        labels = batch["labels"]
        chosen = labels != -100
        original = torch.where(chosen, labels, batch["input_ids"])  # unmasked ids where not chosen
        is_cont = cont[original] & batch["attention_mask"].bool()
        # a "##" piece is chosen exactly when the piece before it is
        prev = torch.zeros_like(chosen)
        prev[:, 1:] = chosen[:, :-1]
        prev_special = torch.ones_like(chosen)
        prev_special[:, 1:] = torch.isin(original[:, :-1], torch.tensor([tok.cls_id, tok.sep_id]))
        pieces = is_cont & ~prev_special  # a "##" right after [CLS]/[SEP] (front-truncated) is its own word
        assert torch.equal(chosen[pieces], prev[pieces])
        seen_multi_piece += int((chosen & is_cont).sum())
    assert seen_multi_piece > 0


def test_load_state_validates(corpus, tok):
    stream = make(corpus, tok, 8)
    for bad in ({}, {"epoch": -1, "index": 0}, {"epoch": 0, "index": 10_000}, {"epoch": "x", "index": 0}):
        with pytest.raises(ValueError):
            stream.load_state(bad)


def test_bad_settings(corpus, tok):
    with pytest.raises(DataError, match="fewer than one global batch"):
        make(corpus, tok, 10_000)
    with pytest.raises(DataError, match="vocab"):
        PretrainingBatches(corpus, MAX_LEN, 8, seed=0, mask_id=tok.mask_id, vocab_size=1000)
    with pytest.raises(ValueError, match="rank"):
        make(corpus, tok, 8, rank=2, world_size=2)
