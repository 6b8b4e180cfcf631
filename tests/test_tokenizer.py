"""Tests for engine/tokenizer.py: parity with transformers' BertTokenizerFast, odd input, train/save/load, errors."""

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer
from tokenizers.models import BPE

from engine.tokenizer import SPECIAL_TOKENS, Encoding, TokenizerError, WordPieceTokenizer

REPO = Path(__file__).resolve().parents[1]


# minilm_dir (conftest.py): the real bert-base-uncased vocab.txt and tokenizer.json of all-MiniLM-L6-v2.
@pytest.fixture(scope="module", params=["vocab.txt", "tokenizer.json"])
def tok(request, minilm_dir) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_file(minilm_dir / request.param)


@pytest.fixture(scope="module")
def hf(minilm_dir):
    transformers = pytest.importorskip("transformers")
    cls = transformers.BertTokenizerFast
    vocab_file = minilm_dir / "vocab.txt"
    if "vocab" in inspect.signature(cls.__init__).parameters:
        # transformers >= 5 ignores vocab_file in the constructor; it takes the vocab itself.
        lines = vocab_file.read_text(encoding="utf-8").split("\n")[:-1]
        hf_tok = cls(vocab={t: i for i, t in enumerate(lines)}, do_lower_case=True)
    else:
        hf_tok = cls(vocab_file=str(vocab_file), do_lower_case=True)
    assert len(hf_tok) == 30522  # guards against an HF tokenizer that silently lost the vocab
    return hf_tok


TRICKY = [
    "Café naïve résumé Ångström",
    "我爱北京天安门",
    "日本語のテキストとカタカナ、ひらがな。",
    "family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵 thumbs 👍🏽 ok",
    "!!!???...---",
    "''\"\"``",
    "the[MASK] [MASK][MASK]ing",
    "hello[MASK]world",
    "1,234,567.89 and 3.14159 or 10-20 and 1/2",
    "visit https://example.com/path?q=a&b=c#frag or www.test.org",
    "Hello, World! It's a TEST of BERT's WordPiece.",
    "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 mixed RTL",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "tabs\tand\nnewlines\r\nhere",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
]
LONG = (" ".join(TRICKY) + " ") * 10
LONG = LONG[:2000]


def _hf_encode(hf_tok, a, b=None, max_length=None):
    kwargs = dict(return_offsets_mapping=True, return_special_tokens_mask=True)
    if max_length is not None:
        kwargs.update(truncation="longest_first", max_length=max_length)
    return hf_tok(a, b, **kwargs)


def _assert_parity(ours: Encoding, theirs):
    assert ours.ids == theirs["input_ids"]
    assert ours.token_type_ids == theirs["token_type_ids"]
    assert ours.offsets == [tuple(o) for o in theirs["offset_mapping"]]
    assert ours.word_ids == theirs.word_ids()
    assert ours.sequence_ids == theirs.sequence_ids()
    # Template specials must agree; a typed [MASK] is 0 here (input text) whatever HF says.
    for i, (mine, hfs) in enumerate(zip(ours.special_tokens_mask, theirs["special_tokens_mask"])):
        if ours.tokens[i] == "[MASK]":
            assert mine == 0
        else:
            assert mine == hfs, (i, ours.tokens[i])


@pytest.mark.parametrize("text", TRICKY + [LONG])
def test_single_parity_with_transformers(tok, hf, text):
    ours = tok.encode(text, max_length=10_000)
    _assert_parity(ours, _hf_encode(hf, text))
    assert ours.tokens == hf.convert_ids_to_tokens(ours.ids)
    assert not ours.has_pair and not ours.truncated and ours.warnings == ()


@pytest.mark.parametrize("i", range(len(TRICKY)))
def test_pair_parity_with_transformers(tok, hf, i):
    a, b = TRICKY[i], TRICKY[(i + 5) % len(TRICKY)]
    ours = tok.encode(a, b, max_length=10_000)
    _assert_parity(ours, _hf_encode(hf, a, b))
    assert ours.has_pair


