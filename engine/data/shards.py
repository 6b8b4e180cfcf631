"""Tokenized corpus on disk: `prepare_corpus` (the `bert-engine prepare` backend) and `TokenizedCorpus`.

Layout of a data folder:

    out_dir/meta.json                      format, version, dtype, vocab size, special ids, counts, sources
    out_dir/tokenizer/vocab.txt, tokenizer.json   the tokenizer that made the ids (self-describing)
    out_dir/<split>/tokens.bin             every token id, little-endian uint16 (vocab <= 65535) or uint32
    out_dir/<split>/sentence_offsets.npy   int64 [n_sentences + 1]: sentence s = tokens[so[s]:so[s+1]]
    out_dir/<split>/document_offsets.npy   int64 [n_documents + 1]: document d = sentences do[d]..do[d+1]-1

Splits are "train" and, when asked for, "heldout". Every sentence has >= 1 token and every
document >= 1 sentence. Preparation streams (memory is bounded by one batch of sentences plus one
document), writes into a staged folder beside `out_dir` (`engine.atomic.staged_folder`) that
replaces it at the end, so an interrupted run never leaves a half data folder.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.atomic import staged_folder
from engine.data.chunk_cache import ChunkCachedEncoder
from engine.data.corpus import MAX_DOCUMENT_LINES, DataError, expand_paths, iter_file_documents
from engine.tokenizer import WordPieceTokenizer

__all__ = ["DataError", "PrepareReport", "TokenizedCorpus", "prepare_corpus", "FORMAT", "FORMAT_VERSION"]

FORMAT = "bert-explorer-tokens"
FORMAT_VERSION = 1
SPLITS = ("train", "heldout")
_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json")
_CHECK_CHUNK = 1 << 22  # offsets are validated in chunks of this many entries (bounded memory)


@dataclass
class PrepareReport:
    out_dir: str
    dtype: str
    vocab_size: int
    documents: dict[str, int]  # per split
    sentences: dict[str, int]
    tokens: dict[str, int]
    bytes_read: int  # on-disk (possibly compressed) bytes of the input files
    seconds: float
    files: int
    dropped_sentences: int = 0  # sentences with no tokens after normalization
    dropped_documents: int = 0  # documents left without sentences
    splits: list[str] = field(default_factory=list)

    @property
    def mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "mb_per_s": round(self.mb_per_s, 3)}


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 65535 else np.dtype("<u4")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def heldout_by_hash(sentences: list[str], fraction: float) -> bool:
    """Same text -> same split, wherever and however often the document appears."""
    digest = hashlib.blake2b("\n".join(sentences).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") < fraction * 2.0 ** 64


class _SplitWriter:
    """Appends documents to one split folder; offsets stream to raw files, converted to .npy at the end."""

    def __init__(self, folder: Path, dtype: np.dtype):
        folder.mkdir(parents=True)
        self.folder, self.dtype = folder, dtype
        self._tokens = open(folder / "tokens.bin", "wb")
        self._sent = open(folder / ".sentence_offsets.raw", "wb")
        self._docs = open(folder / ".document_offsets.raw", "wb")
        self._sent.write(np.zeros(1, "<i8").tobytes())
        self._docs.write(np.zeros(1, "<i8").tobytes())
        self.tokens = self.sentences = self.documents = 0

    def write(self, ids: np.ndarray, sentence_lengths: np.ndarray, document_sizes: np.ndarray) -> None:
        """ids: the tokens of whole documents; sentence_lengths (> 0); document_sizes: sentences per document (> 0)."""
        self._tokens.write(np.ascontiguousarray(ids, self.dtype))  # file.write takes the buffer
        self._sent.write((self.tokens + np.cumsum(sentence_lengths, dtype=np.int64)).astype("<i8").tobytes())
        self._docs.write((self.sentences + np.cumsum(document_sizes, dtype=np.int64)).astype("<i8").tobytes())
        self.tokens += int(ids.size)
        self.sentences += int(sentence_lengths.size)
        self.documents += int(document_sizes.size)

    def close(self) -> None:
        for f in (self._tokens, self._sent, self._docs):
            f.close()  # fsynced with the whole staged folder
        for name, count in (("sentence_offsets", self.sentences + 1), ("document_offsets", self.documents + 1)):
            raw = self.folder / f".{name}.raw"
            with open(self.folder / f"{name}.npy", "wb") as out, open(raw, "rb") as src:
                np.lib.format.write_array_header_1_0(
                    out, {"descr": "<i8", "fortran_order": False, "shape": (count,)})
                shutil.copyfileobj(src, out, 1 << 20)
            raw.unlink()

    def abort(self) -> None:
        for f in (self._tokens, self._sent, self._docs):
            f.close()

    def counts(self) -> dict[str, int]:
        return {"documents": self.documents, "sentences": self.sentences, "tokens": self.tokens}


@contextmanager
def _split_writers(folder: Path, names: Sequence[str], dtype: np.dtype) -> Iterator[dict[str, _SplitWriter]]:
    """One writer per split under ``folder``; on an error all are closed (before the folder goes)."""
    writers: dict[str, _SplitWriter] = {}
    try:
        for name in names:
            writers[name] = _SplitWriter(folder / name, dtype)
        yield writers
    except BaseException:
        for w in writers.values():
            w.abort()
        raise


class _Batcher:
    """Collects documents with their split; tokenizes a full batch of sentences at once and writes it.

    Synchronous on purpose: the Rust batch encoder (for chunks new to the cache) already uses
    every core, and a reader thread
    beside it (tried) oversubscribes the CPU and was slower on small machines.
    """

    def __init__(self, tokenizer: WordPieceTokenizer, writers: dict[str, _SplitWriter], batch_sentences: int):
        self.encoder, self.writers, self.limit = ChunkCachedEncoder(tokenizer), writers, batch_sentences
        self.names = list(writers)
        self.dtype = next(iter(writers.values())).dtype
        self.docs: list[list[str]] = []
        self.splits: list[int] = []  # index into `names`
        self.pending = 0
        self.dropped_sentences = self.dropped_documents = 0

    def add(self, sentences: list[str], split: str) -> bool:
        """Queue one document; True when this completed (and wrote) a batch."""
        self.docs.append(sentences)
        self.splits.append(self.names.index(split))
        self.pending += len(sentences)
        if self.pending < self.limit:
            return False
        self.flush()
        return True

    def flush(self) -> None:
        if self.docs:
            self._write(self.docs, self.splits)
        self.docs, self.splits, self.pending = [], [], 0

    def _write(self, docs: list[list[str]], splits: list[int]) -> None:
        flat, lengths = self.encoder.encode(list(itertools.chain.from_iterable(docs)))
        doc_sizes = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        doc_of_sentence = np.repeat(np.arange(len(docs)), doc_sizes)
        split_of_doc = np.asarray(splits)
        nonempty = lengths > 0
        self.dropped_sentences += int((~nonempty).sum())
        kept_per_doc = np.bincount(doc_of_sentence[nonempty], minlength=len(docs))
        self.dropped_documents += int((kept_per_doc == 0).sum())
        for s, name in enumerate(self.names):
            sent_mask = nonempty & (split_of_doc[doc_of_sentence] == s)
            doc_mask = (kept_per_doc > 0) & (split_of_doc == s)
            if doc_mask.any():  # a batch kept whole (the usual case) needs no per-token copy
                ids = flat if sent_mask.all() else flat[np.repeat(sent_mask, lengths)]
                self.writers[name].write(ids, lengths[sent_mask], kept_per_doc[doc_mask])


def prepare_corpus(inputs: Sequence[str | os.PathLike], tokenizer: WordPieceTokenizer, out_dir: str | os.PathLike,
                   heldout_inputs: Sequence[str | os.PathLike] = (), heldout_fraction: float = 0.0,
                   split_sentences: bool = False, batch_sentences: int = 10_000,
                   progress: Callable[[int, float], None] | None = None, overwrite: bool = False,
                   max_document_sentences: int = MAX_DOCUMENT_LINES) -> PrepareReport:
    """Tokenize text files into a data folder (layout in the module docstring); returns counts and speed.

    inputs / heldout_inputs: files or folders (folders: every *.txt* file below, sorted); .gz/.xz/.bz2
    are read transparently. No inputs but some heldout_inputs: a held-out-only folder (an empty
    train split), for evaluation. A file named in both goes to heldout only. With heldout_fraction > 0,
    a further share of the input documents goes to heldout, chosen by a hash of the document text.
    progress(bytes_read, seconds) is called after every batch; bytes are on-disk input bytes.
    An existing out_dir is an error unless overwrite=True (then it is replaced at the very end).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
    if batch_sentences < 1:
        raise ValueError(f"batch_sentences must be >= 1, got {batch_sentences}")
    if out_dir.exists() and not overwrite:
        raise DataError(f"{out_dir}: already exists (pass overwrite=True to replace it)")
    held_files = expand_paths(heldout_inputs)
    held_set = {p.resolve() for p in held_files}
    train_files = [p for p in expand_paths(inputs) if p.resolve() not in held_set]
    if not train_files and (inputs or not held_files):
        raise DataError(f"{', '.join(map(str, inputs)) or 'inputs'}: no training files (all are held out?)")
    jobs = [(p, "train") for p in train_files] + [(p, "heldout") for p in held_files]
    sizes = [p.stat().st_size for p, _ in jobs]
    want_heldout = bool(held_files) or heldout_fraction > 0

    vocab_size = tokenizer.vocab_size
    dtype = token_dtype(vocab_size)
    splits = SPLITS if want_heldout else SPLITS[:1]
    # overwrite=True: the staged folder replaces the old one at the very end
    with staged_folder(out_dir) as tmp, _split_writers(tmp, splits, dtype) as writers:
        batcher = _Batcher(tokenizer, writers, batch_sentences)
        done_bytes = 0
        for (path, split), size in zip(jobs, sizes):
            raw: list = []  # receives the open on-disk file: raw[0].tell() = bytes read
            for doc in iter_file_documents(path, split_sentences, max_document_sentences, raw):
                if split == "train" and heldout_fraction > 0 and heldout_by_hash(doc, heldout_fraction):
                    split_of_doc = "heldout"
                else:
                    split_of_doc = split
                if batcher.add(doc, split_of_doc) and progress is not None:
                    progress(done_bytes + raw[0].tell(), time.perf_counter() - start)
            done_bytes += size
        batcher.flush()
        for w in writers.values():
            w.close()
        counts = {name: w.counts() for name, w in writers.items()}
        if train_files and counts["train"]["documents"] == 0:
            raise DataError(f"{', '.join(map(str, train_files))}: no documents with any tokens")

        tokenizer.save(tmp / "tokenizer")
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dtype": dtype.name,
            "vocab_size": vocab_size,
            "lowercase": tokenizer.lowercase,
            "special_ids": {"pad": tokenizer.pad_id, "unk": tokenizer.unk_id, "cls": tokenizer.cls_id,
                            "sep": tokenizer.sep_id, "mask": tokenizer.mask_id},
            "tokenizer_sha256": {f: _sha256(tmp / "tokenizer" / f) for f in _TOKENIZER_FILES},
            "splits": counts,
            "sources": [{"path": str(p.resolve()), "bytes": s, "split": sp} for (p, sp), s in zip(jobs, sizes)],
            "heldout_fraction": heldout_fraction,
            "split_sentences": split_sentences,
            "dropped_sentences": batcher.dropped_sentences,
            "dropped_documents": batcher.dropped_documents,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")

    seconds = time.perf_counter() - start
    if progress is not None:
        progress(sum(sizes), seconds)
    return PrepareReport(
        out_dir=str(out_dir), dtype=dtype.name, vocab_size=vocab_size,
        documents={k: c["documents"] for k, c in counts.items()},
        sentences={k: c["sentences"] for k, c in counts.items()},
        tokens={k: c["tokens"] for k, c in counts.items()},
        bytes_read=sum(sizes), seconds=seconds, files=len(jobs),
        dropped_sentences=batcher.dropped_sentences, dropped_documents=batcher.dropped_documents,
        splits=list(counts))


