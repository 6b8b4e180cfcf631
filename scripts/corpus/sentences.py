"""Rule-based, deterministic sentence splitter, and the paragraph -> sentence
step shared by every source (garbage lines such as ASCII art are dropped)."""

from __future__ import annotations

import re

from .text import collapse_ws

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


BOX_DRAWING = re.compile("[\u2500-\u259f]")


def is_garbage_sentence(sent: str) -> bool:
    if BOX_DRAWING.search(sent):
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
