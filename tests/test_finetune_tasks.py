"""scripts/build_finetune_tasks.py: the `source` and `same_book` tasks made from the shipped corpus.

The built files are checked against the corpus read here on its own (the xz files, heldout.json's
ranges and hash rule, books.json checked against known chapter counts and SOURCES.md), not against
the builder's bookkeeping: every sentence is looked up by its text in every document.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import build_finetune_tasks  # noqa: E402
from engine.data.shards import heldout_by_hash  # noqa: E402
from finetune_tasks.corpus import TaskDataError  # noqa: E402

CORPUS = ROOT / "resources" / "corpus"
SPLITS = ("train", "dev", "test")
LABEL_OF_GROUP = {"persuasion": "fiction", "kjv-acts": "kjv", "acts": "web", "jargon": "jargon"}
GROUP_OF_LABEL = {"fiction": "fiction", "kjv": "bible", "web": "bible", "jargon": "jargon"}


class Index:
    """Every document of the corpus: its held-out group (None: seen in pretraining), its book and
    source label; and where each sentence text occurs."""

    def __init__(self):
        heldout = json.loads((CORPUS / "heldout.json").read_text(encoding="utf-8"))["files"]
        self.books = json.loads((CORPUS / "books.json").read_text(encoding="utf-8"))["books"]
        self.docs: dict[tuple[str, int], dict] = {}
        self.where: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for file in ("gutenberg.txt.xz", "web_bible.txt.xz", "jargon.txt.xz"):
            with lzma.open(CORPUS / file, "rt", encoding="utf-8") as f:
                docs = [d for d in f.read().strip("\n").split("\n\n") if d]
            rules = heldout[file]
            for i, doc in enumerate(docs):
                sents = doc.split("\n")
                group = None
                for entry in rules.get("heldout", []) + rules.get("excluded", []):
                    first, end = entry["documents"]
                    if first <= i < end:
                        group = entry["name"]
                if group is None and "heldout_fraction" in rules and heldout_by_hash(
                        sents, rules["heldout_fraction"]["fraction"]):
                    group = rules["heldout_fraction"]["name"]
                if file == "gutenberg.txt.xz":
                    book = next(b for b in self.books if b["documents"][0] <= i < b["documents"][1])
                    name, label = book["name"], book["label"]
                else:
                    name = label = "web" if file == "web_bible.txt.xz" else "jargon"
                self.docs[(file, i)] = {"group": group, "book": name, "label": label}
                for s in sents:
                    self.where[s].append((file, i))

    def occurrences(self, text: str) -> list[dict]:
        places = self.where.get(text)
        assert places, f"sentence not in the corpus: {text!r}"
        return [dict(self.docs[p], file=p[0], doc=p[1]) for p in places]

    def heldout_only(self, text: str) -> bool:
        return all(o["group"] is not None for o in self.occurrences(text))

    def seen_only(self, text: str) -> bool:
        return all(o["group"] is None for o in self.occurrences(text))

    def book(self, text: str) -> str:
        books = {o["book"] for o in self.occurrences(text)}
        assert len(books) == 1, f"{text!r} occurs in {books}"
        return books.pop()


@pytest.fixture(scope="module")
def index() -> Index:
    return Index()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tasks")
    build_finetune_tasks.build(out, seed=0)
    return out


def _rows(out: Path, task: str, split: str) -> list[dict]:
    lines = (out / task / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _texts(row: dict) -> list[str]:
    return [row["text"]] if "text" in row else [row["text_a"], row["text_b"]]


# -- books.json -------------------------------------------------------------------------------------

def test_books_table_matches_the_corpus_and_sources_md(index):
    names = [b["name"] for b in index.books]
    # the rows of SOURCES.md's book table: | `file` | work | author | year | ebook |
    table = re.findall(r"^\| `([a-z_-]+)\.txt` \|[^|\n]*\|[^|\n]*\| \d{4} \|",
                       (CORPUS / "SOURCES.md").read_text(encoding="utf-8"), re.M)
    assert names == table and len(names) == 18
    ranges = [b["documents"] for b in index.books]
    assert ranges[0][0] == 0 and all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    assert ranges[-1][1] == max(i for f, i in index.docs if f == "gutenberg.txt.xz") + 1
    count = {b["name"]: b["documents"][1] - b["documents"][0] for b in index.books}
    # chapter counts known from the books themselves
    assert (count["austen-emma"], count["austen-persuasion"], count["austen-sense"]) == (55, 24, 50)
    assert count["bible-kjv"] == 1189 and count["carroll-alice"] == 12 and count["chesterton-ball"] == 20
    assert count["chesterton-brown"] == 12 and count["milton-paradise"] == 12
    assert count["melville-moby_dick"] == 139      # 135 chapters, etymology, 2 extracts, epilogue
    heldout = json.loads((CORPUS / "heldout.json").read_text(encoding="utf-8"))["files"]["gutenberg.txt.xz"]
    persuasion = next(b for b in index.books if b["name"] == "austen-persuasion")
    kjv = next(b for b in index.books if b["name"] == "bible-kjv")
    assert heldout["heldout"][0]["documents"] == persuasion["documents"]
    acts = heldout["excluded"][0]["documents"]
    assert kjv["documents"][0] <= acts[0] < acts[1] <= kjv["documents"][1]
    assert all(b["label"] == ("kjv" if b["name"] == "bible-kjv" else "fiction") for b in index.books)


@pytest.mark.parametrize("edit, message", [
    (lambda books: books[5]["documents"].__setitem__(0, 1367) or books[4]["documents"].__setitem__(1, 1367),
     "does not start with"),
    (lambda books: books.insert(0, books.pop(1)), "order"),
])
def test_a_shifted_or_reordered_books_table_fails_loudly(tmp_path, edit, message):
    spec = json.loads((CORPUS / "books.json").read_text(encoding="utf-8"))
    edit(spec["books"])
    bad = tmp_path / "books.json"
    bad.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(TaskDataError, match=message):
        build_finetune_tasks.build(tmp_path / "out", books_json=bad)


# -- both tasks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["source", "same_book"])
def test_train_and_dev_use_only_their_own_training_documents(built, index, task):
    docs = {}
    for split in ("train", "dev"):
        texts = {t for r in _rows(built, task, split) for t in _texts(r)}
        assert all(index.seen_only(t) for t in texts), f"{task} {split}: held-out text"
        docs[split] = {(o["file"], o["doc"]) for t in texts for o in index.occurrences(t)}
    assert not docs["train"] & docs["dev"]
    dev_share = len(docs["dev"]) / len(docs["train"] | docs["dev"])
    assert 0 < dev_share < 0.25


@pytest.mark.parametrize("task", ["source", "same_book"])
def test_sentence_length_rule(built, task):
    for split in SPLITS:
        for r in _rows(built, task, split):
            assert all(4 <= len(t.split()) <= 60 for t in _texts(r))


@pytest.mark.slow
def test_rebuild_is_byte_identical_and_stats_hash_the_files(built, tmp_path):
    assert build_finetune_tasks.main(["--out", str(tmp_path / "again"), "--seed", "0"]) == 0
    files = sorted(p.relative_to(built) for p in built.rglob("*") if p.is_file())
    assert len(files) == 7 and files == sorted(p.relative_to(tmp_path / "again")
                                               for p in (tmp_path / "again").rglob("*") if p.is_file())
    for rel in files:
        assert (built / rel).read_bytes() == (tmp_path / "again" / rel).read_bytes(), rel
    stats = json.loads((built / "stats.json").read_text(encoding="utf-8"))
    assert stats["seed"] == 0
    for rel, entry in stats["files"].items():
        data = (built / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data.count(b"\n") == entry["rows"]
    build_finetune_tasks.build(tmp_path / "seed1", seed=1)
    other = (tmp_path / "seed1" / "source" / "train.jsonl").read_bytes()
    assert other != (built / "source" / "train.jsonl").read_bytes()


# -- source -----------------------------------------------------------------------------------------

def test_source_test_sentences_come_only_from_heldout_documents_of_their_class(built, index):
    for r in _rows(built, "source", "test"):
        occ = index.occurrences(r["text"])
        assert all(o["group"] is not None for o in occ), r
        assert {LABEL_OF_GROUP[o["group"]] for o in occ} == {r["label"]}, r


@pytest.mark.parametrize("split", ["train", "dev"])
def test_source_labels_are_the_documents_sources(built, index, split):
    for r in _rows(built, "source", split):
        assert {o["label"] for o in index.occurrences(r["text"])} == {r["label"]}, r


def test_source_is_balanced(built):
    stats = json.loads((built / "stats.json").read_text(encoding="utf-8"))["tasks"]["source"]
    for split, n in zip(SPLITS, (1000, 150, 250)):
        rows = _rows(built, "source", split)
        counts = {lab: sum(r["label"] == lab for r in rows) for lab in ("fiction", "kjv", "web", "jargon")}
        assert set(counts.values()) == {n} and len(rows) == 4 * n
        assert stats[split]["labels"] == counts
        assert len({r["text"] for r in rows}) == len(rows)


# -- same_book --------------------------------------------------------------------------------------

@pytest.mark.parametrize("split", SPLITS)
def test_same_book_labels_are_true_and_negatives_are_hard(built, index, split):
    rows = _rows(built, "same_book", split)
    assert len(rows) == {"train": 4000, "dev": 500, "test": 1000}[split]
    assert sum(r["label"] == "same" for r in rows) * 2 == len(rows)
    assert len({frozenset((r["text_a"], r["text_b"])) for r in rows}) == len(rows)
    label_of = {b["name"]: b["label"] for b in index.books} | {"web": "web", "jargon": "jargon"}
    hard = 0
    for r in rows:
        a, b = index.book(r["text_a"]), index.book(r["text_b"])
        if r["label"] == "same":
            assert a == b, r
            docs_a = [o["doc"] for o in index.occurrences(r["text_a"])]
            docs_b = [o["doc"] for o in index.occurrences(r["text_b"])]
            assert any(abs(x - y) >= 2 for x in docs_a for y in docs_b), f"adjacent chapters: {r}"
        else:
            assert r["label"] == "different" and a != b, r
            hard += GROUP_OF_LABEL[label_of[a]] == GROUP_OF_LABEL[label_of[b]]
    assert hard * 2 >= len(rows) // 2, f"{split}: only {hard} hard negatives"


def test_same_book_test_pairs_have_a_heldout_anchor(built, index):
    rows = _rows(built, "same_book", "test")
    partners = set()
    for r in rows:
        held = [index.heldout_only(t) for t in (r["text_a"], r["text_b"])]
        assert any(held), r
        if r["label"] == "same":        # two different held-out chapters (entries) of one group
            assert all(held), r
            groups = [{o["group"] for o in index.occurrences(t)} for t in (r["text_a"], r["text_b"])]
            assert groups[0] == groups[1] and len(groups[0]) == 1, r
        else:
            partners.update(index.book(t) for t, h in zip((r["text_a"], r["text_b"]), held) if not h)
    # the hard negatives the task promises: Persuasion against Emma and Sense and Sensibility
    assert {"austen-emma", "austen-sense"} <= partners
    pairs = {frozenset(index.book(t) for t in (r["text_a"], r["text_b"])) for r in rows}
    assert frozenset({"bible-kjv", "web"}) in pairs
    # a training-text partner in a test pair is not one the train or dev pairs used
    used = {t for split in ("train", "dev") for r in _rows(built, "same_book", split) for t in _texts(r)}
    assert not used & {t for r in rows for t in _texts(r)}
