"""The `source` task: which source (fiction, kjv, web, jargon) a sentence comes from."""

from __future__ import annotations

import random

from .corpus import LABELS, Corpus

SIZES = {"train": 1000, "dev": 150, "test": 250}        # sentences per class

RULES = [
    "source: single-sentence classification into fiction (the 17 Gutenberg books other than the KJV: "
    "novels, stories, poetry, plays), kjv (the King James Bible), web (the World English Bible), "
    "jargon (the Jargon File).",
    "source: test sentences come only from documents the default model never saw in pretraining: "
    "Persuasion (fiction), KJV Acts (kjv), WEB Acts (web) and the hash-held-out Jargon File entries "
    "(jargon); train and dev sentences from the other documents, dev from the hash-chosen dev documents.",
    "source: every class gets the same number of sentences in a split, drawn uniformly from the "
    "class's usable sentences in that split (fiction: all training books pooled, so longer books give "
    "more); the number is the requested size, or less when a class has fewer (see per_class/available).",
]


def build_source(corpus: Corpus, seed: int, sizes: dict[str, int] = SIZES) -> tuple[dict, dict]:
    """rows per split ([{"text", "label"}]) and their stats."""
    rows_by_split, stats = {}, {}
    for split in ("train", "dev", "test"):
        rng = random.Random(f"source/{split}/{seed}")
        pools = {label: corpus.label_pool(split, label) for label in LABELS}
        available = {label: len(p) for label, p in pools.items()}
        n = min(sizes[split], *available.values())
        rows = [{"text": s.text, "label": label}
                for label in LABELS for s in rng.sample(pools[label], n)]
        rng.shuffle(rows)
        rows_by_split[split] = rows
        entry = {"rows": len(rows), "per_class": n, "requested_per_class": sizes[split],
                 "labels": {label: n for label in LABELS}, "available": available}
        if n < sizes[split]:
            short = min(available, key=available.get)
            entry["note"] = (f"fewer than requested: class {short!r} has only {available[short]} "
                             "usable sentences in this split; every class was cut to match")
        if split == "test":
            entry["test_books"] = {corpus.books[b].label: f"{g} ({corpus.books[b].title})"
                                   for g, b in corpus.test_groups.items()}
        stats[split] = entry
    return rows_by_split, stats