@pytest.mark.parametrize("max_length", [3, 4, 7, 16, 33, 64, 128, 512])
def test_truncation_parity_with_transformers(tok, hf, max_length):
    cases = [(LONG, None), (LONG, LONG[:300]), (LONG[:300], LONG), (LONG[:700], LONG[700:1400]),
             ("short one", LONG), (LONG, "short one")]
    for a, b in cases:
        ours = tok.encode(a, b, max_length=max_length)
        theirs = _hf_encode(hf, a, b, max_length=max_length)
        _assert_parity(ours, theirs)
        full = tok.encode(a, b, max_length=100_000)
        assert ours.truncated_a + ours.truncated_b == len(full) - len(ours)
        assert ours.truncated_a == full.sequence_ids.count(0) - ours.sequence_ids.count(0)
        assert ours.truncated_b == full.sequence_ids.count(1) - ours.sequence_ids.count(1)
        if ours.truncated:
            assert any(w.startswith(f"truncated {len(full) - len(ours)} tokens") for w in ours.warnings)


def test_truncation_split_matches_transformers_exhaustively(tok, hf):
    # Every small (len A, len B, max_length) combination, ties included. HF's Rust
    # LongestFirst gives each segment half and the odd position to the longer one
    # (to B on a tie), which is not a one-token-at-a-time "ties from B" loop.
    for n_a in range(1, 8):
        for n_b in range(1, 8):
            a, b = " ".join(["cat"] * n_a), " ".join(["dog"] * n_b)
            for max_length in range(3, n_a + n_b + 5):
                ours = tok.encode(a, b, max_length=max_length)
                assert ours.ids == _hf_encode(hf, a, b, max_length)["input_ids"], (n_a, n_b, max_length)
                assert len(ours) == min(max_length, n_a + n_b + 3)


def test_truncation_tie_goes_to_b(tok):
    enc = tok.encode("a b c d e", "f g h i j", max_length=12)  # 10 tokens for 9 positions
    assert (enc.truncated_a, enc.truncated_b) == (1, 0)
    assert enc.warnings == ("truncated 1 tokens (A: 1, B: 0) to fit 12 positions",)


def test_typed_special_names_stay_text(tok):
    enc = tok.encode("[CLS] hi [SEP] [PAD] [UNK] [foo]")
    inner = enc.ids[1:-1]
    for special in (tok.cls_id, tok.sep_id, tok.pad_id, tok.unk_id, tok.mask_id):
        assert special not in inner
    assert enc.tokens[1:5] == ["[", "cl", "##s", "]"]
    assert enc.special_tokens_mask == [1] + [0] * len(inner) + [1]


def test_typed_mask_becomes_mask_token(tok):
    enc = tok.encode("hello[MASK]world the[MASK] [MASK][MASK]ing")
    assert enc.tokens[1:-1] == ["hello", "[MASK]", "world", "the", "[MASK]", "[MASK]", "[MASK]", "ing"]
    assert enc.ids.count(tok.mask_id) == 4
    assert all(m == 0 for t, m in zip(enc.tokens, enc.special_tokens_mask) if t == "[MASK]")
    assert enc.offsets[2] == (5, 11)


@pytest.mark.parametrize("text", ["[mask]", "[Mask]", "[ MASK ]", "[MASK"])
def test_other_mask_spellings_stay_text(tok, text):
    enc = tok.encode(text)
    assert tok.mask_id not in enc.ids
    assert len(enc) > 3


@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n "])
def test_missing_or_blank_b_is_single_segment(tok, blank):
    enc = tok.encode("hello world", blank)
    assert not enc.has_pair
    assert enc.ids == tok.encode("hello world").ids
    assert enc.tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert set(enc.token_type_ids) == {0}
    assert enc.warnings == ()


