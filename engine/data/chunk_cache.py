"""Word-piece ids of many sentences, each distinct chunk (a word between spaces and ASCII
punctuation, or one punctuation character) encoded once.

Why this is exact: the tokenizer's pipeline (BERT normalizer, BERT pre-tokenizer, WordPiece)
works character by character and word by word, and an ASCII space is always a word boundary
that the pipeline removes, an ASCII punctuation character always a word of its own: the
normalizer leaves both as they are and never merges, reorders (NFD only reorders combining
marks, which never move across a character that is not one) or looks across them. So the ids
of a sentence are the ids of its chunks, concatenated, and a chunk's ids never change.

Why it is fast: in text most chunks repeat ("the", "of", "said."), so after the first batches
nearly every chunk is a cache hit, and only the new ones go to the Rust encoder. The
tokenizer's own batch encoder was the whole cost of ``prepare`` (measured: 95%). The hits are
found with numpy on the batch's UTF-8 bytes (`chunk_keys`, `key_table`): a Python string and a
dictionary lookup per chunk were most of what was left (10 million chunks in 61 MB of text).
Only the chunks that miss become Python strings.

Memory stays bounded: the cache holds at most ``max_chunks`` chunks and starts over when full.
"""

from __future__ import annotations

import itertools
from array import array

import numpy as np

from engine.data.chunk_keys import Chunks, chunks_of, is_hashed, same_bytes, word_view
from engine.data.key_table import KeyTable
from engine.tokenizer import WordPieceTokenizer

# About 40 MB of bytes, ids and table at the limit; real text (one book to a web crawl) keeps
# its frequent chunks well inside it.
MAX_CHUNKS = 1 << 19
GROUP = 256  # new chunks per text given to the Rust encoder
_SEPARATOR = " | "


