"""Reading text corpora: compressed files, BERT layout documents, a rule-based sentence splitter.

BERT layout (google-research/bert `create_pretraining_data.py`): one sentence per line, a blank
line between documents. Raw text (`split_sentences=True`): a blank line ends a document (so each
paragraph is a document), hard-wrapped lines are re-joined and split into sentences by rules.

Everything streams: memory is bounded by one document (and documents longer than
`max_document_sentences` lines are cut into several).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

# Documents longer than this many lines are emitted in pieces (a file without blank lines would
# otherwise be one document held whole in memory). Real articles have a few thousand at most.
MAX_DOCUMENT_LINES = 100_000


class DataError(ValueError):
    """A corpus, data folder or data setting that cannot be used; the message names the path and the reason."""


# ----- files -----

def _is_text_file(p: Path) -> bool:
    return p.is_file() and ".txt" in p.name and not p.name.startswith(".")


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; folders replaced by every `*.txt*` file below them (recursive, sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted((f for f in p.rglob("*.txt*") if _is_text_file(f)), key=lambda f: f.as_posix())
            if not found:
                raise DataError(f"{p}: folder holds no *.txt* files")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    return out


def _decompressor(path: Path):
    """The module whose open(file_or_name, "rb") decompresses this file; None for plain text."""
    name = path.name.lower()
    for suffixes, module in (((".gz",), gzip), ((".xz", ".lzma"), lzma), ((".bz2",), bz2)):
        if name.endswith(suffixes):
            return module
    return None


def _text(binary) -> TextIO:
    # newline=None: universal newlines, so \r\n and \r files read like \n ones.
    return io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None)


def open_text(path: str | os.PathLike) -> TextIO:
    """A streaming UTF-8 text reader (undecodable bytes -> U+FFFD) for .txt, .gz, .xz/.lzma and .bz2 files."""
    path = Path(path)
    opener = _decompressor(path)
    try:
        return _text(opener.open(path, "rb") if opener else open(path, "rb"))
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror or e})") from None


def _read_lines(path: Path, raw_out: list | None = None) -> Iterator[str]:
    """Lines of a file; raw_out, if given, receives the on-disk file (its tell() = bytes read so far)."""
    try:
        raw = open(path, "rb")
    except OSError as e:
        raise DataError(f"{path}: cannot open ({e.strerror or e})") from None
    if raw_out is not None:
        raw_out[:] = [raw]
    with raw:
        opener = _decompressor(path)
        with _text(opener.open(raw, "rb") if opener else raw) as text:
            try:
                yield from text
            except (OSError, EOFError, lzma.LZMAError) as e:  # truncated or corrupt compressed file
                raise DataError(f"{path}: cannot read ({e})") from None


# ----- documents -----

def iter_file_documents(path: str | os.PathLike, split_sentences: bool = False,
                        max_document_sentences: int = MAX_DOCUMENT_LINES,
                        raw_out: list | None = None) -> Iterator[list[str]]:
    """The documents of one file (a document never spans files).

    raw_out, if given, receives the open on-disk file: raw_out[0].tell() is the bytes read so far.
    """
    doc: list[str] = []
    for line in _read_lines(Path(path), raw_out):
        line = line.strip()
        if line:
            doc.append(line)
            if len(doc) < max_document_sentences:
                continue
        if doc:
            sentences = _split_paragraph(doc) if split_sentences else doc
            if sentences:
                yield sentences
            doc = []
    if doc:
        sentences = _split_paragraph(doc) if split_sentences else doc
        if sentences:
            yield sentences


def iter_documents(paths: Iterable[str | os.PathLike] | str | os.PathLike, split_sentences: bool = False,
                   max_document_sentences: int = MAX_DOCUMENT_LINES) -> Iterator[list[str]]:
    """Documents (lists of non-empty stripped sentences) from files and folders, in order.

    BERT layout by default; `split_sentences=True` reads raw paragraphs (a blank line ends a
    document) and splits each with `split_sentences()`.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for path in expand_paths(paths):
        yield from iter_file_documents(path, split_sentences, max_document_sentences)