def test_blank_a_gives_specials_and_warning(tok):
    enc = tok.encode("  \n", None)
    assert enc.tokens == ["[CLS]", "[SEP]"]
    assert enc.warnings == ("sentence A is empty",)
    pair = tok.encode("", "hello")
    assert pair.tokens == ["[CLS]", "[SEP]", "hello", "[SEP]"]
    assert pair.token_type_ids == [0, 0, 1, 1]
    assert pair.sequence_ids == [None, None, 1, None]
    assert pair.has_pair and pair.warnings == ("sentence A is empty",)


def test_text_without_tokens_is_reported(tok):
    enc = tok.encode("\x00\x01\x02", "\x7f\u200b")
    assert enc.tokens == ["[CLS]", "[SEP]", "[SEP]"]
    assert "sentence A has no tokens after normalization" in enc.warnings
    assert "sentence B has no tokens after normalization" in enc.warnings


@pytest.mark.parametrize("text", [
    "a\x00b\x01c\x1bd\x7fe",
    "lone \ud800 surrogate \udfff here",
    "\ud83d",
    "emoji 🤖👩🏾‍🚀 zwj\u200d\u200d",
    "\u202eright-to-left override\u202c",
    "\uffff\ufffe\ufffd",
    "\U0010ffff \U000e0001",
    "a" * 5000,
])
def test_odd_text_never_raises(tok, text):
    enc = tok.encode(text, text)
    assert enc.tokens[0] == "[CLS]" and enc.tokens[-1] == "[SEP]"
    assert len(enc.ids) == len(enc.tokens) == len(enc.offsets) == len(enc.word_ids) == len(enc.token_type_ids)
    assert all(0 <= s <= e <= len(text) for s, e in enc.offsets)
    assert all(0 <= i < tok.vocab_size for i in enc.ids)


def test_lone_surrogate_keeps_offsets(tok):
    text = "ab\ud800 cd"
    enc = tok.encode(text)
    assert enc.tokens == ["[CLS]", "ab", "cd", "[SEP]"]
    assert [text[s:e] for s, e in enc.offsets[1:-1]] == ["ab", "cd"]


def test_very_long_input_is_truncated(tok):
    text = "lorem ipsum dolor sit amet " * 4000  # ~108k characters
    enc = tok.encode(text, max_length=512)
    assert len(enc) == 512 and enc.truncated and enc.truncated_a > 0 and enc.truncated_b == 0
    assert enc.tokens[-1] == "[SEP]"
    assert enc.warnings == (f"truncated {enc.truncated_a} tokens to fit 512 positions",)
    pair = tok.encode(text, "a short question", max_length=512)
    assert len(pair) == 512 and pair.truncated_b == 0
    assert pair.tokens[-4:] == ["a", "short", "question", "[SEP]"]


def test_max_length_too_small_raises(tok):
    with pytest.raises(ValueError):
        tok.encode("a", "b", max_length=2)
    assert len(tok.encode("a", max_length=2)) == 2


def test_encode_batch_matches_encode(tok):
    pairs = [("hello world", None), ("first", "second one"), ("", "b only"), ("a", "  "), (LONG, LONG)]
    batch = tok.encode_batch(pairs, max_length=64)
    assert batch == [tok.encode(a, b, max_length=64) for a, b in pairs]
    assert tok.encode_batch([]) == []


def test_vocab_accessors(tok):
    assert tok.vocab_size == 30522 and tok.lowercase
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 100, 101, 102, 103)
    assert tok.id_to_token(101) == "[CLS]" and tok.token_to_id("[MASK]") == 103
    assert tok.token_to_id("no-such-token-xyz") is None
    assert tok.convert_ids_to_tokens([101, 7592, 102]) == ["[CLS]", "hello", "[SEP]"]
    vocab = tok.get_vocab()
    assert len(vocab) == 30522 and vocab["hello"] == 7592
    vocab["hello"] = -1  # a copy: the tokenizer is unaffected
    assert tok.token_to_id("hello") == 7592
    with pytest.raises(IndexError):
        tok.id_to_token(30522)


