"""The Jargon File lexicon (Debian jargon-text): one document per entry."""

from __future__ import annotations

import re

from .sentences import BOX_DRAWING, paragraphs_to_sentences
from .text import indent, join_lines, normalize_text, split_blocks, tidy_paragraph

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
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "Glossary" and indent(ln) == 0)
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
        elif ln.strip() and indent(ln) < 3:
            if cur is not None:            # letter-section header ("  B") ends the entry
                entries.append(cur)
            cur = None
        elif cur is not None:
            cur.append(ln)
    if cur is not None:
        entries.append(cur)

    docs: list[list[str]] = []
    for entry in entries:
        blocks = split_blocks("\n".join(entry))
        paras: list[str] = []
        for block in blocks[1:]:            # blocks[0] is the header
            if indent(block[0]) != 3 or any(BOX_DRAWING.search(ln) for ln in block):
                continue                    # examples, code, ASCII art, tables
            if any(indent(ln) > 4 for ln in block):
                block = [ln for ln in block if indent(ln) <= 4]
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