# ----- reading -----

def read_meta(path: str | os.PathLike) -> dict:
    """meta.json of a data folder, checked for format and version."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not path.is_dir():
        raise DataError(f"{path}: no such data folder")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not a prepared data folder (no meta.json)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{meta_path}: unreadable ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{meta_path}: not a {FORMAT} data folder")
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(f"{meta_path}: format version {meta.get('format_version')!r}, "
                        f"this program reads version {FORMAT_VERSION}")
    try:
        np.dtype(meta["dtype"])
        int(meta["vocab_size"])
        dict(meta["splits"])
        [int(meta["special_ids"][k]) for k in ("pad", "unk", "cls", "sep", "mask")]
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"{meta_path}: malformed ({type(e).__name__}: {e})") from None
    return meta


def _load_offsets(path: Path, count: int, last: int) -> np.ndarray:
    """An int64 [count] offsets array starting at 0, ending at `last`, strictly increasing."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: corrupt ({e})") from None
    if arr.dtype != np.dtype("<i8") or arr.shape != (count,):
        raise DataError(f"{path}: expected int64 [{count}], found {arr.dtype} {list(arr.shape)}")
    if arr[0] != 0 or arr[-1] != last:
        raise DataError(f"{path}: offsets run {int(arr[0])}..{int(arr[-1])}, expected 0..{last}")
    for lo in range(0, count - 1, _CHECK_CHUNK):
        chunk = np.asarray(arr[lo:lo + _CHECK_CHUNK + 1])
        if not (np.diff(chunk) > 0).all():
            raise DataError(f"{path}: offsets are not strictly increasing")
    return arr


