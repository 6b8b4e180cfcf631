"""Plain-text helpers shared by every source: decoding and normalisation,
paragraph blocks, re-joining hard-wrapped lines and inline tidying."""

from __future__ import annotations

import re
import unicodedata

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


def indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def split_blocks(text: str) -> list[list[str]]:
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
