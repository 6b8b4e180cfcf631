"""Does any probe sentence share N consecutive words with the training text?

A probe sentence is checked with its `[MASK]` filled by each accepted answer, as the training text
would state the fact. Words are lowercase runs of letters and digits, so punctuation and case do
not hide a copy. The corpus is streamed once: only the probe's own n-grams are kept in memory.
"""

from __future__ import annotations

import lzma
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from default_model.common_probe import MASK, ProbeItem

WINDOW = 8  # issue 24: no probe sentence shares 8 consecutive words with the training text
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> Iterator[tuple[str, ...]]:
    return (tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def filled_sentences(item: ProbeItem) -> list[str]:
    return [item.sentence.replace(MASK, answer) for answer in item.answers]


def probe_ngrams(items: list[ProbeItem], n: int) -> dict[tuple[str, ...], set[str]]:
    """Every n-gram of every filled probe sentence -> the probe sentences that hold it."""
    owners: dict[tuple[str, ...], set[str]] = {}
    for item in items:
        for filled in filled_sentences(item):
            for gram in ngrams(words(filled), n):
                owners.setdefault(gram, set()).add(item.sentence)
    return owners


def corpus_lines(paths: Iterable[Path]) -> Iterator[str]:
    """Sentences (lines) of BERT-layout files, .xz or plain."""
    for path in paths:
        opener = lzma.open if path.suffix == ".xz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            yield from f


def shared_sentences(items: list[ProbeItem], lines: Iterable[str], n: int = WINDOW) -> dict[str, str]:
    """Probe sentence -> a training line it shares n consecutive words with (first found).

    Lines are joined across document boundaries too (a window may span two sentences), so the
    check is stricter than per sentence.
    """
    owners = probe_ngrams(items, n)
    found: dict[str, str] = {}
    tail: list[str] = []  # the last n-1 words of the lines before, so windows span line ends
    for line in lines:
        tokens = tail + words(line)
        for gram in ngrams(tokens, n):
            for sentence in owners.get(gram, ()):
                found.setdefault(sentence, line.strip())
        tail = tokens[-(n - 1):] if n > 1 else []
    return found