class TokenizedCorpus:
    """One split of a prepared data folder, memory-mapped (nothing is read until used)."""

    def __init__(self, path: str | os.PathLike, split: str = "train", check_tokenizer: bool = True):
        self.path = Path(path)
        self.split = split
        self.meta = meta = read_meta(self.path)
        if split not in meta["splits"]:
            raise DataError(f"{self.path}: no split {split!r} (has {', '.join(meta['splits'])})")
        folder = self.path / split
        try:
            counts = {k: int(meta["splits"][split][k]) for k in ("documents", "sentences", "tokens")}
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{self.path / 'meta.json'}: malformed counts for split {split!r}") from None
        self.dtype = np.dtype(meta["dtype"]).newbyteorder("<")
        self.vocab_size = int(meta["vocab_size"])
        if token_dtype(self.vocab_size) != self.dtype:
            raise DataError(f"{self.path / 'meta.json'}: dtype {self.dtype.name} does not match "
                            f"vocab size {self.vocab_size}")
        tokens_path = folder / "tokens.bin"
        if not tokens_path.is_file():
            raise DataError(f"{tokens_path}: missing")
        expected = counts["tokens"] * self.dtype.itemsize
        if tokens_path.stat().st_size != expected:
            raise DataError(f"{tokens_path}: {tokens_path.stat().st_size} bytes, meta.json says "
                            f"{counts['tokens']} tokens = {expected} bytes (truncated or stale?)")
        self.tokens = (np.memmap(tokens_path, dtype=self.dtype, mode="r") if counts["tokens"]
                       else np.zeros(0, self.dtype))
        self.sentence_offsets = _load_offsets(folder / "sentence_offsets.npy", counts["sentences"] + 1,
                                              counts["tokens"])
        self.document_offsets = _load_offsets(folder / "document_offsets.npy", counts["documents"] + 1,
                                              counts["sentences"])
        ids = meta["special_ids"]
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            int(ids[k]) for k in ("pad", "unk", "cls", "sep", "mask"))
        if check_tokenizer:
            tok_dir = self.path / "tokenizer"
            for name, digest in dict(meta.get("tokenizer_sha256") or {}).items():
                if not (tok_dir / name).is_file():
                    raise DataError(f"{tok_dir / name}: missing")
                if _sha256(tok_dir / name) != digest:
                    raise DataError(f"{tok_dir / name}: does not match the tokenizer the data was made "
                                    f"with (sha256 differs from meta.json)")

    @property
    def num_documents(self) -> int:
        return len(self.document_offsets) - 1

    @property
    def num_sentences(self) -> int:
        return len(self.sentence_offsets) - 1

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    @property
    def special_ids(self) -> tuple[int, ...]:
        return self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id

    def document(self, i: int) -> list[np.ndarray]:
        """The sentences of document i as token-id arrays (read-only views into the memmap)."""
        if not -self.num_documents <= i < self.num_documents:
            raise IndexError(f"document {i} out of range (0..{self.num_documents - 1})")
        i %= self.num_documents
        s0, s1 = int(self.document_offsets[i]), int(self.document_offsets[i + 1])
        offs = self.sentence_offsets[s0:s1 + 1].tolist()
        return [self.tokens[a:b] for a, b in zip(offs[:-1], offs[1:])]

    def __len__(self) -> int:
        return self.num_documents

    def tokenizer(self) -> WordPieceTokenizer:
        return WordPieceTokenizer.from_file(self.path / "tokenizer" / "tokenizer.json")

    def verify(self) -> None:
        """Full scan (seconds per GB): every token id is inside the vocabulary."""
        for lo in range(0, self.num_tokens, _CHECK_CHUNK):
            top = int(np.asarray(self.tokens[lo:lo + _CHECK_CHUNK]).max())
            if top >= self.vocab_size:
                raise DataError(f"{self.path / self.split / 'tokens.bin'}: token id {top} near position "
                                f"{lo} is outside the vocabulary of {self.vocab_size}")

    def __repr__(self) -> str:
        return (f"TokenizedCorpus({str(self.path)!r}, split={self.split!r}: {self.num_documents} documents, "
                f"{self.num_sentences} sentences, {self.num_tokens} tokens)")
