"""The chunks of a UTF-8 text, each with a 64-bit key, found with numpy.

A chunk is a run of bytes between ASCII spaces and ASCII punctuation, or one ASCII punctuation
character: the BERT pre-tokenizer makes each of those a word of its own (chunk_cache says why
that keeps the ids exact).

The key of a chunk under 8 bytes is the chunk itself (its bytes, little-endian, with the length
in the top byte), so equal keys mean equal chunks. A longer chunk's key is a hash of its bytes
with the top byte 0xFF (so it never equals a short chunk's key): equal keys then only *suggest*
equal chunks, and `same_bytes` tells for sure.

Why bytes: the chunk cache needs one key per chunk, millions per corpus; in numpy that is a few
array passes per batch instead of a Python string and a dictionary lookup per chunk. ASCII
bytes never occur inside a multi-byte UTF-8 sequence, so splitting the bytes at them splits the
text at those characters.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

_SPACE = 0x20
_WORD, _BREAK, _PUNCTUATION = 0, 1, 2  # what each byte value is to the chunking
_KIND = np.full(256, _WORD, np.uint8)
_KIND[_SPACE] = _BREAK
_KIND[list(string.punctuation.encode())] = _PUNCTUATION  # Rust's is_ascii_punctuation
_LONG = 8  # chunks of this many bytes or more get a hashed key
_HASHED = np.uint64(0xFF << 56)
_LENGTH_SHIFT = np.uint64(56)
# _MASKS[k]: the low k bytes of a word (k = 8: all of it)
_MASKS = np.array([(1 << 8 * k) - 1 for k in range(8)] + [(1 << 64) - 1], np.uint64)
_PAD = bytes(16)  # two words can be read from every offset up to the buffer's end


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every bit of the result depends on every bit of x (uint64 in, uint64 out)."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def word_view(data: bytes | bytearray) -> np.ndarray:
    """uint64 [len(data) + 9]: element i is bytes i..i+7 of data as a little-endian word, zeros
    past its end (overlapping, unaligned views of one padded copy)."""
    padded = bytes(data) + _PAD
    return np.ndarray((len(padded) - 7,), "<u8", padded, 0, (1,))


def words_of(view: np.ndarray, starts: np.ndarray,
             lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The chunks' bytes 8 to a word, the last word of each zero-filled past its end, back to back.

    Returns (words uint64 [words], first int64 [chunks]: each chunk's first word, inner int64
    [words]: each word's place in its chunk), words = sum of ceil(lengths / 8).
    """
    counts = (lengths + 7) // 8                                            # [chunks]
    first = np.cumsum(counts) - counts                                     # [chunks]
    inner = np.arange(int(counts.sum())) - np.repeat(first, counts)       # [words]
    left = np.repeat(lengths, counts) - 8 * inner                          # [words] bytes left from it
    return view[np.repeat(starts, counts) + 8 * inner] & _MASKS[np.minimum(left, 8)], first, inner


@dataclass
class Chunks:
    """The chunks of ``data`` in order: chunk c is ``data[starts[c]:starts[c] + lengths[c]]``."""

    data: bytes            # UTF-8
    view: np.ndarray       # word_view(data)
    starts: np.ndarray     # int64 [chunks]
    lengths: np.ndarray    # int64 [chunks] in bytes (> 0)
    keys: np.ndarray       # uint64 [chunks]
    sentence_ends: np.ndarray  # int64 [sentences]: sentence s is chunks sentence_ends[s-1]..[s]-1

    def joined(self, at: np.ndarray) -> tuple[bytes, np.ndarray]:
        """The bytes of chunks[at] with a space after each, and where each starts int64 [at]."""
        spaced = self.lengths[at] + 1                                      # [at]
        first = np.cumsum(spaced) - spaced                                 # [at]
        inner = np.arange(int(spaced.sum())) - np.repeat(first, spaced)  # [bytes]
        out = np.frombuffer(self.data + b" ", np.uint8)[np.repeat(self.starts[at], spaced) + inner]
        out[first + spaced - 1] = _SPACE
        return out.tobytes(), first

    def texts(self, at: np.ndarray) -> list[str]:
        """chunks[at] as strings (one decode and split for all of them)."""
        if not len(at):
            return []
        return self.joined(at)[0][:-1].decode("utf-8", "surrogatepass").split(" ")


