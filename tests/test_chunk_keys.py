"""The numpy pieces of the chunk cache: chunks and keys of a UTF-8 buffer, and the key table."""

from __future__ import annotations

import re
import string

import numpy as np

from engine.data.chunk_keys import chunks_of, is_hashed, same_bytes, word_view
from engine.data.key_table import KeyTable

TEXT = "a  bb café naïve \ud800 漢字 averyveryverylongchunk averyveryverylongchunk! 12345678 1234567 "


PUNCTUATION = re.escape(string.punctuation)
CHUNK = re.compile(f"[{PUNCTUATION}]|[^ {PUNCTUATION}]+")


def test_chunks_are_the_words_and_punctuation_of_each_sentence():
    sentences = [TEXT, "x", "", " ", "ü ", "漢字  \ud800", "(a,b)...c!\u0301 d-e's", "end."]
    chunks = chunks_of(sentences)
    every = chunks.texts(np.arange(len(chunks.keys)))
    ends = chunks.sentence_ends.tolist()
    assert [every[a:b] for a, b in zip([0] + ends, ends)] == [CHUNK.findall(s) for s in sentences]


def test_keys_are_equal_exactly_for_equal_chunks():
    words = CHUNK.findall(TEXT) * 2 + ["1234567", "123456", "12345670", "\x00", "\x00\x00", "é", "\u0301"]
    chunks = chunks_of(words)
    keys = chunks.keys.tolist()
    for i, a in enumerate(words):
        for j, b in enumerate(words):
            assert (keys[i] == keys[j]) == (a == b), (a, b)
    long = [len(w.encode("utf-8", "surrogatepass")) >= 8 for w in words]
    assert is_hashed(chunks.keys).tolist() == long


def test_same_bytes_tells_chunks_of_one_length_apart():
    words = ["abcdefghij", "abcdefghik", "abcdefghij", "x", "y", "a" * 40, "a" * 39 + "b", "a" * 40]
    chunks = chunks_of([" ".join(words[:4]), " ".join(words[4:])])
    same = same_bytes(chunks.view, chunks.starts[[0, 0, 3, 3, 5, 5]], word_view(chunks.data),
                      chunks.starts[[1, 2, 3, 4, 6, 7]], np.array([10, 10, 1, 1, 40, 40]))
    assert same.tolist() == [False, True, True, False, False, True]


def test_key_table_finds_what_was_put_and_nothing_else():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, 3000, dtype=np.uint64)
    keys[:3] = [0, 1, 2**63 + 5]  # the empty slot's own key value among them
    table = KeyTable()  # grows twice on the way: keys placed again
    for part in np.array_split(np.arange(3000), 5):  # put in several calls, like the cache does
        table.put(keys[part], part * 10)
    absent = rng.integers(0, 2**63, 200, dtype=np.uint64)
    absent = absent[~np.isin(absent, keys)]
    queries = np.concatenate((keys[::-1], absent, keys))
    want = {k: i * 10 for i, k in enumerate(keys.tolist())}
    assert table.get(queries).tolist() == [want.get(k, -1) for k in queries.tolist()]
