"""`prepare` with the chunk cache writes the same bytes as encoding whole sentences (the code
before the cache), on the slice corpus and on text built to break the chunk argument."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.data import chunk_cache, shards
from engine.data.chunk_cache import ChunkCachedEncoder
from engine.data.chunk_keys import chunks_of, is_hashed
from engine.data.shards import prepare_corpus
from engine.tokenizer import WordPieceTokenizer

REPO = Path(__file__).resolve().parents[1]
SLICE = REPO / "resources" / "corpus" / "slice.txt"

# Each line aims at one way a space-split could differ from the whole sentence's pipeline.
TRICKY = [
    "café naïve Ångström façade",                  # accents stripped after NFD
    "a \u0301b c\u0301 \u0301",                    # combining marks right after a space
    "漢字 混じり の文 and 中文字符",                  # CJK characters padded with spaces
    "tab\there vt\x0bff\x0cfs\x1cus\x1f end",       # control characters: removed, not split
    "nbsp\u00a0here ideographic\u3000space zw\u200bjoin",  # other whitespace, zero-width
    "double  space and   triple",                   # empty chunks
    "[MASK] [CLS] [sep] typed in",                  # specials are plain text here
    "x" * 150 + " " + "y" * 99 + " ok",             # longer than WordPiece's 100 characters
    "ΟΔΟΣ İstanbul Straße ﬁne",                     # case mapping that is not one-to-one
    "emoji 🙂🙃 and a lone \ud800 surrogate",        # outside the BMP; invalid code point
    "punctuation!? “quoted” (brackets) — dash…",
    "3.14159 is pi; 2,718 is not e.",
    "pipes | a|b ||| and |",                        # the chunk cache's group separator itself
    "x!\u0301y ;\u0301; (\u20dd) a\u037eb \u226e= a\u2260b ﹗!",  # marks after, punctuation from NFD
]


@pytest.fixture(scope="module")
def tok(vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_file(vocab_file)


def as_lists(flat: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    ends = np.cumsum(lengths)
    return [flat[e - n:e].tolist() for e, n in zip(ends, lengths)]


@pytest.mark.parametrize("max_chunks", [1 << 19, 7, 1])  # roomy; starts over; batch too big
@pytest.mark.parametrize("group", [256, 3])  # new chunks per text given to the Rust encoder
def test_chunk_cache_gives_the_tokenizer_s_ids_on_tricky_text(tok, max_chunks, group, monkeypatch):
    monkeypatch.setattr(chunk_cache, "GROUP", group)
    encoder = ChunkCachedEncoder(tok, max_chunks=max_chunks)
    for batch in (TRICKY, TRICKY[::-1], TRICKY[3:5]):  # hits from earlier batches too
        flat, lengths = encoder.encode(batch)
        assert as_lists(flat, lengths) == tok.encode_plain(batch)
        assert len(encoder) <= max_chunks


class WholeSentences:
    """The encoding before the cache: the tokenizer's batch encoder on whole sentences."""

    def __init__(self, tokenizer: WordPieceTokenizer):
        self.tokenizer = tokenizer

    def encode(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = self.tokenizer.encode_plain(sentences)
        lengths = np.array([len(i) for i in ids], dtype=np.int64)
        return np.array([t for i in ids for t in i], dtype=np.int64), lengths


def folder_bytes(folder: Path) -> dict[str, bytes]:
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted(folder.rglob("*")) if p.is_file()}
    meta = json.loads(files.pop("meta.json"))
    meta.pop("created")
    return {**files, "meta.json": json.dumps(meta, sort_keys=True).encode()}


def test_prepare_writes_the_same_bytes_as_whole_sentence_encoding(tmp_path, tok, monkeypatch):
    tricky = tmp_path / "tricky.txt"
    tricky.write_text("\n".join(TRICKY) + "\n\n" + "\n".join(TRICKY[::-1]) + "\n",
                      encoding="utf-8", errors="surrogatepass")
    inputs = [SLICE, tricky]
    # Small batches and a small cache: hits across batches, and the cache starting over.
    monkeypatch.setattr(shards, "ChunkCachedEncoder",
                        lambda t: ChunkCachedEncoder(t, max_chunks=5000))
    prepare_corpus(inputs, tok, tmp_path / "cached", heldout_fraction=0.1, batch_sentences=2000)
    monkeypatch.setattr(shards, "ChunkCachedEncoder", WholeSentences)
    prepare_corpus(inputs, tok, tmp_path / "whole", heldout_fraction=0.1, batch_sentences=2000)
    cached, whole = folder_bytes(tmp_path / "cached"), folder_bytes(tmp_path / "whole")
    assert sorted(cached) == sorted(whole)
    assert "heldout/tokens.bin" in cached and len(cached["train/tokens.bin"]) > 300_000
    for name in whole:
        assert cached[name] == whole[name], name


def test_chunk_cache_is_exact_when_every_long_chunk_s_hash_collides(tok, monkeypatch):
    """All chunks of 8+ bytes given one key: the cache must still tell them apart by their bytes."""
    def colliding(sentences):
        chunks = chunks_of(sentences)
        chunks.keys[is_hashed(chunks.keys)] = np.uint64(0xFF << 56)
        return chunks

    monkeypatch.setattr(chunk_cache, "chunks_of", colliding)
    lines = SLICE.read_text(encoding="utf-8").splitlines()[:300] + TRICKY
    encoder = ChunkCachedEncoder(tok)
    for batch in (lines[:150], lines, lines[::-1]):  # new, then cached, chunks
        flat, lengths = encoder.encode(batch)
        assert as_lists(flat, lengths) == tok.encode_plain(batch)
