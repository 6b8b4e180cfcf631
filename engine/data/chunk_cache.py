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


class ChunkCachedEncoder:
    """``encode(sentences)`` gives the same ids as ``tokenizer.encode_plain(sentences)``, as one
    flat array plus the sentence lengths."""

    def __init__(self, tokenizer: WordPieceTokenizer, max_chunks: int = MAX_CHUNKS):
        self.tokenizer, self.max_chunks = tokenizer, max_chunks
        self._clear()

    def _clear(self) -> None:
        self._index: dict[str, int] = {}  # chunk -> its row in the tables below
        self._pieces = array("q")          # every cached chunk's ids, back to back
        self._starts = array("q")          # [chunks] where each chunk's ids start in _pieces
        self._lengths = array("q")         # [chunks] how many ids each chunk has

    def _add(self, chunks: list[str]) -> None:
        """Encode chunks not in the cache yet and append them to it."""
        ids = self.tokenizer.encode_plain(chunks)
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        first = len(self._starts)
        self._starts.extend((np.cumsum(lengths) - lengths + len(self._pieces)).tolist())
        self._lengths.extend(lengths.tolist())
        self._pieces.extend(itertools.chain.from_iterable(ids))
        self._index.update(zip(chunks, range(first, first + len(chunks))))

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
