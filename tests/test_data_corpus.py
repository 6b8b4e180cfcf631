"""engine/data/corpus.py: compressed files, BERT-layout documents, raw paragraphs, the sentence splitter."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest

from engine.data.corpus import DataError, expand_paths, iter_documents, open_text, split_sentences

BERT_LAYOUT = """First sentence of doc one.
  Second sentence of doc one.  

Only sentence of doc two.
\t
   


Doc three, line one.
Doc three, line two.
"""
DOCS = [["First sentence of doc one.", "Second sentence of doc one."],
        ["Only sentence of doc two."],
        ["Doc three, line one.", "Doc three, line two."]]


def write(path, text: str):
    data = text.encode("utf-8")
    opener = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}.get(path.suffix)
    if opener:
        with opener(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["c.txt", "c.txt.gz", "c.txt.xz", "c.txt.bz2"])
def test_open_text_reads_every_format_the_same(tmp_path, name):
    text = "héllo wörld\nzweite Zeile 日本\n"
    with open_text(write(tmp_path / name, text)) as f:
        assert f.read() == text


def test_open_text_replaces_bad_utf8_and_reads_crlf(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"ok \xff\xfe end\r\nnext\r\n")
    with open_text(tmp_path / "bad.txt") as f:
        assert f.read().split("\n") == ["ok \ufffd\ufffd end", "next", ""]


@pytest.mark.parametrize("name", ["c.txt", "c.txt.xz"])
def test_bert_layout_documents(tmp_path, name):
    assert list(iter_documents([write(tmp_path / name, BERT_LAYOUT)])) == DOCS


def test_documents_never_span_files_and_folders_are_sorted(tmp_path):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    write(folder / "b.txt", "B one.\nB two.")  # no trailing blank line: the file end closes the doc
    write(folder / "a.txt.gz", "A one.\n")
    write(folder / "sub" / "c.txt", "C one.\n\n")
    write(folder / "ignored.json", "{}")
    assert [p.name for p in expand_paths([folder])] == ["a.txt.gz", "b.txt", "c.txt"]
    assert list(iter_documents(folder)) == [["A one."], ["B one.", "B two."], ["C one."]]


def test_missing_paths_raise_data_error_naming_them(tmp_path):
    with pytest.raises(DataError, match="nope.txt"):
        list(iter_documents([tmp_path / "nope.txt"]))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        list(iter_documents([tmp_path / "empty"]))


def test_corrupt_compressed_file_raises_data_error(tmp_path):
    (tmp_path / "broken.txt.xz").write_bytes(lzma.compress(b"a\n" * 1000)[:40])
    with pytest.raises(DataError, match="broken.txt.xz"):
        list(iter_documents([tmp_path / "broken.txt.xz"]))


def test_overlong_documents_are_cut(tmp_path):
    write(tmp_path / "c.txt", "".join(f"s{i}.\n" for i in range(10)))
    docs = list(iter_documents([tmp_path / "c.txt"], max_document_sentences=4))
    assert [len(d) for d in docs] == [4, 4, 2]
    assert sum(docs, []) == [f"s{i}." for i in range(10)]


def test_split_sentences_mode_rejoins_wrapped_lines(tmp_path):
    raw = ("The quick brown fox jumps over\nthe lazy dog. Then it ran\naway! Was it well-\n"
           "known? Yes.\n\nSecond paragraph, a\nsingle sentence.\n")
    docs = list(iter_documents([write(tmp_path / "raw.txt", raw)], split_sentences=True))
    assert docs == [["The quick brown fox jumps over the lazy dog.", "Then it ran away!",
                     "Was it well-known?", "Yes."],
                    ["Second paragraph, a single sentence."]]


@pytest.mark.parametrize("text, expected", [
    ("Mr. Smith went to Washington. He arrived on Monday.",
     ["Mr. Smith went to Washington.", "He arrived on Monday."]),
    ("Mrs. Jones and Dr. Who met Prof. Plum at St. Paul's. They talked.",
     ["Mrs. Jones and Dr. Who met Prof. Plum at St. Paul's.", "They talked."]),
    ("J. R. R. Tolkien wrote it. Nobody else did.", ["J. R. R. Tolkien wrote it.", "Nobody else did."]),
    ("Pi is 3.14 and e is 2.718. Both are irrational.", ["Pi is 3.14 and e is 2.718.", "Both are irrational."]),
    ("Fruit, e.g. Apples, i.e. Red ones. Also pears, etc. And more.",
     ["Fruit, e.g. Apples, i.e. Red ones.", "Also pears, etc.", "And more."]),
    ("It was No. 5 on the list. No. It was not.", ["It was No. 5 on the list.", "No.", "It was not."]),
    ("He climbed Mt. Everest vs. Mt. K2 in Jan. 1953. Wow.",
     ["He climbed Mt. Everest vs. Mt. K2 in Jan. 1953.", "Wow."]),
    ("Wait... what? Really?! Yes! OK.", ["Wait... what?", "Really?!", "Yes!", "OK."]),
    ("He paused… Then he left.", ["He paused…", "Then he left."]),
    ('"Stop!" he said. "Go!" She ran.', ['"Stop!" he said.', '"Go!"', "She ran."]),
    ("(See the note.) Next one. [Done.] End", ["(See the note.)", "Next one.", "[Done.]", "End"]),
    ("The U.S. Army is big. It has 1.3 million soldiers.",
     ["The U.S. Army is big.", "It has 1.3 million soldiers."]),
    ("Born in 1990. 2001 was a good year.", ["Born in 1990.", "2001 was a good year."]),
    ("lower case start. no split here.", ["lower case start. no split here."]),
    ("我爱你。你好！好的", ["我爱你。", "你好！", "好的"]),
    ("  spaced   out\n text.  Next.  ", ["spaced out text.", "Next."]),
    ("", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected
