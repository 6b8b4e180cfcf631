"""engine/data/shards.py: prepare_corpus round trip, splits, formats, bounded memory, DataError."""

from __future__ import annotations

import gzip
import json
import lzma
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.data.corpus import DataError, iter_documents
from engine.data.shards import TokenizedCorpus, prepare_corpus, token_dtype
from engine.tokenizer import WordPieceTokenizer

REPO = Path(__file__).resolve().parents[1]

TEXT = """The quick brown fox jumps over the lazy dog.
Unbelievably, tokenization works!
\x07\x07

A second document, with café and naïve words.
It has [MASK] typed in it and [CLS] too.

\x07

Third document: 3.14159 is pi; 2,718 is not e.
"""


@pytest.fixture(scope="module")
def tok(vocab_file) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_file(vocab_file)


def docs_text(n: int, seed: int = 0, prefix: str = "doc") -> str:
    rng = np.random.default_rng(seed)
    words = ["alpha", "beta", "gamma", "delta", "river", "mountain", "music", "history", "science", "tokenization"]
    out = []
    for d in range(n):
        sents = [f"{prefix} {d} " + " ".join(rng.choice(words, rng.integers(2, 9))) + "."
                 for _ in range(rng.integers(1, 6))]
        out.append("\n".join(sents) + "\n\n")
    return "".join(out)


def expected_docs(tok, paths, split_sentences=False):
    """Direct tokenization: every non-empty sentence, every document with one.

    encode() reads a typed "[MASK]" as the mask token, prepared data reads it as text ("[ mask ]").
    """
    out = []
    for doc in iter_documents(paths, split_sentences=split_sentences):
        ids = [np.array(tok.encode(s.replace("[MASK]", "[ MASK ]")).ids[1:-1]) for s in doc]
        ids = [x for x in ids if len(x)]
        if ids:
            out.append(ids)
    return out


def corpus_docs(corpus: TokenizedCorpus):
    return [corpus.document(i) for i in range(corpus.num_documents)]


