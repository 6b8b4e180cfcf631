"""Word-piece ids of many sentences, each distinct space-separated chunk encoded once.

Why this is exact: the tokenizer's pipeline (BERT normalizer, BERT pre-tokenizer, WordPiece)
works character by character and word by word, and an ASCII space is always a word boundary
that the pipeline removes: no character is merged, reordered (NFD only reorders combining marks,
never across a space) or looked at across it. So the ids of a sentence are the ids of its
``split(" ")`` chunks, concatenated, and a chunk's ids never change.

Why it is fast: in text most chunks repeat ("the", "of", "said."), so after the first batches
nearly every chunk is a dictionary hit, and only the new ones go to the Rust encoder. The
tokenizer's own batch encoder was the whole cost of ``prepare`` (measured: 95%).

Memory stays bounded: the cache holds at most ``max_chunks`` chunks and starts over when full.
"""

from __future__ import annotations

import itertools
from array import array

import numpy as np

from engine.tokenizer import WordPieceTokenizer

# About 60 MB of Python strings and ids at the limit; real text (one book to a web crawl) keeps
# its frequent chunks well inside it.
MAX_CHUNKS = 1 << 19
GROUP = 256  # new chunks per text given to the Rust encoder
_SEPARATOR = " | "


class ChunkCachedEncoder:
    """``encode(sentences)`` gives the same ids as ``tokenizer.encode_plain(sentences)``, as one
    flat array plus the sentence lengths."""

    def __init__(self, tokenizer: WordPieceTokenizer, max_chunks: int = MAX_CHUNKS):
        self.tokenizer, self.max_chunks = tokenizer, max_chunks
        self._separator_id: int | None = None  # found on first use; -1: no single id
        self._clear()

    def _clear(self) -> None:
        self._index: dict[str, int] = {}  # chunk -> its row in the tables below
        self._pieces = array("q")          # every cached chunk's ids, back to back
        self._starts = array("q")          # [chunks] where each chunk's ids start in _pieces
        self._lengths = array("q")         # [chunks] how many ids each chunk has

    def _add(self, chunks: list[str]) -> None:
        """Encode chunks not in the cache yet and append them to it."""
        ids = self._encode_chunks(chunks)
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        first = len(self._starts)
        self._starts.extend((np.cumsum(lengths) - lengths + len(self._pieces)).tolist())
        self._lengths.extend(lengths.tolist())
        self._pieces.extend(itertools.chain.from_iterable(ids))
        self._index.update(zip(chunks, range(first, first + len(chunks))))

    def _encode_chunks(self, chunks: list[str]) -> list[list[int]]:
        """Each chunk's ids, as ``tokenizer.encode_plain(chunks)``, from fewer, longer texts.

        GROUP chunks go to the Rust encoder as one text, joined by `_SEPARATOR` (a word of its
        own, so by the same argument its one id stands between the chunks' ids): the encoder's
        cost per text is most of its cost per short chunk. A group whose ids hold the separator's
        id more often than it was put in (a chunk holding it too) is encoded chunk by chunk.
        """
        if self._separator_id is None:
            sep = self.tokenizer.encode_plain([_SEPARATOR.strip()])[0]
            self._separator_id = sep[0] if len(sep) == 1 else -1
        if self._separator_id < 0:
            return self.tokenizer.encode_plain(chunks)
        groups = [chunks[i:i + GROUP] for i in range(0, len(chunks), GROUP)]
        out: list[list[int]] = []
        for group, ids in zip(groups, self.tokenizer.encode_plain(list(map(_SEPARATOR.join, groups)))):
            ends = [i for i, t in enumerate(ids) if t == self._separator_id] + [len(ids)]
            if len(ends) != len(group):
                out += self.tokenizer.encode_plain(group)
                continue
            out += (ids[a + 1 if k else 0:b] for k, (a, b) in enumerate(zip([0] + ends, ends)))
        return out

    def encode(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """sentences -> (ids int64 [total], lengths int64 [sentences]); empty chunks (two
        spaces in a row) encode to nothing, as the whole sentence would."""
        # One split of the joined batch gives every sentence's chunks in order: a sentence of
        # c spaces has c + 1 chunks. (One C call instead of one per sentence.)
        chunks = " ".join(sentences).split(" ")
        counts = np.fromiter(map(str.count, sentences, itertools.repeat(" ")), np.int64,
                             len(sentences)) + 1                          # [sentences]
        rows = self._rows(chunks)
        if rows is None:  # more distinct chunks in this batch than the cache holds
            ids = self.tokenizer.encode_plain(sentences)
            lengths = np.fromiter(map(len, ids), np.int64, len(ids))
            return np.fromiter(itertools.chain.from_iterable(ids), np.int64, int(lengths.sum())), lengths
        pieces = np.frombuffer(self._pieces, np.int64)
        chunk_lengths = np.frombuffer(self._lengths, np.int64)[rows]
        chunk_starts = np.frombuffer(self._starts, np.int64)[rows]
        ends = np.cumsum(chunk_lengths)                                  # [chunks] in the output
        # Output position k of chunk c reads pieces[start_c + (k - first_output_of_c)].
        gather = np.repeat(chunk_starts - ends + chunk_lengths, chunk_lengths)
        gather += np.arange(int(ends[-1]) if len(ends) else 0)
        sentence_ends = np.concatenate(([0], ends))[np.cumsum(counts)]   # [sentences]
        lengths = np.diff(sentence_ends, prepend=0)
        return pieces[gather], lengths

    def _rows(self, chunks: list[str]) -> np.ndarray | None:
        """Each chunk's row in the cache [chunks], encoding the new ones; None when they do not
        fit even in an empty cache."""
        rows = np.fromiter(map(self._index.get, chunks, itertools.repeat(-1)), np.int64,
                           len(chunks))
        unknown = np.flatnonzero(rows < 0)
        if not len(unknown):
            return rows
        unknown_chunks = list(map(chunks.__getitem__, unknown.tolist()))
        new = list(dict.fromkeys(unknown_chunks))
        if len(self._index) + len(new) > self.max_chunks:  # full: start over with this batch
            self._clear()
            unknown, unknown_chunks = np.arange(len(chunks)), chunks
            new = list(dict.fromkeys(chunks))
            if len(new) > self.max_chunks:
                return None
        self._add(new)
        rows[unknown] = np.fromiter(map(self._index.__getitem__, unknown_chunks), np.int64,
                                    len(unknown))
        return rows
