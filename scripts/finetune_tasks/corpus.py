"""The corpus as the task builders see it: every usable sentence with its file, document, book,
source label and split (train / dev / test), after `heldout.json` and `books.json` are checked.

Splits: documents held out of the default model's pretraining (and the excluded KJV Acts) are
"test"; every other document is "dev" when `is_dev_document` says so (a hash, about 5%), else
"train". A sentence is usable when it has MIN_WORDS..MAX_WORDS words and its exact text occurs only
once in the whole corpus (all three files), so a sentence can never belong to two documents, books
or splits.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from corpus.books import BOOKS
from default_model.split import SplitError, _range, read_documents
from engine.data.shards import heldout_by_hash

FILES = ("gutenberg.txt.xz", "web_bible.txt.xz", "jargon.txt.xz")
LABELS = ("fiction", "kjv", "web", "jargon")          # source classes, in this order everywhere
GROUP = {"fiction": "fiction", "kjv": "bible", "web": "bible", "jargon": "jargon"}
MIN_WORDS, MAX_WORDS = 4, 60
DEV_FRACTION = 0.05
_OTHER_BOOKS = {"web_bible": ("web", "World English Bible"), "jargon": ("jargon", "The Jargon File")}
_DEV_SALT = b"bert-explorer finetune-tasks dev documents\n"


class TaskDataError(ValueError):
    """The corpus, heldout.json or books.json is not what the task builder expects."""


def is_dev_document(sentences: list[str]) -> bool:
    """Whether a (non-held-out) document goes to the dev split: a salted hash of its text, so the
    choice is independent of the held-out jargon hash and stable wherever the document appears."""
    digest = hashlib.blake2b(_DEV_SALT + "\n".join(sentences).encode("utf-8", "surrogatepass"),
                             digest_size=8).digest()
    return int.from_bytes(digest, "little") < DEV_FRACTION * 2.0 ** 64


@dataclass(frozen=True)
class Book:
    name: str
    title: str
    author: str
    label: str                  # one of LABELS
    first: int                  # [first, end) document range in its file
    end: int

    @property
    def group(self) -> str:
        return GROUP[self.label]


@dataclass(frozen=True)
class Sentence:
    text: str
    file: str
    doc: int                    # document index in its file
    book: str
    label: str
    split: str                  # "train" | "dev" | "test"


def load_books(books_json: Path, docs: list[str]) -> list[Book]:
    """The gutenberg book table, checked against the documents and the corpus builder's book list."""
    spec = json.loads(books_json.read_text(encoding="utf-8"))
    entries = spec["books"]
    where = f"{books_json}"
    if len(docs) != spec["documents"]:
        raise TaskDataError(f"{where}: gutenberg.txt.xz has {len(docs)} documents, the table was made "
                            f"for {spec['documents']}; was the corpus rebuilt? Update books.json")
    expected = [b.file.removesuffix(".txt") for b in BOOKS]
    if [e["name"] for e in entries] != expected:
        raise TaskDataError(f"{where}: books are not those of scripts/corpus/books.py in its order "
                            f"({expected})")
    books, pos = [], 0
    for e, b in zip(entries, BOOKS):
        first, end = e["documents"]
        if first != pos or not first < end <= len(docs):
            raise TaskDataError(f"{where}: {e['name']!r} covers {first}..{end}; the books must tile "
                                f"documents 0..{len(docs)} in order (expected it to start at {pos})")
        if not " ".join(docs[first].split()).startswith(e["first_words"]):
            raise TaskDataError(f"{where}: document {first} does not start with {e['first_words']!r} "
                                f"(first words of {e['name']!r}); was the corpus rebuilt? Update books.json")
        label = "kjv" if b.kind == "kjv" else "fiction"
        if e["label"] != label or e["title"] != b.title:
            raise TaskDataError(f"{where}: {e['name']!r} should have title {b.title!r} and label {label!r}")
        books.append(Book(e["name"], e["title"], e["author"], label, first, end))
        pos = end
    if pos != len(docs):
        raise TaskDataError(f"{where}: the books end at document {pos}, the file has {len(docs)}")
    return books