def assert_same_docs(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert len(g) == len(w)
        for a, b in zip(g, w):
            np.testing.assert_array_equal(a, b)


def test_round_trip_equals_direct_tokenization(tmp_path, tok):
    src = tmp_path / "c.txt"
    src.write_text(TEXT, encoding="utf-8")
    report = prepare_corpus([src], tok, tmp_path / "data", batch_sentences=2)  # batches split documents
    corpus = TokenizedCorpus(tmp_path / "data")
    want = expected_docs(tok, [src])
    assert_same_docs(corpus_docs(corpus), want)
    assert len(want) == 3 and [len(d) for d in want] == [2, 2, 1]
    assert report.documents == {"train": 3} and report.sentences == {"train": 5}
    assert report.tokens["train"] == corpus.num_tokens == sum(len(s) for d in want for s in d)
    assert report.dropped_sentences == 2 and report.dropped_documents == 1  # the "\x07" lines
    # a typed [MASK] / [CLS] in a corpus is text, never the special token
    assert not np.isin(np.asarray(corpus.tokens), [tok.mask_id, tok.cls_id, tok.sep_id, tok.pad_id]).any()
    assert corpus.tokenizer().get_vocab() == tok.get_vocab()
    meta = json.loads((tmp_path / "data" / "meta.json").read_text())
    assert meta["splits"]["train"] == {"documents": 3, "sentences": 5, "tokens": corpus.num_tokens}
    assert meta["sources"][0]["path"] == str(src.resolve())
    assert set(meta["tokenizer_sha256"]) == {"vocab.txt", "tokenizer.json"}
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["meta.json", "tokenizer", "train"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_on_disk_layout(tmp_path, tok):
    src = tmp_path / "c.txt"
    src.write_text(docs_text(20), encoding="utf-8")
    prepare_corpus([src], tok, tmp_path / "data")
    split = tmp_path / "data" / "train"
    tokens = np.fromfile(split / "tokens.bin", dtype="<u2")
    so, do = np.load(split / "sentence_offsets.npy"), np.load(split / "document_offsets.npy")
    assert so.dtype == do.dtype == np.int64 and so[0] == do[0] == 0
    assert so[-1] == len(tokens) and do[-1] == len(so) - 1 and len(do) == 21
    corpus = TokenizedCorpus(tmp_path / "data")
    first = corpus.document(0)
    np.testing.assert_array_equal(first[0], tokens[so[0]:so[1]])
    assert len(first) == do[1]


def test_dtype_follows_vocab_size():
    assert token_dtype(30522) == np.dtype("<u2")
    assert token_dtype(65535) == np.dtype("<u2")
    assert token_dtype(65536) == np.dtype("<u4")


def test_uint16_for_a_30k_vocab(tmp_path, tok):
    src = tmp_path / "c.txt"
    src.write_text(TEXT, encoding="utf-8")
    assert prepare_corpus([src], tok, tmp_path / "data").dtype == "uint16"
    corpus = TokenizedCorpus(tmp_path / "data")
    assert corpus.tokens.dtype == np.dtype("<u2") and corpus.vocab_size == 30522
    assert (tmp_path / "data" / "train" / "tokens.bin").stat().st_size == 2 * corpus.num_tokens


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".xz", lzma.open)])
def test_compressed_input_gives_the_same_data(tmp_path, tok, suffix, opener):
    text = docs_text(30)
    (tmp_path / "plain.txt").write_text(text, encoding="utf-8")
    with opener(tmp_path / f"packed.txt{suffix}", "wt", encoding="utf-8") as f:
        f.write(text)
    prepare_corpus([tmp_path / "plain.txt"], tok, tmp_path / "a")
    report = prepare_corpus([tmp_path / f"packed.txt{suffix}"], tok, tmp_path / "b")
    assert report.bytes_read == (tmp_path / f"packed.txt{suffix}").stat().st_size
    assert_same_docs(corpus_docs(TokenizedCorpus(tmp_path / "b")), corpus_docs(TokenizedCorpus(tmp_path / "a")))


def test_heldout_files_and_fraction(tmp_path, tok):
    (tmp_path / "train.txt").write_text(docs_text(400, seed=1, prefix="train"), encoding="utf-8")
    (tmp_path / "held.txt").write_text(docs_text(7, seed=2, prefix="held"), encoding="utf-8")
    report = prepare_corpus([tmp_path / "train.txt"], tok, tmp_path / "data",
                            heldout_inputs=[tmp_path / "held.txt"], heldout_fraction=0.2)
    train, held = TokenizedCorpus(tmp_path / "data", "train"), TokenizedCorpus(tmp_path / "data", "heldout")
    decode = lambda c: [" ".join(tok.convert_ids_to_tokens(np.concatenate(c.document(i))))
                        for i in range(c.num_documents)]
    train_docs, held_docs = decode(train), decode(held)
    assert report.documents == {"train": len(train_docs), "heldout": len(held_docs)}
    assert all(d.startswith("train") for d in train_docs)
    assert sum(d.startswith("held") for d in held_docs) == 7  # every document of the held-out file
    moved = [d for d in held_docs if d.startswith("train")]
    assert 0.15 < len(moved) / 400 < 0.25

    # The same documents in another order, among other documents: the same ones are held out.
    blocks = docs_text(400, seed=1, prefix="train").split("\n\n")[:-1]
    (tmp_path / "shuffled.txt").write_text("\n\n".join(blocks[::-1] + [docs_text(50, seed=9, prefix="other")]),
                                           encoding="utf-8")
    prepare_corpus([tmp_path / "shuffled.txt"], tok, tmp_path / "data2", heldout_fraction=0.2)
    held2 = [d for d in decode(TokenizedCorpus(tmp_path / "data2", "heldout")) if d.startswith("train")]
    assert sorted(held2) == sorted(moved)