def _flat(ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Lists of ids -> (all of them int32 [total], each list's length int64 [lists])."""
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    return np.fromiter(itertools.chain.from_iterable(ids), np.int32, int(lengths.sum())), lengths


class ChunkCachedEncoder:
    """``encode(sentences)`` gives the same ids as ``tokenizer.encode_plain(sentences)``, as one
    flat array plus the sentence lengths."""

    def __init__(self, tokenizer: WordPieceTokenizer, max_chunks: int = MAX_CHUNKS):
        self.tokenizer, self.max_chunks = tokenizer, max_chunks
        self._separator_id: int | None = None  # found on first use; -1: no single id
        self._clear()

    def __len__(self) -> int:
        """How many chunks the cache holds."""
        return len(self._starts)

    def _clear(self) -> None:
        self._table = KeyTable()  # chunk key -> its row in the tables below
        # Chunks whose key another cached chunk holds (a hash collision: in practice none).
        self._spilled: dict[str, int] = {}
        self._pieces = array("i")          # every cached chunk's ids, back to back (int32)
        self._starts = array("q")          # [chunks] where each chunk's ids start in _pieces
        self._lengths = array("q")         # [chunks] how many ids each chunk has
        self._bytes = bytearray()          # every cached chunk's UTF-8 bytes, each and a space
        self._byte_starts = array("q")     # [chunks] where each chunk's bytes start in _bytes

    def encode(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """sentences -> (ids int32 [total], lengths int64 [sentences])."""
        chunks = chunks_of(sentences)
        rows = self._rows(chunks)
        if rows is None:  # more distinct chunks in this batch than the cache holds
            return _flat(self.tokenizer.encode_plain(sentences))
        pieces = np.frombuffer(self._pieces, np.int32)
        chunk_lengths = np.frombuffer(self._lengths, np.int64)[rows]
        chunk_starts = np.frombuffer(self._starts, np.int64)[rows]
        ends = np.cumsum(chunk_lengths)                                  # [chunks] in the output
        # Output position k of chunk c reads pieces[start_c + (k - first_output_of_c)].
        gather = np.repeat(chunk_starts - ends + chunk_lengths, chunk_lengths)
        gather += np.arange(int(ends[-1]) if len(ends) else 0)
        sentence_ends = np.concatenate(([0], ends))[chunks.sentence_ends]  # [sentences]
        lengths = np.diff(sentence_ends, prepend=0)
        return pieces[gather], lengths

    def _rows(self, chunks: Chunks) -> np.ndarray | None:
        """Each chunk's row in the cache [chunks], encoding the new ones; None when they do not
        fit even in an empty cache."""
        rows = self._hits(chunks)
        missing = np.flatnonzero(rows < 0)
        if not len(missing):
            return rows
        distinct, which = _distinct(chunks, missing)  # [d] chunk indexes; [missing] into distinct
        texts = chunks.texts(distinct)
        known = self._spilled_rows(texts)             # [d]
        if len(self) + int((known < 0).sum()) > self.max_chunks:  # full: start over with this batch
            self._clear()
            missing = np.arange(len(chunks.keys))
            distinct, which = _distinct(chunks, missing)
            if len(distinct) > self.max_chunks:
                return None
            texts, known = chunks.texts(distinct), np.full(len(distinct), -1)
        new = np.flatnonzero(known < 0)
        known[new] = self._add([texts[i] for i in new.tolist()], chunks, distinct[new])
        rows[missing] = known[which]
        return rows

    def _spilled_rows(self, texts: list[str]) -> np.ndarray:
        """Rows of the chunks that are cached outside the key table, -1 for the others [texts]."""
        if not self._spilled:
            return np.full(len(texts), -1)
        return np.fromiter(map(self._spilled.get, texts, itertools.repeat(-1)), np.int64, len(texts))

    def _hits(self, chunks: Chunks) -> np.ndarray:
        """Each chunk's row in the cache, -1 for chunks it does not hold [chunks]."""
        rows = self._table.get(chunks.keys)
        # A hashed key found is the same chunk only if the bytes are the same too.
        check = np.flatnonzero(is_hashed(chunks.keys) & (rows >= 0))
        if len(check):
            cached = rows[check]
            byte_starts = np.frombuffer(self._byte_starts, np.int64)
            byte_lengths = np.diff(byte_starts, append=len(self._bytes)) - 1  # [cached]
            lengths = chunks.lengths[check]
            differ = byte_lengths[cached] != lengths
            rows[check[differ]] = -1
            check, cached, lengths = check[~differ], cached[~differ], lengths[~differ]
            same = same_bytes(chunks.view, chunks.starts[check], word_view(self._bytes),
                              byte_starts[cached], lengths)
            rows[check[~same]] = -1
        return rows

    def _add(self, texts: list[str], chunks: Chunks, at: np.ndarray) -> np.ndarray:
        """Encode chunks[at] (distinct, not in the cache yet, as texts) and append them;
        returns their rows int64 [at]."""
        ids, lengths = self._encode_chunks(texts)
        first = len(self)
        self._starts.frombytes((np.cumsum(lengths) - lengths + len(self._pieces)).tobytes())
        self._lengths.frombytes(lengths.tobytes())
        self._pieces.frombytes(ids.tobytes())
        joined, byte_starts = chunks.joined(at)
        self._byte_starts.frombytes((byte_starts + len(self._bytes)).tobytes())
        self._bytes += joined
        keys = chunks.keys[at]
        rows = np.arange(first, first + len(at))
        # A key already held (or twice among these: a collision) cannot go in the table.
        _, once = np.unique(keys, return_index=True)
        fits = np.zeros(len(keys), bool)
        fits[once] = True
        fits &= self._table.get(keys) < 0
        self._table.put(keys[fits], rows[fits])
        self._spilled.update(zip(itertools.compress(texts, (~fits).tolist()), rows[~fits].tolist()))
        return rows

    def _encode_chunks(self, chunks: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The chunks' ids, as ``tokenizer.encode_plain(chunks)``, from fewer, longer texts:
        (ids int32 [tokens], each chunk's count int64 [chunks]).

        GROUP chunks go to the Rust encoder as one text, joined by `_SEPARATOR` (a word of its
        own, so by the same argument its one id stands between the chunks' ids): the encoder's
        cost per text is most of its cost per short chunk. A text whose ids hold the separator's
        id more often than it was put in (a chunk holding it too) is encoded chunk by chunk.
        """
        if self._separator_id is None:
            sep = self.tokenizer.encode_plain([_SEPARATOR.strip()])[0]
            self._separator_id = sep[0] if len(sep) == 1 else -1
        if self._separator_id < 0:
            return _flat(self.tokenizer.encode_plain(chunks))
        n = len(chunks)
        texts = [_SEPARATOR.join(chunks[i:i + GROUP]) for i in range(0, n, GROUP)]
        ids, per_text = _flat(self.tokenizer.encode_plain(texts))       # [tokens], [texts]
        text_of = np.repeat(np.arange(len(texts)), per_text)            # [tokens]
        is_sep = ids == self._separator_id
        seps = np.bincount(text_of[is_sep], minlength=len(texts))       # [texts]
        sizes = np.minimum(GROUP, n - GROUP * np.arange(len(texts)))    # [texts] chunks in each
        whole = seps == sizes - 1                                       # [texts] split cleanly
        # A token's chunk: its text's first chunk plus the separators before it in its text.
        chunk_of = GROUP * text_of + np.cumsum(is_sep) - is_sep - (np.cumsum(seps) - seps)[text_of]
        keep = ~is_sep & whole[text_of]
        again = np.flatnonzero(np.repeat(~whole, sizes))               # [chunks of split texts]
        again_ids, again_lengths = _flat(self.tokenizer.encode_plain([chunks[i] for i in again.tolist()]))
        chunk_of = np.concatenate((chunk_of[keep], np.repeat(again, again_lengths)))
        ids = np.concatenate((ids[keep], again_ids))
        return ids[np.argsort(chunk_of, kind="stable")], np.bincount(chunk_of, minlength=n)


def _distinct(chunks: Chunks, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct chunks among chunks[at] [at]: (one chunk index of each int64 [d], each of
    `at`'s place in that int64 [at])."""
    _, first, which = np.unique(chunks.keys[at], return_index=True, return_inverse=True)
    distinct = at[first]
    # Equal keys, different bytes (a hash collision): those chunks are told apart among themselves.
    peer = distinct[which]
    lengths = chunks.lengths[at]
    differ = np.flatnonzero((chunks.lengths[peer] != lengths) | ~same_bytes(
        chunks.view, chunks.starts[at], chunks.view, chunks.starts[peer], lengths))
    if len(differ):
        more, more_which = _distinct(chunks, at[differ])
        which[differ] = len(distinct) + more_which
        distinct = np.concatenate((distinct, more))
    return distinct, which
