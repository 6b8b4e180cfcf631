"""The corpus index on disk (format version 1): a run folder (``engine.runlog``) that also holds
the shards the job wrote and, once it has finished, ``index.json``. No torch.

::

    IDX/config.json, status.json, metrics.jsonl, log.txt   the job, as a training run's
    IDX/shards/shard-NNNNN/                                 one per finished shard, whole or absent
        meta.json       first and end sentence number, token count
        sentences.bin   the shard's sentences, UTF-8, one after another
        tokens.npz      sentence_offsets int64 [S+1] (bytes into sentences.bin); per token:
                        token_id int32, sentence int32 (corpus-wide), position int16 (in the
                        sentence's tokens, [CLS] = 0), word_start, word_end int32 (characters)
        hidden-L.npy    float16 [n, H] layer L's output at each token, each row of norm 1
        context-L.npy   float16 [n, H] layer L's per-head contexts, each head's D slice of norm 1
    IDX/compressed/KIND-L.faiss                             IVF-PQ of each layer's vectors
    IDX/index.json                                          written last: the index is complete

Only non-special tokens are stored. ``index.json`` and ``config.json`` carry the model's
fingerprint (weights and vocabulary hashes); an index is used only with that model.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import atomic
from engine.results_corpus import CorpusIndexError

FORMAT = "bert-explorer corpus index"
FORMAT_VERSION = 1
MANIFEST_NAME = "index.json"
SHARDS_NAME = "shards"
COMPRESSED_NAME = "compressed"
KINDS = ("hidden", "context")  # what a vector file holds; search's --by embedding is "hidden"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


# ----- the model's fingerprint -----

def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(model_dir: str | os.PathLike, name: str, vocab: dict[str, int],
                      lowercase: bool, layers: int, heads: int, hidden: int) -> dict:
    """What identifies the model whose vectors an index holds: its weights file's hash and its
    vocabulary's (the tokens in id order), with sizes for the messages."""
    folder = Path(model_dir)
    weights = next((folder / n for n in WEIGHT_FILES if (folder / n).is_file()), None)
    tokens = "\n".join(sorted(vocab, key=vocab.get)).encode("utf-8")
    return {"name": name, "path": str(folder.resolve()),
            "weights_sha256": _sha256_file(weights) if weights else None,
            "vocab_sha256": hashlib.sha256(tokens).hexdigest(), "vocab_size": len(vocab),
            "lowercase": lowercase, "layers": layers, "heads": heads, "hidden": hidden}


def fingerprint_problem(index_path: Path, built: dict, given: dict) -> str | None:
    """Why an index built with ``built`` cannot be searched with the model ``given``; None when
    it can."""
    if built.get("vocab_sha256") != given.get("vocab_sha256"):
        return (f"{index_path} was built with another vocabulary ({built.get('vocab_size')} "
                f"tokens, sha256 {str(built.get('vocab_sha256'))[:12]}, model "
                f"{built.get('name')}) than {given['name']} ({given['vocab_size']} tokens, "
                f"sha256 {given['vocab_sha256'][:12]}): its token ids are other words there")
    if built.get("weights_sha256") != given.get("weights_sha256"):
        return (f"{index_path} was built by another model ({built.get('name')}, weights sha256 "
                f"{str(built.get('weights_sha256'))[:12]}) than {given['name']} (weights "
                f"sha256 {str(given.get('weights_sha256'))[:12]}): its vectors are not this "
                "model's; index the corpus again with this model")
    return None


# ----- shards -----

@dataclass
class ShardData:
    """One shard's sentences and tokens, and its vectors by file stem ("hidden-5")."""

    first_sentence: int
    sentences: list[str]
    token_id: np.ndarray    # [n] int32
    sentence: np.ndarray    # [n] int32, corpus-wide sentence numbers
    position: np.ndarray    # [n] int16
    word_start: np.ndarray  # [n] int32
    word_end: np.ndarray    # [n] int32
    vectors: dict[str, np.ndarray]  # stem -> [n, H] float16

    @property
    def tokens(self) -> int:
        return len(self.token_id)


def shard_name(number: int) -> str:
    return f"shard-{number:05d}"


def write_shard(index_dir: Path, number: int, data: ShardData) -> None:
    """Write shard ``number`` whole (a staged folder renamed into place) or not at all."""
    encoded = [s.encode("utf-8") for s in data.sentences]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in encoded])
    with atomic.staged_folder(index_dir / SHARDS_NAME / shard_name(number)) as folder:
        (folder / "sentences.bin").write_bytes(b"".join(encoded))
        np.savez(folder / "tokens.npz", sentence_offsets=offsets, token_id=data.token_id,
                 sentence=data.sentence, position=data.position, word_start=data.word_start,
                 word_end=data.word_end)
        for stem, vectors in data.vectors.items():
            np.save(folder / f"{stem}.npy", vectors)
        atomic.write_json(folder / "meta.json", {
            "first_sentence": data.first_sentence,
            "end_sentence": data.first_sentence + len(data.sentences), "tokens": data.tokens})


def finished_shards(index_dir: Path) -> list[dict]:
    """The meta.json of every finished shard, in order; a gap (a shard missing before another)
    is refused, since sentences would be skipped."""
    folder = index_dir / SHARDS_NAME
    names = sorted(p.name for p in folder.glob("shard-*") if p.is_dir()) if folder.is_dir() else []
    metas = []
    for number, name in enumerate(names):
        if name != shard_name(number):
            raise CorpusIndexError(f"{folder}: {shard_name(number)} is missing before {name}")
        metas.append({"name": name, **json.loads((folder / name / "meta.json").read_text())})
    return metas


class Shard:
    """A finished shard, read lazily: vectors memory-mapped, sentences decoded on demand."""

    def __init__(self, folder: Path):
        self.folder = folder
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.first_sentence = int(meta["first_sentence"])
        self.tokens = int(meta["tokens"])
        with np.load(folder / "tokens.npz") as npz:
            self.columns = {k: npz[k] for k in npz.files}
        self._text: bytes | None = None

    def vectors(self, stem: str) -> np.ndarray:
        return np.load(self.folder / f"{stem}.npy", mmap_mode="r")  # [n, H] float16

    def sentence_text(self, sentence: int) -> str:
        if self._text is None:
            self._text = (self.folder / "sentences.bin").read_bytes()
        offsets = self.columns["sentence_offsets"]
        local = sentence - self.first_sentence
        return self._text[offsets[local]:offsets[local + 1]].decode("utf-8")


# ----- the manifest -----

def write_manifest(index_dir: Path, manifest: dict) -> None:
    atomic.write_json(index_dir / MANIFEST_NAME,
                      {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest})


def read_manifest(index_dir: Path) -> dict:
    """index.json, checked; CorpusIndexError saying what the folder is when it is not a
    finished index of this format."""
    path = index_dir / MANIFEST_NAME
    if not path.is_file():
        if (index_dir / "config.json").is_file():
            raise CorpusIndexError(f"{index_dir}: the index is not finished: resume it with "
                                   f"`bert-engine index --resume {index_dir}`")
        raise CorpusIndexError(f"{index_dir}: not a corpus index (no {MANIFEST_NAME})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise CorpusIndexError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorpusIndexError(f"{path}: not a corpus index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorpusIndexError(f"{path}: format version {manifest.get('format_version')}, this "
                               f"bert-engine reads version {FORMAT_VERSION}: index the corpus "
                               "again")
    return manifest
