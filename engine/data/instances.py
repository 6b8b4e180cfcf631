"""Sentence-pair (NSP) instances, after google-research/bert `create_pretraining_data.py`.

Per document (`create_instances_from_document`): the target length is max_seq_length - 3, or with
probability `short_seq_prob` a random length in [2, max_seq_length - 3] (drawn once per document,
as Google does). Sentences accumulate into a chunk until the target is reached or the document
ends; A = the first `a_end` sentences of the chunk (a_end random in 1..len(chunk)-1), B = the
rest (IsNext) or a span of a random *other* document (NotNext), in which case the chunk's unused
sentences go back to be used by the next chunk. `truncate_seq_pair` then trims the longer side,
one token at a time from the front or the back at random, until the pair fits.

Deviation from Google, so that NotNext is 50% of pairs (Google forces every single-sentence
chunk to NotNext, which skews the rate, badly so on corpora of long sentences): IsNext/NotNext
is decided first, by a fair coin. A single-sentence chunk that gets IsNext is split inside the
sentence at a random token (A = its start, B = its continuation: still true next text); if that
sentence is a single token (a heading, say), B is the document's next sentence instead. Only a
one-token sentence that ends its document has no true continuation: it becomes NotNext, and the
next chunk whose coin says NotNext but could be IsNext becomes IsNext instead, so the forced
ones are paid back and the overall rate stays 0.5.
Also, the random document is drawn uniformly among the *other* documents (Google retries 10
times and may keep the same one), so a corpus needs at least 2 documents.

Harder negatives (an option, not Google's): with `near_negatives` = p, a NotNext B comes with
probability p from a document at most `NEAR_WINDOW` places away from A's in corpus order instead.
Corpora keep a book's chapters (or a collection's entries) together, so that is nearly always
the same book or collection: B then shares A's style, names and vocabulary, and the model must
judge continuity rather than style. With p = 0 the plan is exactly the plain one.

An instance is four token offsets into the corpus (A and B are each one contiguous range of
`tokens.bin`), so an epoch of millions of instances is a few compact arrays (`InstancePlan`);
`Instance` objects are built only for the rows a batch needs. Each epoch is planned with its own
RNG (seed, epoch): the pairs, cuts and order change every epoch ("dynamic" NSP data).
"""

from __future__ import annotations

import hashlib
import random
from array import array
from dataclasses import dataclass

import numpy as np

from engine.data.corpus import DataError
from engine.data.shards import TokenizedCorpus

__all__ = ["Instance", "InstancePlan", "epoch_plan", "epoch_instances", "truncated_lengths", "NEAR_WINDOW"]

NEAR_WINDOW = 32  # documents either side of A's that a "near" NotNext B may come from


@dataclass
class Instance:
    tokens: np.ndarray  # int32 [CLS] A [SEP] B [SEP]
    segment_ids: np.ndarray  # int8: 0 for [CLS] A [SEP], 1 for B [SEP]
    is_random_next: bool

    def __len__(self) -> int:
        return len(self.tokens)


