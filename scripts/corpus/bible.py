"""World English Bible: SWORD/OSIS markup to plain text, read with pysword."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .fetch import PYSWORD_VERSION
from .sentences import paragraphs_to_sentences
from .text import collapse_ws, normalize_text

SWORD_MODULE = "engWEB2015eb"

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
