"""Pure text helpers behind the explorer's editing gestures (no Qt, no torch).

The widgets mask a word, put a fill-mask candidate in place of a ``[MASK]`` and restore a
masked word; the string work for all of that lives here so it can be tested without a GUI.
Token data comes from an ``engine.results.Analysis``: ``tokens``, ``offsets`` (char
span in the token's OWN segment text), ``word_ids`` and ``sequence_ids`` (0 = A, 1 = B,
None = [CLS]/[SEP]).
"""

from __future__ import annotations

from dataclasses import dataclass

MASK = "[MASK]"
CONTINUATION = "##"


# ----- spans ------------------------------------------------------------------------------

def segment_text(analysis, segment: int) -> str:
    """The text an analysis was computed from for segment 0 (A) or 1 (B)."""
    return (analysis.text_a if segment == 0 else analysis.text_b) or ""


def word_span(analysis, index: int) -> tuple[int, int, int] | None:
    """(segment, start, end) of the whole word token ``index`` belongs to, in its segment's text.

    All tokens of the same segment with the same word id make up the word, so any piece of
    "un ##bel ##ie ##va ##bly" gives the span of "unbelievably". None for [CLS]/[SEP] or a
    token without a word.
    """
    if not 0 <= index < len(analysis.tokens):
        return None
    segment = analysis.sequence_ids[index]
    word = analysis.word_ids[index]
    if segment is None or word is None:
        return None
    starts, ends = [], []
    for seg, w, (start, end) in zip(analysis.sequence_ids, analysis.word_ids,
                                    (tuple(map(int, o)) for o in analysis.offsets)):
        if seg == segment and w == word:
            starts.append(start)
            ends.append(end)
    return segment, min(starts), max(ends)


def mask_ordinal(analysis, index: int) -> tuple[int, int] | None:
    """(segment, n) for the [MASK] token at ``index``: it is the nth [MASK] of its segment."""
    if not 0 <= index < len(analysis.tokens) or analysis.tokens[index] != MASK:
        return None
    segment = analysis.sequence_ids[index]
    if segment is None:
        return None
    n = sum(1 for j in range(index)
            if analysis.tokens[j] == MASK and analysis.sequence_ids[j] == segment)
    return segment, n


def nth_mask_span(text: str, n: int) -> tuple[int, int] | None:
    """Char span of the nth (0-based) literal ``[MASK]`` in ``text`` (what the tokenizer masks)."""
    start = -1
    for _ in range(n + 1):
        start = text.find(MASK, start + 1)
        if start < 0:
            return None
    return start, start + len(MASK)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_'’-"


def word_at(text: str, pos: int) -> tuple[int, int] | None:
    """Span of the word containing (or touching) cursor position ``pos``; None in blank space.

    A literal ``[MASK]`` counts as a word, so masking twice does nothing silly.
    """
    pos = max(0, min(pos, len(text)))
    for span in _mask_spans(text):
        if span[0] <= pos <= span[1]:
            return span
    start = pos
    while start > 0 and _is_word_char(text[start - 1]):
        start -= 1
    end = pos
    while end < len(text) and _is_word_char(text[end]):
        end += 1
    while start < end and text[start] in "'’-":  # no leading/trailing hyphen or quote
        start += 1
    while end > start and text[end - 1] in "'’-":
        end -= 1
    return (start, end) if end > start else None


def _mask_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], text.find(MASK)
    while start >= 0:
        spans.append((start, start + len(MASK)))
        start = text.find(MASK, start + len(MASK))
    return spans


def selection_word_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """What "mask selected word" replaces: the selection without surrounding blanks, or the
    word at the cursor when nothing (or only blanks) is selected."""
    start, end = sorted((max(0, min(start, len(text))), max(0, min(end, len(text)))))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        return start, end
    return word_at(text, start)