def _split_paragraph(lines: list[str]) -> list[str]:
    return split_sentences(_join_wrapped(lines))


_HYPHEN_WRAP = re.compile(r"[^\W\d_]-$")


def _join_wrapped(lines: list[str]) -> str:
    """Re-join hard-wrapped lines: with a space, or with nothing after a word-final hyphen before a
    lowercase letter ("well-\\nknown" -> "well-known"; the hyphen is kept since it may be real)."""
    out = lines[0]
    for line in lines[1:]:
        if _HYPHEN_WRAP.search(out) and line[:1].islower():
            out += line
        else:
            out += " " + line
    return out


# ----- sentence splitting -----

_CLOSERS = "\"'”’»)]}›"
_OPENERS = "\"'“‘«([{‹¿¡"
# Never end a sentence ("Dr. Smith", "e.g. Paris", "Roe v. Wade").
_ABBREV_ALWAYS = frozenset("""
    mr mrs ms mx dr prof st mt rev fr hon gen col lt sgt capt cmdr adm gov sen rep pres messrs mme mlle
    vs v cf e.g i.e viz approx ca
""".split())
# Do not end a sentence when a number follows ("No. 5", "Fig. 3", "pp. 12-14", "Jan. 5").
_ABBREV_BEFORE_NUMBER = frozenset("""
    no nos nr p pp fig figs eq eqs vol vols art ch sec sect ed eds op
    jan feb mar apr jun jul aug sep sept oct nov dec
""".split())
_CJK_END = re.compile(r"([。！？]+[”’」』）》〉\"')\]]*)(?=\S)")
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # U.S, e.g, i.e, J.R.R (after the final "." is removed)


def _starts_sentence(word: str) -> bool:
    core = word.lstrip(_OPENERS)
    if not core:
        return True  # a lone quote or bracket: let the next word decide? be generous
    c = core[0]
    return c.isupper() or c.isdigit() or (c.isalpha() and not c.islower())  # caseless scripts too


def _ends_sentence(word: str, nxt: str) -> bool:
    core = word.rstrip(_CLOSERS)
    if not core:
        return False
    if core.endswith(("。", "！", "？")):
        return True
    if core[-1] in "?!" or core.endswith("…") or core.endswith(".."):
        return _starts_sentence(nxt)
    if core[-1] != ".":
        return False
    body = core[:-1].lstrip(_OPENERS)
    low = body.lower()
    if low in _ABBREV_ALWAYS:
        return False
    nxt_core = nxt.lstrip(_OPENERS)
    if low in _ABBREV_BEFORE_NUMBER and nxt_core[:1].isdigit():
        return False
    if len(body) == 1 and body.isalpha() and body.isupper():
        return False  # an initial: "J. R. R. Tolkien"
    if _DOTTED.fullmatch(body):
        return False  # "U.S. Army", "e.g."; a dotted acronym closing a sentence is missed
    return _starts_sentence(nxt)


def split_sentences(text: str) -> list[str]:
    """Split raw text into sentences by rules (deterministic, no model, no downloads).

    A sentence ends after `.`, `?`, `!`, `...`/`…` (plus any closing quotes/brackets) when the
    next word starts like a sentence (uppercase, digit, an uncased script, or an opening quote/
    bracket before one), except after known abbreviations ("Mr.", "Dr.", "St.", "e.g.", "vs.";
    "No."/"Fig."/"Jan." before a number), initials ("J. R. R. Tolkien") and dotted acronyms
    ("U.S."). Decimals ("3.14") never split (no space follows the dot). CJK full stops always
    end a sentence. Whitespace (line breaks included) is collapsed to single spaces.
    """
    words = _CJK_END.sub(r"\1 ", text).split()
    sentences: list[str] = []
    start = 0
    for i in range(len(words) - 1):
        if _ends_sentence(words[i], words[i + 1]):
            sentences.append(" ".join(words[start:i + 1]))
            start = i + 1
    if start < len(words):
        sentences.append(" ".join(words[start:]))
    return sentences
