"""The `same_book` task: whether two sentences come from the same book.

Every pair has an anchor sentence, drawn first, and a partner. Anchors are spread evenly over the
four source labels (a fiction anchor's book is drawn uniformly from the split's fiction books); the
same counts hold for `same` and `different` pairs, so the anchor's source says nothing about the
label. Sentences are dealt from a shuffled deck per book: no sentence is used twice in a split
before every sentence of its book has been used once (only the small held-out books ever cycle).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from .corpus import GROUP, LABELS, Corpus, Sentence, TaskDataError

SIZES = {"train": 4000, "dev": 500, "test": 1000}        # pairs, half same and half different
HARD_FRACTION = 0.8          # of the different pairs whose anchor has a same-group book to pair with
SAME_AUTHOR_FRACTION = 0.5   # of a fiction anchor's hard partners, when its author wrote another book

RULES = [
    "same_book: sentence-pair classification, same or different book. A book is one of the 17 "
    "Gutenberg fiction books; the KJV, the World English Bible and the Jargon File count as one book "
    "each. Half the pairs are same, half different.",
    "same_book: a same pair takes two sentences of one book from two different documents that are "
    "not adjacent (document indices at least 2 apart).",
    f"same_book: different pairs are hard (both books of one source group: two fiction books, or KJV "
    f"vs WEB) for {HARD_FRACTION:.0%} of the different pairs whose anchor is fiction, kjv or web; "
    "the rest, and all with a jargon anchor, pair books of different groups. A fiction anchor's hard "
    f"partner is by the same author ({SAME_AUTHOR_FRACTION:.0%}, when the author has another book: "
    "Austen, Chesterton, Shakespeare) or any other fiction book. Together at least half of the "
    "different pairs are hard.",
    "same_book: anchors are spread evenly over fiction, kjv, web and jargon, with the same counts for "
    "same and different pairs; text_a/text_b order is random.",
    "same_book: train and dev pairs use only sentences of their own split's documents. Every test pair "
    "has a held-out anchor (Persuasion, KJV Acts, WEB Acts, held-out Jargon entries); test same pairs "
    "take both sentences from two held-out chapters/entries of one of these; a test partner from "
    "another book is held-out text where that book has any (KJV Acts, WEB Acts, Persuasion, held-out "
    "Jargon), else a training-document sentence not used in the train or dev pairs "
    "(e.g. Persuasion vs Emma or Sense and Sensibility).",
]


class _Deck:
    """Sentences of one book, dealt in a shuffled order; reshuffled when none left fits."""

    def __init__(self, items: list[Sentence], rng: random.Random):
        if not items:
            raise TaskDataError("empty sentence pool")
        self.items, self.rng, self.order, self.cycles = items, rng, [], 0

    def draw(self, ok: Callable[[Sentence], bool] = lambda s: True) -> Sentence:
        for _ in range(2):
            for j in range(len(self.order) - 1, -1, -1):
                if ok(self.order[j]):
                    return self.order.pop(j)
            self.order = list(self.items)
            self.rng.shuffle(self.order)
            self.cycles += 1
        raise TaskDataError(f"no sentence of {self.items[0].book!r} fits")


def _split_evenly(n: int, parts: int) -> list[int]:
    return [n // parts + (i < n % parts) for i in range(parts)]


def _build_split(corpus: Corpus, split: str, n_pairs: int, seed: int,
                 used: set[str]) -> tuple[list[dict], dict]:
    rng = random.Random(f"same_book/{split}/{seed}")
    books = corpus.books
    if split == "test":
        anchor_books = {books[b].label: [b] for b in corpus.test_groups.values()}

        pools = {b: corpus.pool("test", b)
                 or [s for sp in ("train", "dev") for s in corpus.pool(sp, b) if s.text not in used]
                 for b in books}
    else:
        pools = {b: corpus.pool(split, b) for b in books}
        anchor_books = {label: [b for b in books if books[b].label == label and pools[b]]
                        for label in LABELS}
    doc_span = {b: (min(s.doc for s in p), max(s.doc for s in p)) for b, p in pools.items() if p}

    def pool(b: str) -> list[Sentence]:
        return pools[b]
    partners = {label: [b for b in books if books[b].label == label and pool(b)] for label in LABELS}
    positive_books = {label: [b for b in anchor_books[label] if b in doc_span
                              and doc_span[b][1] - doc_span[b][0] >= 2]
                      for label in LABELS}
    for label in LABELS:
        if not positive_books[label] or not partners[label]:
            raise TaskDataError(f"same_book {split}: no {label} book with enough documents")
    decks: dict[str, _Deck] = {}

    def deck(b: str) -> _Deck:
        if b not in decks:
            decks[b] = _Deck(pool(b), rng)
        return decks[b]

    def hard_partner(b: str) -> str:
        label = books[b].label
        if label != "fiction":
            return rng.choice(partners["web" if label == "kjv" else "kjv"])
        others = [x for x in partners["fiction"] if x != b]
        same_author = [x for x in others if books[b].author and books[x].author == books[b].author]
        if same_author and rng.random() < SAME_AUTHOR_FRACTION:
            return rng.choice(same_author)
        return rng.choice(others)

    rows, meta, seen = [], Counter(), set()
    appearances: Counter[str] = Counter()
    n_same = n_pairs // 2
    for label, k in zip(LABELS, _split_evenly(n_same, len(LABELS))):
        for _ in range(k):
            for _try in range(100):
                b = rng.choice(positive_books[label])
                lo, hi = doc_span[b]
                a = deck(b).draw(lambda s: s.doc - lo >= 2 or hi - s.doc >= 2)
                c = deck(b).draw(lambda s, d=a.doc: abs(s.doc - d) >= 2)
                if frozenset((a.text, c.text)) not in seen:
                    break
            rows.append((a, c, "same"))
            meta[f"same/{label}"] += 1
    for label, k in zip(LABELS, _split_evenly(n_pairs - n_same, len(LABELS))):
        n_hard = round(HARD_FRACTION * k) if label != "jargon" else 0
        for i in range(k):
            hard = i < n_hard
            for _try in range(100):
                b = rng.choice(anchor_books[label])
                if hard:
                    p = hard_partner(b)
                else:
                    other = rng.choice([x for x in LABELS if GROUP[x] != GROUP[label]])
                    p = rng.choice(partners[other])
                a, c = deck(b).draw(), deck(p).draw()
                if frozenset((a.text, c.text)) not in seen:
                    break
            rows.append((a, c, "different"))
            meta[f"different/{'hard' if hard else 'easy'}/{label}"] += 1
    out = []
    for a, c, lab in rows:
        if frozenset((a.text, c.text)) in seen:
            raise TaskDataError(f"same_book {split}: could not draw {n_pairs} distinct pairs")
        seen.add(frozenset((a.text, c.text)))
        appearances.update((a.text, c.text))
        if lab == "different":
            meta["hard" if books[a.book].group == books[c.book].group else "easy"] += 1
        if rng.random() < 0.5:
            a, c = c, a
        out.append({"text_a": a.text, "text_b": c.text, "label": lab})
    rng.shuffle(out)
    labels = Counter(r["label"] for r in out)
    stats = {
        "rows": len(out), "labels": dict(sorted(labels.items())),
        "different_hard": meta["hard"], "different_easy": meta["easy"],
        "by_anchor": {key: meta[key] for key in sorted(meta) if "/" in key},
        "distinct_sentences": len(appearances),
        "sentences_used_twice_or_more": sum(1 for v in appearances.values() if v > 1),
        "books": {"positives": {label: positive_books[label] for label in LABELS},
                  "anchors": {label: anchor_books[label] for label in LABELS}},
    }
    return out, stats


def build_same_book(corpus: Corpus, seed: int, sizes: dict[str, int] = SIZES) -> tuple[dict, dict]:
    """rows per split ([{"text_a", "text_b", "label"}]) and their stats; train and dev first, so the
    test's training-text partners can avoid every sentence they used."""
    rows_by_split, stats, used = {}, {}, set()
    for split in ("train", "dev", "test"):
        rows, st = _build_split(corpus, split, sizes[split], seed, used)
        rows_by_split[split], stats[split] = rows, st
        used.update(t for r in rows for t in (r["text_a"], r["text_b"]))
    return rows_by_split, stats