def replace_span(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def insert_candidate(text: str, start: int, end: int, candidate: str) -> tuple[str, int, int]:
    """Put a fill-mask candidate in place of text[start:end] (a ``[MASK]``).

    A ``##`` word piece loses its prefix and is glued to the word before it (blanks between
    are removed). Returns (new text, start, end) of the inserted piece.
    """
    if candidate.startswith(CONTINUATION) and len(candidate) > len(CONTINUATION):
        piece = candidate[len(CONTINUATION):]
        glue = start
        while glue > 0 and text[glue - 1] in " \t":
            glue -= 1
        start = glue if glue > 0 and not text[glue - 1].isspace() else start
        return text[:start] + piece + text[end:], start, start + len(piece)
    return text[:start] + candidate + text[end:], start, start + len(candidate)


def replace_nth_mask(text: str, n: int, candidate: str) -> str | None:
    """``text`` with its nth ``[MASK]`` replaced by ``candidate`` (glued if ``##``); None if absent."""
    span = nth_mask_span(text, n)
    if span is None:
        return None
    return insert_candidate(text, span[0], span[1], candidate)[0]


def diff_region(old: str, new: str) -> tuple[int, int, int]:
    """The one changed region between two texts: (start, old_end, new_end).

    old[start:old_end] was replaced by new[start:new_end]; everything around is unchanged.
    """
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    tail = 0
    while tail < limit - start and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    return start, len(old) - tail, len(new) - tail


# ----- what a double-click masked, so a second double-click restores it -------------------

@dataclass
class MaskRecord:
    segment: int
    start: int        # where the [MASK] now stands in the segment text
    original: str     # the word it replaced


class MaskMemory:
    """Remembers which words were replaced by ``[MASK]`` and where, following later edits.

    ``track`` must see every change of the texts (old, new); records after an edit shift with
    it, records an edit touches are forgotten, so a restore never writes into the wrong place.
    """

    def __init__(self) -> None:
        self.records: list[MaskRecord] = []

    def __len__(self) -> int:
        return len(self.records)

    def clear(self) -> None:
        self.records.clear()

    def remember(self, segment: int, start: int, original: str) -> None:
        self.records = [r for r in self.records if (r.segment, r.start) != (segment, start)]
        self.records.append(MaskRecord(segment, start, original))

    def lookup(self, segment: int, start: int) -> str | None:
        for r in self.records:
            if (r.segment, r.start) == (segment, start):
                return r.original
        return None

    def forget(self, segment: int, start: int) -> None:
        self.records = [r for r in self.records if (r.segment, r.start) != (segment, start)]

    def track(self, segment: int, old: str, new: str) -> None:
        """Follow an edit of one segment's text from ``old`` to ``new``."""
        if old == new:
            return
        start, old_end, new_end = diff_region(old, new)
        delta = new_end - old_end
        kept = []
        for r in self.records:
            if r.segment != segment:
                kept.append(r)
            elif r.start + len(MASK) <= start:
                kept.append(r)
            elif r.start >= old_end:
                kept.append(MaskRecord(r.segment, r.start + delta, r.original))
            # else: the edit touched this [MASK]; forget it
        self.records = [r for r in kept if new[r.start:r.start + len(MASK)] == MASK
                        or r.segment != segment]

    def mask_word(self, text: str, segment: int, start: int, end: int) -> str:
        """``text`` with text[start:end] replaced by [MASK], remembered for a restore.

        Already tracked: the caller must not ``track`` this same edit again.
        """
        new = replace_span(text, start, end, MASK)
        self.track(segment, text, new)
        self.remember(segment, start, text[start:end])
        return new

    def restore(self, text: str, segment: int, start: int) -> str | None:
        """``text`` with the remembered word back in place of the [MASK] at ``start``, or None.

        Already tracked, like ``mask_word``.
        """
        original = self.lookup(segment, start)
        if original is None or text[start:start + len(MASK)] != MASK:
            return None
        new = replace_span(text, start, start + len(MASK), original)
        self.forget(segment, start)
        self.track(segment, text, new)
        return new


def format_percent(p: float) -> str:
    """A probability as a readable percentage: 42.1%, 3.07%, 0.0053%."""
    pct = float(p) * 100
    if pct >= 99.95:
        return "100%"
    if pct >= 10:
        return f"{pct:.1f}%"
    if pct >= 0.1:
        return f"{pct:.2f}%"
    if pct <= 0:
        return "0%"
    return f"{pct:.2g}%"


def truncation_notice(truncated_a: int, truncated_b: int, max_positions: int) -> str:
    """'Truncated: 37 tokens of A and 12 of B did not fit 512 positions' (or '' when nothing was cut)."""
    if truncated_a <= 0 and truncated_b <= 0:
        return ""
    def tokens(n: int) -> str:
        return f"{n} token{'s' if n != 1 else ''}"
    if truncated_a > 0 and truncated_b > 0:
        what = f"{tokens(truncated_a)} of A and {truncated_b} of B"
    elif truncated_a > 0:
        what = f"{tokens(truncated_a)} of A"
    else:
        what = f"{tokens(truncated_b)} of B"
    return f"Truncated: {what} did not fit {max_positions} positions"


# ----- Qt text positions count UTF-16 code units; Python strings count code points ----------

def to_utf16(text: str, index: int) -> int:
    """The UTF-16 position (QTextCursor) of Python string index ``index`` in ``text``."""
    index = max(0, min(index, len(text)))
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)


def from_utf16(text: str, position: int) -> int:
    """The Python string index of UTF-16 position ``position`` (inside a pair: after it)."""
    units = 0
    for i, ch in enumerate(text):
        if units >= position:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)