def test_a_file_named_as_input_and_heldout_is_heldout_only(tmp_path, tok):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(docs_text(5, prefix="aaa"), encoding="utf-8")
    (folder / "b.txt").write_text(docs_text(3, seed=3, prefix="bbb"), encoding="utf-8")
    report = prepare_corpus([folder], tok, tmp_path / "data", heldout_inputs=[folder / "b.txt"])
    assert report.documents == {"train": 5, "heldout": 3}
    meta = json.loads((tmp_path / "data" / "meta.json").read_text())
    assert [(Path(s["path"]).name, s["split"]) for s in meta["sources"]] == [("a.txt", "train"), ("b.txt", "heldout")]


def test_split_sentences_mode(tmp_path, tok):
    raw = ("Mr. Smith went to Washington. He liked\nit there. Did he stay?\n\n"
           "Another paragraph. Short one.\n")
    (tmp_path / "raw.txt").write_text(raw, encoding="utf-8")
    prepare_corpus([tmp_path / "raw.txt"], tok, tmp_path / "data", split_sentences=True)
    corpus = TokenizedCorpus(tmp_path / "data")
    assert [len(d) for d in corpus_docs(corpus)] == [3, 2]
    assert_same_docs(corpus_docs(corpus), expected_docs(tok, [tmp_path / "raw.txt"], split_sentences=True))
    assert tok.convert_ids_to_tokens(corpus.document(0)[1]) == ["he", "liked", "it", "there", "."]


def test_progress_reports_bytes_and_time(tmp_path, tok):
    (tmp_path / "c.txt").write_text(docs_text(200), encoding="utf-8")
    calls = []
    prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data", batch_sentences=50,
                   progress=lambda b, s: calls.append((b, s)))
    assert len(calls) > 3
    assert [b for b, _ in calls] == sorted(b for b, _ in calls)
    assert calls[-1][0] == (tmp_path / "c.txt").stat().st_size and calls[-1][1] > 0


def test_existing_output_needs_overwrite(tmp_path, tok):
    (tmp_path / "c.txt").write_text(docs_text(5), encoding="utf-8")
    prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data")
    with pytest.raises(DataError, match="already exists"):
        prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data")
    (tmp_path / "c.txt").write_text(docs_text(8), encoding="utf-8")
    prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data", overwrite=True)
    assert TokenizedCorpus(tmp_path / "data").num_documents == 8


def test_a_failure_leaves_no_data_folder(tmp_path, tok, monkeypatch):
    (tmp_path / "c.txt").write_text(docs_text(100), encoding="utf-8")
    calls = []

    def failing(texts):
        calls.append(len(texts))
        if len(calls) == 3:
            raise RuntimeError("disk on fire")
        return WordPieceTokenizer.encode_plain(tok, texts)

    monkeypatch.setattr(tok, "encode_plain", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data", batch_sentences=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_no_documents_is_an_error(tmp_path, tok):
    (tmp_path / "c.txt").write_text("\n\n\x07\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="c.txt"):
        prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data")
    assert not (tmp_path / "data").exists()


# ----- bad data folders -----

@pytest.fixture
def data_dir(tmp_path, tok) -> Path:
    (tmp_path / "c.txt").write_text(docs_text(20), encoding="utf-8")
    prepare_corpus([tmp_path / "c.txt"], tok, tmp_path / "data")
    return tmp_path / "data"


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "nowhere")):
        TokenizedCorpus(tmp_path / "nowhere")


def test_folder_without_meta(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="meta.json"):
        TokenizedCorpus(tmp_path / "empty")


def test_unknown_split(data_dir):
    with pytest.raises(DataError, match="heldout"):
        TokenizedCorpus(data_dir, "heldout")


