"""Torch-free results of a corpus search (``bert-engine search``, the explorer's Corpus panel)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field


class CorpusIndexError(ValueError):
    """An index that cannot be used as asked: unfinished, another model's, a layer or heads it
    lacks, a token outside the input. The message names the index and the reason."""


@dataclass(frozen=True)
class CorpusMatch:
    """One corpus token near the query: its cosine, its sentence and where it sits there."""

    cosine: float
    sentence: str
    position: int        # among the sentence's tokens as the explorer shows them ([CLS] is 0)
    word: str            # the whole word the matched piece belongs to, as the text writes it
    token: str           # the matched word piece
    sentence_index: int  # the sentence's number in the corpus, from 0
    word_start: int      # the word's character span in ``sentence``
    word_end: int


@dataclass(frozen=True)
class WordCount:
    word: str
    count: int


@dataclass(frozen=True)
class CorpusSearch:
    """The ``top_k`` matches of one input token at one layer, best first, and their words."""

    query_tokens: list[str]
    token: int
    layer: int
    by: str                   # "embedding" (hidden state) or "context" (per-head contexts)
    heads: list[int] | None   # the heads a context search is restricted to; None: all
    mode: str                 # "exact" or "compressed"
    indexed_tokens: int
    matches: list[CorpusMatch]
    summary: list[WordCount] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def word_summary(matches: list[CorpusMatch], fold_case: bool) -> list[WordCount]:
    """How often each word is among the matches, most frequent first (then alphabetical);
    an uncased model's words are counted lowercased, since it cannot tell them apart."""
    counts = Counter(m.word.lower() if fold_case else m.word for m in matches)
    return [WordCount(w, c) for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))]