def chunks_of(sentences: list[str]) -> Chunks:
    """The chunks of the sentences, in order, as byte ranges of their UTF-8 text joined by
    spaces (lone surrogates kept), with keys and where each sentence's chunks end."""
    text = " ".join(sentences)
    utf8 = text.encode("utf-8", "surrogatepass")
    size = len(utf8)
    data = np.frombuffer(utf8, np.uint8)                                   # [bytes]
    kind = _KIND[data]                                                     # [bytes]
    word, punctuation = kind == _WORD, kind == _PUNCTUATION
    edge = np.ones(size + 1, bool)  # edge[i]: bytes i - 1 and i are not both word bytes
    edge[1:-1] = word[1:] != word[:-1]
    starts = np.flatnonzero(punctuation | (word & edge[:-1]))              # [chunks]
    lengths = np.flatnonzero(punctuation | (word & edge[1:])) + 1 - starts  # [chunks]
    # The space after sentence s (or the end) is at character cumsum(len + 1)[s] - 1 of the text.
    joints = np.cumsum(np.fromiter(map(len, sentences), np.int64, len(sentences)) + 1) - 1
    if not text.isascii():  # characters to bytes: add the continuation bytes before each
        continuation = np.flatnonzero((data & 0xC0) == 0x80)
        # The r-th continuation byte comes after continuation[r] - r characters' first bytes.
        joints += np.searchsorted(continuation - np.arange(len(continuation)), joints, side="right")
    # Sentence s's chunks are those that start before its closing space.
    sentence_ends = np.searchsorted(starts, joints, side="right")         # [sentences]
    view = word_view(utf8)
    short = np.minimum(lengths, _LONG - 1)
    keys = (view[starts] & _MASKS[short]) | (short.astype(np.uint64) << _LENGTH_SHIFT)
    long = np.flatnonzero(lengths >= _LONG)
    if len(long):
        words, first, inner = words_of(view, starts[long], lengths[long])
        # A word's place in its chunk goes into its hash, so that reordered words differ.
        placed = words ^ (inner.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        hashed = np.add.reduceat(mix(placed), first)
        keys[long] = mix(hashed ^ lengths[long].astype(np.uint64)) | _HASHED
    return Chunks(utf8, view, starts, lengths, keys, sentence_ends)


def is_hashed(keys: np.ndarray) -> np.ndarray:
    """bool [keys]: keys that are hashes (their chunks must be compared byte by byte)."""
    return keys >= _HASHED


def same_bytes(a: np.ndarray, a_starts: np.ndarray, b: np.ndarray, b_starts: np.ndarray,
               lengths: np.ndarray) -> np.ndarray:
    """bool [chunks]: chunk i of word view a (a_starts[i], lengths[i]) has the same bytes as
    chunk i of word view b (b_starts[i], same length)."""
    same = np.ones(len(lengths), bool)
    for offset in (0, 8):  # the first two words one per chunk: most chunks are under 17 bytes
        left = np.clip(lengths - offset, 0, 8)
        same &= (a[a_starts + offset] ^ b[b_starts + offset]) & _MASKS[left] == 0
    rest = np.flatnonzero(lengths > 16)
    if len(rest):
        words_a, first, _ = words_of(a, a_starts[rest] + 16, lengths[rest] - 16)
        words_b, _, _ = words_of(b, b_starts[rest] + 16, lengths[rest] - 16)
        differ = np.flatnonzero(words_a != words_b)                        # [differing words]
        same[rest[np.searchsorted(first, differ, side="right") - 1]] = False
    return same