@pytest.mark.parametrize("damage, where", [
    (lambda d: (d / "meta.json").write_text("{not json"), "meta.json"),
    (lambda d: (d / "meta.json").write_text(json.dumps({"format": "other"})), "meta.json"),
    (lambda d: (d / "train" / "tokens.bin").write_bytes((d / "train" / "tokens.bin").read_bytes()[:-2]),
     "tokens.bin"),
    (lambda d: (d / "train" / "tokens.bin").unlink(), "tokens.bin"),
    (lambda d: (d / "train" / "sentence_offsets.npy").write_bytes(b"garbage"), "sentence_offsets.npy"),
    (lambda d: np.save(d / "train" / "document_offsets.npy", np.load(d / "train" / "document_offsets.npy")[::-1]),
     "document_offsets.npy"),
    (lambda d: np.save(d / "train" / "sentence_offsets.npy",
                       np.load(d / "train" / "sentence_offsets.npy").astype(np.int32)), "sentence_offsets.npy"),
    (lambda d: (d / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"), "vocab.txt"),
])
def test_corrupt_folder_raises_data_error_naming_the_file(data_dir, damage, where):
    damage(data_dir)
    with pytest.raises(DataError) as err:
        TokenizedCorpus(data_dir)
    assert str(data_dir) in str(err.value) and where in str(err.value)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_verify_catches_ids_outside_the_vocab(data_dir):
    TokenizedCorpus(data_dir).verify()
    path = data_dir / "train" / "tokens.bin"
    ids = np.fromfile(path, "<u2")
    ids[3] = 65000
    ids.tofile(path)
    with pytest.raises(DataError, match="tokens.bin"):
        TokenizedCorpus(data_dir).verify()


# ----- memory -----

MEMORY_SCRIPT = textwrap.dedent("""
    import json, sys
    from engine.tokenizer import WordPieceTokenizer
    from engine.data.shards import prepare_corpus

    def hwm_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    vocab, src, out = sys.argv[1:4]
    tok = WordPieceTokenizer.from_file(vocab)
    tok.encode_plain(["warm up the rust thread pool"] * 1000)
    before = hwm_kb()
    report = prepare_corpus([src], tok, out, batch_sentences=1000)
    print(json.dumps({"before_kb": before, "after_kb": hwm_kb(), "tokens": report.tokens["train"]}))
""")


@pytest.mark.slow
def test_prepare_memory_is_bounded_by_the_batch_not_the_corpus(tmp_path, vocab_file):
    rng = np.random.default_rng(0)
    words = np.array(["mountains", "photosynthesis", "tokenization", "unbelievable", "international",
                      "development", "university", "television", "government", "population", "the"])
    src = tmp_path / "big.txt"
    with open(src, "w", encoding="utf-8") as f:
        while f.tell() < 24_000_000:
            idx = rng.integers(0, len(words), (20_000, 12))
            lines = [" ".join(row) + (".\n\n" if i % 10 == 9 else ".\n") for i, row in enumerate(words[idx])]
            f.write("".join(lines))
    size = src.stat().st_size
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(vocab_file), str(src), str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=REPO, check=True)
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    growth = (stats["after_kb"] - stats["before_kb"]) * 1024
    assert stats["tokens"] > 2_000_000
    # Holding the corpus as Python strings or id lists would cost several times its size;
    # streaming batches of 1,000 sentences costs a few MB.
    assert growth < 15e6 < size / 1.5, f"peak memory grew by {growth / 1e6:.1f} MB for a {size / 1e6:.0f} MB corpus"


def test_a_heldout_only_folder_for_evaluation(tmp_path, tok):
    (tmp_path / "held.txt").write_text(docs_text(6, seed=2, prefix="held"), encoding="utf-8")
    report = prepare_corpus([], tok, tmp_path / "data", heldout_inputs=[tmp_path / "held.txt"])
    assert report.documents == {"train": 0, "heldout": 6}
    held = TokenizedCorpus(tmp_path / "data", "heldout")
    assert held.num_documents == 6
    with pytest.raises(DataError, match="no training files"):
        prepare_corpus([], tok, tmp_path / "data2")