def test_folder_prefers_tokenizer_json(tmp_path, minilm_dir):
    (tmp_path / "vocab.txt").write_text("\n".join(SPECIAL_TOKENS) + "\nonly\n", encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text((minilm_dir / "tokenizer.json").read_text(encoding="utf-8"),
                                             encoding="utf-8")
    assert WordPieceTokenizer.from_file(tmp_path).vocab_size == 30522
    (tmp_path / "tokenizer.json").unlink()
    assert WordPieceTokenizer.from_file(tmp_path).vocab_size == 6


def test_baked_in_padding_and_truncation_are_dropped(minilm_dir):
    baked = json.loads((minilm_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert baked["padding"] and baked["truncation"]  # the fixture file really has them
    tok = WordPieceTokenizer.from_file(minilm_dir / "tokenizer.json")
    assert len(tok.encode("hello world")) == 4
    assert len(tok.encode("word " * 300, max_length=512)) == 302


def test_lowercase_autodetect(tmp_path, minilm_dir):
    cased = list(SPECIAL_TOKENS) + ["Hello", "hello", "World", "world", "The", "the", "##s", "Paris", "BERT"]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(cased) + "\n", encoding="utf-8")
    tok = WordPieceTokenizer.from_file(path)
    assert not tok.lowercase
    assert tok.encode("Hello world").tokens == ["[CLS]", "Hello", "world", "[SEP]"]
    assert WordPieceTokenizer.from_file(path, lowercase=True).encode("Hello").tokens == ["[CLS]", "hello", "[SEP]"]
    assert WordPieceTokenizer.from_file(minilm_dir / "vocab.txt").lowercase


def test_from_vocab_list_and_dict_agree():
    words = list(SPECIAL_TOKENS) + ["hello", "world", "##s", "[", "]"]
    a = WordPieceTokenizer.from_vocab(words)
    b = WordPieceTokenizer.from_vocab({w: i for i, w in enumerate(words)})
    text = "Hello worlds [MASK] [CLS]"
    assert a.encode(text) == b.encode(text)
    assert a.encode(text).tokens == ["[CLS]", "hello", "world", "##s", "[MASK]", "[", "[UNK]", "]", "[SEP]"]


@pytest.mark.parametrize("vocab, reason", [
    ([], "empty"),
    (["[PAD]", "[UNK]", "[CLS]", "[SEP]"], "missing special tokens [MASK]"),
    (list(SPECIAL_TOKENS) + ["a", "a"], "appears twice"),
    ({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 5}, "0..4"),
    (list(SPECIAL_TOKENS) + ["two\nlines"], "one-line"),
])
def test_from_vocab_rejects_bad_vocab(vocab, reason):
    with pytest.raises(TokenizerError, match=re.escape(reason)):
        WordPieceTokenizer.from_vocab(vocab)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("corpus")
    lines = [
        "The quick brown fox jumps over the lazy dog.",
        "A journey of a thousand miles begins with a single step.",
        "To be or not to be, that is the question.",
        "Tokenizers split text into words and word pieces.",
        "Café naïve résumé: accents are kept, 東京 and 北京 are split.",
    ]
    paths = []
    for k in range(2):
        path = folder / f"part{k}.txt"
        path.write_text("\n".join(lines[k::2] * 50 + lines * 20) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


SAMPLES = ["The lazy fox begins a journey.", "Unseen zebra xylophone!", "question [MASK] word pieces", ""]


def test_train_save_load_round_trip(tmp_path, corpus):
    tok = WordPieceTokenizer.train(corpus, vocab_size=150, min_frequency=2)
    assert [tok.id_to_token(i) for i in range(5)] == list(SPECIAL_TOKENS)
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    assert 5 < tok.vocab_size <= 150
    assert any(t.startswith("##") for t in tok.get_vocab())
    enc = tok.encode("The lazy fox [MASK].", "the question")
    assert enc.ids.count(tok.mask_id) == 1 and tok.unk_id not in enc.ids

    tok.save(tmp_path / "out")
    lines = (tmp_path / "out" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and lines[:-1] == [tok.id_to_token(i) for i in range(tok.vocab_size)]
    spec = json.loads((tmp_path / "out" / "tokenizer.json").read_text(encoding="utf-8"))
    assert spec["padding"] is None and spec["truncation"] is None
    assert sorted(t["content"] for t in spec["added_tokens"]) == sorted(SPECIAL_TOKENS)
    assert not list((tmp_path / "out").glob("*.tmp"))

    for loaded in (WordPieceTokenizer.from_file(tmp_path / "out"),
                   WordPieceTokenizer.from_file(tmp_path / "out" / "vocab.txt")):
        assert loaded.get_vocab() == tok.get_vocab() and loaded.lowercase == tok.lowercase
        for a in SAMPLES:
            assert loaded.encode(a) == tok.encode(a)
            assert loaded.encode(a, "second sentence", max_length=8) == tok.encode(a, "second sentence", max_length=8)

    # The saved tokenizer.json is a standard BERT tokenizer for other tools too.
    plain = Tokenizer.from_file(str(tmp_path / "out" / "tokenizer.json"))
    assert plain.encode("The lazy fox", "the question").ids == tok.encode("The lazy fox", "the question").ids


def test_train_respects_small_vocab_and_casing(corpus):
    cased = WordPieceTokenizer.train(corpus, vocab_size=120, lowercase=False)
    assert cased.vocab_size <= 120 and not cased.lowercase
    assert "T" in cased.get_vocab()
    assert WordPieceTokenizer.train(corpus, vocab_size=120).token_to_id("T") is None


def test_train_refuses_vocab_smaller_than_alphabet(corpus):
    with pytest.raises(ValueError, match="vocab_size=20"):
        WordPieceTokenizer.train(corpus, vocab_size=20)
    assert WordPieceTokenizer.train(corpus, vocab_size=20, limit_alphabet=5).vocab_size <= 20


def test_train_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(TokenizerError, match="nope.txt"):
        WordPieceTokenizer.train([missing], vocab_size=100)


def test_from_file_missing_path(tmp_path):
    with pytest.raises(TokenizerError, match="missing.txt"):
        WordPieceTokenizer.from_file(tmp_path / "missing.txt")
    with pytest.raises(TokenizerError, match="neither"):
        WordPieceTokenizer.from_file(tmp_path)


def test_from_file_empty_vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"vocab\.txt.*empty"):
        WordPieceTokenizer.from_file(path)


def test_from_file_binary_vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(TokenizerError, match=r"vocab\.txt.*UTF-8"):
        WordPieceTokenizer.from_file(path)


@pytest.mark.parametrize("content", ["{not json", "[1, 2, 3]", '{"model": null}', '{"model": {"type": "WordPiece"}}'])
def test_from_file_garbage_tokenizer_json(tmp_path, content):
    path = tmp_path / "tokenizer.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer\.json"):
        WordPieceTokenizer.from_file(path)


def test_from_file_non_wordpiece_tokenizer_json(tmp_path):
    bpe = Tokenizer(BPE(vocab={"a": 0, "b": 1, "ab": 2}, merges=[("a", "b")]))
    path = tmp_path / "bpe" / "tokenizer.json"
    path.parent.mkdir()
    bpe.save(str(path))
    with pytest.raises(TokenizerError, match=r"bpe.tokenizer\.json.*not a WordPiece tokenizer.*BPE"):
        WordPieceTokenizer.from_file(path.parent)


def test_module_imports_no_torch_transformers_or_qt():
    # Load the file itself so that whatever engine/__init__.py imports does not count.
    code = ("import importlib.util, sys; "
            "spec = importlib.util.spec_from_file_location('tok', 'engine/tokenizer.py'); "
            "mod = sys.modules['tok'] = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod); "
            "print([m for m in ('torch', 'transformers', 'PySide6', 'PyQt5', 'PyQt6') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
