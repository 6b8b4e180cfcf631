"""engine/data/instances.py: Google-style NSP instances, the 50/50 rule, truncation, per-epoch determinism."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.data.corpus import DataError
from engine.data.instances import NEAR_WINDOW, epoch_instances, epoch_plan, truncated_lengths
from engine.data.shards import TokenizedCorpus, prepare_corpus
from engine.tokenizer import WordPieceTokenizer

MAX_LEN = 64
MAX_SENTENCE = 20


@pytest.fixture(scope="module")
def tok(vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_file(vocab_file)


def marker_words(tok, n: int) -> list[str]:
    """n vocabulary words that each tokenize to exactly their own single id."""
    words = [w for w in tok.get_vocab() if w.isascii() and w.isalpha() and w.islower() and len(w) >= 3]
    words = [w for w, ids in zip(words, tok.encode_plain(words)) if ids == [tok.token_to_id(w)]]
    assert len(words) >= n
    return words[:n]


def make_marker_corpus(tmp_path, tok, n_docs: int, seed: int = 0, max_sentences: int = 12) -> TokenizedCorpus:
    """Every token of document d is the id of marker word d, so any token tells its document."""
    rng = random.Random(seed)
    words = marker_words(tok, n_docs)
    lines = []
    for word in words:
        for _ in range(rng.randint(1, max_sentences)):
            lines.append(" ".join([word] * rng.randint(2, MAX_SENTENCE)))
        lines.append("")
    (tmp_path / "markers.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepare_corpus([tmp_path / "markers.txt"], tok, tmp_path / "data")
    corpus = TokenizedCorpus(tmp_path / "data")
    assert corpus.num_documents == n_docs
    return corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, tok) -> TokenizedCorpus:
    return make_marker_corpus(tmp_path_factory.mktemp("markers"), tok, 3000)


@pytest.fixture(scope="module")
def instances(corpus):
    return epoch_instances(corpus, MAX_LEN, seed=1, epoch=0)


def split_pair(inst, cls_id, sep_id):
    t = inst.tokens
    seps = np.flatnonzero(t == sep_id)
    assert t[0] == cls_id and len(seps) == 2 and seps[1] == len(t) - 1
    return t[1:seps[0]], t[seps[0] + 1:-1]


def test_structure_segments_and_lengths(instances, corpus):
    assert len(instances) > 5000
    for inst in instances:
        assert inst.tokens.dtype == np.int32 and inst.segment_ids.dtype == np.int8
        assert len(inst.tokens) <= MAX_LEN
        a, b = split_pair(inst, corpus.cls_id, corpus.sep_id)
        assert len(a) >= 1 and len(b) >= 1
        np.testing.assert_array_equal(inst.segment_ids, [0] * (len(a) + 2) + [1] * (len(b) + 1))


def test_next_sentence_labels_and_random_documents(instances, corpus):
    not_next = 0
    for inst in instances:
        a, b = split_pair(inst, corpus.cls_id, corpus.sep_id)
        assert len(set(a.tolist())) == 1 and len(set(b.tolist())) == 1  # each side from one document
        same_doc = a[0] == b[0]
        assert same_doc != inst.is_random_next  # NotNext B never comes from A's document
        not_next += inst.is_random_next
    assert abs(not_next / len(instances) - 0.5) < 0.02


def test_long_sentences_keep_the_50_percent_rate(tmp_path, tok):
    """Google forces single-sentence chunks to NotNext; here they are split inside the sentence."""
    words = marker_words(tok, 400)
    text = "".join(" ".join([w] * 80) + "\n" + " ".join([w] * 70) + "\n\n" for w in words)
    (tmp_path / "long.txt").write_text(text, encoding="utf-8")
    prepare_corpus([tmp_path / "long.txt"], tok, tmp_path / "data")
    plan = epoch_plan(TokenizedCorpus(tmp_path / "data"), 32, seed=0, epoch=0)
    assert len(plan) == 800  # every sentence fills a chunk on its own
    assert abs(plan.is_random_next.mean() - 0.5) < 0.05
    is_next = ~plan.is_random_next  # a split sentence: B continues A inside one sentence
    assert ((plan.b_lo >= plan.a_hi) & (plan.document == plan.document))[is_next].all()


def test_one_token_sentences_keep_the_50_percent_rate(tmp_path, tok):
    """Headings and other 1-token lines cannot be split: B is the next sentence, or the pair is a
    forced NotNext that a later pair pays back."""
    rng = random.Random(1)
    words = marker_words(tok, 1500)
    docs = []
    for w in words:
        sentences = [" ".join([w] * rng.choice([1, 1, 1, 2, 5, 30])) for _ in range(rng.randint(1, 6))]
        docs.append("\n".join(sentences))
    (tmp_path / "c.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data")
    corpus = TokenizedCorpus(tmp_path / "data")
    insts = epoch_instances(corpus, 16, seed=0, epoch=0)
    rate = np.mean([i.is_random_next for i in insts])
    assert len(insts) > 2500 and abs(rate - 0.5) < 0.02
    for inst in insts:
        a, b = split_pair(inst, corpus.cls_id, corpus.sep_id)
        assert len(a) and len(b) and (a[0] == b[0]) != inst.is_random_next


def test_is_next_b_follows_a_in_the_same_document(corpus):
    plan = epoch_plan(corpus, MAX_LEN, seed=1, epoch=0)
    is_next = ~plan.is_random_next
    doc_start = np.asarray(corpus.sentence_offsets)[np.asarray(corpus.document_offsets)]
    lo, hi = doc_start[plan.document], doc_start[plan.document + 1]
    assert (plan.a_lo >= lo).all() and (plan.a_hi <= hi).all()
    assert ((plan.b_lo >= plan.a_hi) & (plan.b_hi <= hi))[is_next].all()
    assert ((plan.b_hi <= lo) | (plan.b_lo >= hi))[~is_next].all()
    # Without truncation B starts exactly where A ends; a cut takes only a few tokens.
    assert np.median((plan.b_lo - plan.a_hi)[is_next]) == 0


def test_short_targets(corpus):
    plan = epoch_plan(corpus, MAX_LEN, seed=1, epoch=0)
    max_num_tokens = MAX_LEN - 3
    per_doc = np.zeros(corpus.num_documents)
    per_doc[plan.document] = plan.target_length < max_num_tokens
    assert abs(per_doc.mean() - 0.1) < 0.02  # drawn once per document, as Google does
    short = plan.target_length < max_num_tokens
    assert (plan.target_length[short] >= 2).all()
    pair_len = (plan.a_hi - plan.a_lo) + (plan.b_hi - plan.b_lo)
    assert (pair_len <= max_num_tokens).all()
    # A chunk stops at the first sentence that reaches the target: IsNext pairs stay near it.
    is_next = ~plan.is_random_next
    assert (pair_len <= np.minimum(max_num_tokens, plan.target_length + MAX_SENTENCE - 1))[is_next].all()
    assert pair_len[short & is_next].mean() < 0.75 * pair_len[~short & is_next].mean()


def test_deterministic_per_seed_and_epoch(corpus):
    def key(insts):
        return [(i.tokens.tobytes(), i.segment_ids.tobytes(), i.is_random_next) for i in insts]

    e0 = key(epoch_instances(corpus, MAX_LEN, seed=7, epoch=0))
    assert key(epoch_instances(corpus, MAX_LEN, seed=7, epoch=0)) == e0
    e1 = key(epoch_instances(corpus, MAX_LEN, seed=7, epoch=1))
    assert e1 != e0 and sorted(e1) != sorted(e0)  # other pairs, not only another order
    assert key(epoch_instances(corpus, MAX_LEN, seed=8, epoch=0)) != e0


def test_instances_are_shuffled(corpus):
    plan = epoch_plan(corpus, MAX_LEN, seed=0, epoch=0)
    assert not (np.diff(plan.document) >= 0).all()


def test_truncation_matches_googles_loop():
    def google(a, b, max_num):  # truncate_seq_pair, counting removals
        cut_a = cut_b = 0
        while a + b > max_num:
            if a > b:
                a, cut_a = a - 1, cut_a + 1
            else:
                b, cut_b = b - 1, cut_b + 1
        return cut_a, cut_b

    for a in range(1, 30):
        for b in range(1, 30):
            for m in (2, 5, 17, 40):
                assert truncated_lengths(a, b, m) == google(a, b, m)


def test_truncation_cuts_front_and_back_at_random(tmp_path, tok):
    words = marker_words(tok, 400)
    # Each document: two 200-token sentences of distinct words, so A's first token tells how
    # many tokens were cut from its front.
    text = "".join(" ".join(words[k:k + 200]) + "\n" + " ".join(words[k + 200:k + 400]) + "\n\n"
                   for k in (0,) * 60)
    (tmp_path / "c.txt").write_text(text, encoding="utf-8")
    prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data")
    corpus = TokenizedCorpus(tmp_path / "data")
    position = {tok.token_to_id(w): i for i, w in enumerate(words)}
    fronts = []
    for inst in epoch_instances(corpus, 32, seed=0, epoch=0):
        assert len(inst.tokens) == 32
        if not inst.is_random_next:
            continue  # IsNext splits the lone sentence first; NotNext keeps it whole as A
        a, _ = split_pair(inst, corpus.cls_id, corpus.sep_id)
        first = position[int(a[0])] % 200
        cut = 200 - len(a)
        assert 0 <= first <= cut
        fronts.append(first / cut)
    assert len(fronts) > 40
    assert abs(np.mean(fronts) - 0.5) < 0.05 and np.std(fronts) > 0.01  # ~Binomial(cut, 1/2) from the front


def test_needs_two_documents(tmp_path, tok):
    (tmp_path / "one.txt").write_text("just one document.\nwith two sentences.\n", encoding="utf-8")
    prepare_corpus([tmp_path / "one.txt"], tok, tmp_path / "data")
    with pytest.raises(DataError, match="at least 2"):
        epoch_instances(TokenizedCorpus(tmp_path / "data"), 32, seed=0, epoch=0)


def test_rejects_a_tiny_max_seq_length(corpus):
    with pytest.raises(ValueError, match="max_seq_length"):
        epoch_plan(corpus, 4, seed=0, epoch=0)


def test_near_negatives_come_from_nearby_documents(corpus):
    plain = epoch_plan(corpus, MAX_LEN, seed=4, epoch=0)
    near = epoch_plan(corpus, MAX_LEN, seed=4, epoch=0, near_negatives=1.0)
    doc_of_token = np.searchsorted(corpus.sentence_offsets[corpus.document_offsets], near.b_lo, "right") - 1
    distance = np.abs(doc_of_token - near.document)[near.is_random_next]
    assert (distance >= 1).all() and (distance <= NEAR_WINDOW).all()
    assert distance.max() == NEAR_WINDOW  # the whole window is used, both ends included
    assert abs(near.is_random_next.mean() - 0.5) < 0.02
    plain_distance = np.abs(np.searchsorted(corpus.sentence_offsets[corpus.document_offsets], plain.b_lo,
                                            "right") - 1 - plain.document)[plain.is_random_next]
    assert (plain_distance > NEAR_WINDOW).mean() > 0.9  # the default draws from the whole corpus


def test_a_share_of_near_negatives(corpus):
    plan = epoch_plan(corpus, MAX_LEN, seed=5, epoch=0, near_negatives=0.3)
    doc_of_token = np.searchsorted(corpus.sentence_offsets[corpus.document_offsets], plan.b_lo, "right") - 1
    near = (np.abs(doc_of_token - plan.document) <= NEAR_WINDOW)[plan.is_random_next]
    # 30% drawn near, plus the few far draws that happen to land in the window (65 of 2999 documents).
    assert 0.3 < near.mean() < 0.36


def test_no_near_negatives_is_the_plain_plan(corpus):
    a = epoch_plan(corpus, MAX_LEN, seed=6, epoch=1)
    b = epoch_plan(corpus, MAX_LEN, seed=6, epoch=1, near_negatives=0.0)
    np.testing.assert_array_equal(a.b_lo, b.b_lo)
    with pytest.raises(ValueError, match="near_negatives"):
        epoch_plan(corpus, MAX_LEN, seed=6, epoch=1, near_negatives=1.5)