def _roles(docs: list[str], rules: dict, path: Path) -> list[tuple[str, str | None]]:
    """(split, held-out group) per document, applying heldout.json as split.py does."""
    group: list[str | None] = [None] * len(docs)
    try:
        for entry in rules.get("heldout", []) + rules.get("excluded", []):
            for i in _range(docs, entry, path):
                group[i] = entry["name"]
    except SplitError as e:
        raise TaskDataError(str(e)) from e
    if "heldout_fraction" in rules:
        frac = rules["heldout_fraction"]
        for i, doc in enumerate(docs):
            if group[i] is None and heldout_by_hash(doc.split("\n"), frac["fraction"]):
                group[i] = frac["name"]
    roles = []
    for doc, g in zip(docs, group):
        if g is not None:
            roles.append(("test", g))
        else:
            roles.append(("dev" if is_dev_document(doc.split("\n")) else "train", None))
    return roles


@dataclass
class Corpus:
    sentences: list[Sentence]           # usable sentences, in corpus order
    books: dict[str, Book]              # every book, the non-gutenberg files included
    test_groups: dict[str, str]         # held-out/excluded group name -> book
    counts: dict                        # documents and sentences per split, skipped sentences

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, str], list[Sentence]] = {}
        for s in self.sentences:
            self._index.setdefault((s.split, s.book), []).append(s)

    def pool(self, split: str, book: str) -> list[Sentence]:
        """Usable sentences of one book in one split, in corpus order."""
        return self._index.get((split, book), [])

    def label_pool(self, split: str, label: str) -> list[Sentence]:
        return [s for b in self.books.values() if b.label == label for s in self.pool(split, b.name)]


def load_corpus(corpus_dir: Path, heldout_json: Path, books_json: Path) -> Corpus:
    spec = json.loads(heldout_json.read_text(encoding="utf-8"))
    if not set(FILES) <= set(spec["files"]):  # rules for other files (wordnet.txt.xz) are not ours
        raise TaskDataError(f"{heldout_json}: expected rules for {FILES}, found {sorted(spec['files'])}")
    texts: Counter[str] = Counter()
    raw: list[tuple[str, int, str, str, str, list[str]]] = []
    books: dict[str, Book] = {}
    test_groups: dict[str, str] = {}
    docs_per_split: Counter[str] = Counter()
    for file_name in FILES:
        path = corpus_dir / file_name
        docs = read_documents(path)
        roles = _roles(docs, spec["files"][file_name], path)
        if file_name == "gutenberg.txt.xz":
            table = load_books(books_json, docs)
            books.update((b.name, b) for b in table)
            book_of = [b for b in table for _ in range(b.first, b.end)]
        else:
            stem = file_name.split(".")[0]
            label, title = _OTHER_BOOKS[stem]
            books[stem] = Book(stem, title, "", label, 0, len(docs))
            book_of = [books[stem]] * len(docs)
        for i, (doc, (split, group), book) in enumerate(zip(docs, roles, book_of)):
            sents = doc.split("\n")
            texts.update(sents)
            docs_per_split[split] += 1
            if group is not None:
                if test_groups.setdefault(group, book.name) != book.name:
                    raise TaskDataError(f"held-out group {group!r} spans two books")
            raw.append((file_name, i, book.name, book.label, split, sents))
    sentences, skipped = [], Counter()
    for file_name, i, book, label, split, sents in raw:
        for s in sents:
            n = len(s.split())
            if n < MIN_WORDS:
                skipped["short"] += 1
            elif n > MAX_WORDS:
                skipped["long"] += 1
            elif texts[s] > 1:
                skipped["repeated"] += 1
            else:
                sentences.append(Sentence(s, file_name, i, book, label, split))
    test_labels = sorted(books[b].label for b in test_groups.values())
    if test_labels != sorted(LABELS):
        raise TaskDataError(f"expected one held-out/excluded book per source label {LABELS}, "
                            f"found {test_groups}")
    per_split = Counter(s.split for s in sentences)
    counts = {"documents": dict(sorted(docs_per_split.items())),
              "usable_sentences": dict(sorted(per_split.items())),
              "skipped_sentences": dict(sorted(skipped.items()))}
    return Corpus(sentences, books, test_groups, counts)
