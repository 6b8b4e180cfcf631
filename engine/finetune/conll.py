"""CoNLL-style tagging files: one token per line, a blank line between sentences.

A line's columns are split at each tab when it has one (so an empty column counts and is
reported), else at runs of spaces. ``-DOCSTART-`` lines separate documents and are skipped, as in
CoNLL-2003. Windows line endings, trailing whitespace and a missing final blank line are fine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.finetune.errors import FinetuneDataError
from engine.finetune.tables import listing, require_file, utf8_lines

OUTSIDE = "O"
# Position of a tag's prefix among the tags of one entity type: BIO(ES) first, then BILOU's own.
_PREFIX_ORDER = {"B": 0, "I": 1, "E": 2, "S": 3, "L": 4, "U": 5}


@dataclass(frozen=True)
class TaggedSentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    line: int  # line of the first token; token i is on line + i


def read_conll(path: str | os.PathLike, word_column: int = 0,
               tag_column: int = -1) -> list[TaggedSentence]:
    """The file's sentences. Columns are 0-based; negative ones count from the end of the line."""
    path = require_file(path)
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []
    for number, text in enumerate(utf8_lines(path), start=1):
        text = text.rstrip()
        if not text or text.startswith("-DOCSTART-"):
            if words:
                sentences.append(TaggedSentence(tuple(words), tuple(tags), number - len(words)))
                words, tags = [], []
            continue
        word, tag = _word_and_tag(path, number, text, word_column, tag_column)
        words.append(word)
        tags.append(tag)
    if words:
        sentences.append(TaggedSentence(tuple(words), tuple(tags), number + 1 - len(words)))
    if not sentences:
        raise FinetuneDataError(path, "no sentences: the file is empty or holds only blank and "
                                      "-DOCSTART- lines")
    return sentences


def _word_and_tag(path: Path, line: int, text: str, word_column: int,
                  tag_column: int) -> tuple[str, str]:
    fields = [field.strip() for field in text.split("\t")] if "\t" in text else text.split()
    count = len(fields)
    word_index, tag_index = _resolved(word_column, count), _resolved(tag_column, count)
    if word_index is None or tag_index is None or word_index == tag_index:
        raise FinetuneDataError(path, f"the line has {count} column{'s' if count != 1 else ''}, "
                                      f"too few for word column {word_column} and tag column "
                                      f"{tag_column}", line)
    for kind, column, index in (("word", word_column, word_index), ("tag", tag_column, tag_index)):
        if not fields[index]:
            raise FinetuneDataError(path, f"empty {kind} (column {column})", line)
    return fields[word_index], fields[tag_index]


def _resolved(column: int, count: int) -> int | None:
    """The 0-based index of a possibly negative column in a line of ``count`` columns."""
    index = column if column >= 0 else count + column
    return index if 0 <= index < count else None


def tag_vocabulary(sentences: Iterable[TaggedSentence]) -> list[str]:
    """All tags seen, in a stable order (these are the tag ids): "O" first (when seen), then by
    entity type, and within a type by prefix B, I, E, S, L, U ("B-LOC", "I-LOC", "B-PER", …).
    A tag without a "X-" prefix (a POS tag, say) sorts as its own type, before prefixed ones."""
    seen: set[str] = set()
    for sentence in sentences:
        seen.update(sentence.tags)
    ordered = sorted(seen - {OUTSIDE}, key=_tag_sort_key)
    return [OUTSIDE, *ordered] if OUTSIDE in seen else ordered


def _tag_sort_key(tag: str) -> tuple[str, int, str]:
    prefix, dash, entity_type = tag.partition("-")
    if dash and entity_type and prefix in _PREFIX_ORDER:
        return entity_type, _PREFIX_ORDER[prefix], tag
    return tag, -1, tag


def check_tags_known(sentences: Iterable[TaggedSentence], tags: Sequence[str],
                     path: str | os.PathLike, *, known_from: str = "the training file") -> None:
    """Refuse the first token whose tag is not in ``tags``, naming its line."""
    known = set(tags)
    for sentence in sentences:
        for offset, tag in enumerate(sentence.tags):
            if tag not in known:
                raise FinetuneDataError(path, f"tag {tag!r} never appears in {known_from} "
                                              f"(its tags: {listing(tags)})", sentence.line + offset)