def derive_seed(*parts) -> int:
    """A 64-bit seed from any parts, stable across runs, platforms and Python versions."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def truncated_lengths(len_a: int, len_b: int, max_num_tokens: int) -> tuple[int, int]:
    """How many tokens Google's `truncate_seq_pair` removes from A and from B.

    It removes one token at a time from the longer side (from B on a tie) until the pair fits:
    first the longer side down to the shorter one, then alternately B, A, B, ...
    """
    excess = len_a + len_b - max_num_tokens
    if excess <= 0:
        return 0, 0
    if len_a > len_b:
        first = min(excess, len_a - len_b)
        rest = excess - first
        return first + rest // 2, rest - rest // 2
    first = min(excess, len_b - len_a)
    rest = excess - first
    return rest // 2, first + rest - rest // 2


@dataclass
class InstancePlan:
    """One epoch of instances as token ranges into `corpus.tokens`: A = [a_lo, a_hi), B = [b_lo, b_hi)."""

    a_lo: np.ndarray  # int64 [n]
    a_hi: np.ndarray
    b_lo: np.ndarray
    b_hi: np.ndarray
    is_random_next: np.ndarray  # bool [n]
    document: np.ndarray  # int64 [n]: the document A comes from (diagnostics, tests)
    target_length: np.ndarray  # int32 [n]: the document's target length (max_seq_length - 3 unless short)

    def __len__(self) -> int:
        return len(self.a_lo)

    def take(self, index) -> InstancePlan:
        return InstancePlan(*(getattr(self, f)[index] for f in self.__dataclass_fields__))

    def instance(self, i: int, tokens: np.ndarray, cls_id: int, sep_id: int) -> Instance:
        a = tokens[self.a_lo[i]:self.a_hi[i]]
        b = tokens[self.b_lo[i]:self.b_hi[i]]
        n_a, n_b = len(a), len(b)
        ids = np.empty(n_a + n_b + 3, np.int32)
        ids[0], ids[n_a + 1], ids[-1] = cls_id, sep_id, sep_id
        ids[1:n_a + 1] = a
        ids[n_a + 2:-1] = b
        seg = np.zeros(n_a + n_b + 3, np.int8)
        seg[n_a + 2:] = 1
        return Instance(ids, seg, bool(self.is_random_next[i]))


def epoch_plan(corpus: TokenizedCorpus, max_seq_length: int, seed: int, epoch: int,
               short_seq_prob: float = 0.1, near_negatives: float = 0.0) -> InstancePlan:
    """All instances of one epoch as offsets, shuffled; deterministic for (seed, epoch)."""
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be >= 5 ([CLS] A [SEP] B [SEP]), got {max_seq_length}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must be in [0, 1], got {short_seq_prob}")
    if not 0.0 <= near_negatives <= 1.0:
        raise ValueError(f"near_negatives must be in [0, 1], got {near_negatives}")
    n_docs = corpus.num_documents
    if n_docs < 2:
        raise DataError(f"{corpus.path}: split {corpus.split!r} has {n_docs} document(s); "
                        f"next-sentence pairs need at least 2")
    max_num_tokens = max_seq_length - 3
    rng = random.Random(derive_seed("plan", seed, epoch))
    so, do = corpus.sentence_offsets, corpus.document_offsets
    cols = {k: array("q") for k in ("a_lo", "a_hi", "b_lo", "b_hi", "doc", "target")}
    rand_next = bytearray()
    a_lo_, a_hi_, b_lo_, b_hi_ = cols["a_lo"].append, cols["a_hi"].append, cols["b_lo"].append, cols["b_hi"].append
    doc_, target_ = cols["doc"].append, cols["target"].append
    coin, randint, randrange, getrandbits = rng.random, rng.randint, rng.randrange, rng.getrandbits
    owed = 0  # NotNext pairs forced so far and not yet balanced by an IsNext

    for d in range(n_docs):
        s0, s1 = int(do[d]), int(do[d + 1])
        t = so[s0:s1 + 1].tolist()  # token offsets of this document's sentence boundaries
        n = s1 - s0
        target = max_num_tokens
        if coin() < short_seq_prob:
            target = randint(2, max_num_tokens)
        chunk_start = 0
        i = 0
        while i < n:
            if i != n - 1 and t[i + 1] - t[chunk_start] < target:
                i += 1
                continue
            m = i + 1 - chunk_start  # sentences in the chunk
            a_end = randint(1, m - 1) if m >= 2 else 1
            a_lo, a_hi = t[chunk_start], t[chunk_start + a_end]
            random_next = coin() < 0.5
            if random_next and owed and (m >= 2 or a_hi - a_lo >= 2 or i + 1 < n):
                random_next, owed = False, owed - 1  # repay a forced NotNext (see module docstring)
            if not random_next:
                if m >= 2:
                    b_lo, b_hi = a_hi, t[i + 1]
                elif a_hi - a_lo >= 2:  # one sentence: cut it in two (see module docstring)
                    b_hi = a_hi
                    a_hi = b_lo = a_lo + randint(1, b_hi - a_lo - 1)
                elif i + 1 < n:  # one 1-token sentence: B is the next sentence
                    i += 1
                    b_lo, b_hi = a_hi, t[i + 1]
                else:  # a 1-token sentence ending its document: no true next text
                    random_next, owed = True, owed + 1
            if random_next:
                if near_negatives and coin() < near_negatives:
                    lo, hi = max(0, d - NEAR_WINDOW), min(n_docs, d + NEAR_WINDOW + 1)
                    r = randrange(lo, hi - 1)
                else:
                    r = randrange(n_docs - 1)
                r += r >= d  # skip A's own document
                r0, r1 = int(do[r]), int(do[r + 1])
                start = r0 + randrange(r1 - r0)
                b_lo = int(so[start])
                # B = sentences from `start` until it reaches target - len(A) or the document ends.
                end = start + 1 + int(np.searchsorted(so[start + 1:r1 + 1], b_lo + target - (a_hi - a_lo)))
                b_hi = int(so[min(end, r1)])
                i -= m - a_end  # the chunk's unused sentences start the next chunk
            cut_a, cut_b = truncated_lengths(a_hi - a_lo, b_hi - b_lo, max_num_tokens)
            if cut_a:
                front = getrandbits(cut_a).bit_count()  # Binomial(cut_a, 1/2): each cut is front or back
                a_lo, a_hi = a_lo + front, a_hi - (cut_a - front)
            if cut_b:
                front = getrandbits(cut_b).bit_count()
                b_lo, b_hi = b_lo + front, b_hi - (cut_b - front)
            a_lo_(a_lo), a_hi_(a_hi), b_lo_(b_lo), b_hi_(b_hi), doc_(d), target_(target)
            rand_next.append(random_next)
            chunk_start = i + 1
            i += 1

    order = np.random.default_rng(derive_seed("shuffle", seed, epoch)).permutation(len(rand_next))
    return InstancePlan(
        a_lo=np.frombuffer(cols["a_lo"], np.int64)[order], a_hi=np.frombuffer(cols["a_hi"], np.int64)[order],
        b_lo=np.frombuffer(cols["b_lo"], np.int64)[order], b_hi=np.frombuffer(cols["b_hi"], np.int64)[order],
        is_random_next=np.frombuffer(bytes(rand_next), np.bool_)[order],
        document=np.frombuffer(cols["doc"], np.int64)[order],
        target_length=np.frombuffer(cols["target"], np.int64)[order].astype(np.int32))


def epoch_instances(corpus: TokenizedCorpus, max_seq_length: int, seed: int, epoch: int,
                    short_seq_prob: float = 0.1, near_negatives: float = 0.0) -> list[Instance]:
    """All instances of one epoch, shuffled; deterministic for (seed, epoch), different across epochs.

    Builds every Instance in memory: fine for small corpora and tests; training streams from
    `epoch_plan` instead (see `PretrainingBatches`).
    """
    plan = epoch_plan(corpus, max_seq_length, seed, epoch, short_seq_prob, near_negatives)
    return [plan.instance(i, corpus.tokens, corpus.cls_id, corpus.sep_id) for i in range(len(plan))]
