"""BERT WordPiece tokenizer over HF `tokenizers` (Rust).

The Rust tokenizer only splits text into word pieces (no special tokens, no
truncation, no padding); this module adds the `[CLS] A [SEP] (B [SEP])` template
and truncation itself so it can report exactly what was cut.

One deliberate difference from `transformers.BertTokenizerFast`: only `[MASK]`
typed in the text becomes a special token. A typed "[CLS]", "[SEP]", "[PAD]" or
"[UNK]" is ordinary text, so a user cannot forge the structure of the input.

Never imports Qt, torch or transformers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import WordPiece

from engine import atomic
from engine.results import TokenizerError

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, MASK)  # also the id order of a trained vocab
_CONTINUING_PREFIX = "##"
_MAX_CHARS_PER_WORD = 100
# Share of (non-bracketed) vocab entries with an uppercase letter above which a
# vocab.txt counts as cased: an uncased BERT vocab has none at all.
_CASED_SHARE = 0.01
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Encoding:
    ids: list[int]
    tokens: list[str]
    token_type_ids: list[int]
    special_tokens_mask: list[int]  # 1 only for the template's [CLS]/[SEP]; a typed [MASK] is input text
    offsets: list[tuple[int, int]]  # char offsets into the original text of the token's segment
    word_ids: list[int | None]  # word index within its segment
    sequence_ids: list[int | None]
    truncated_a: int
    truncated_b: int
    has_pair: bool
    warnings: tuple[str, ...]

    @property
    def truncated(self) -> bool:
        return self.truncated_a + self.truncated_b > 0

    def __len__(self) -> int:
        return len(self.ids)


def _bert_pipeline(vocab: dict[str, int], lowercase: bool) -> Tokenizer:
    tok = Tokenizer(WordPiece(vocab, unk_token=UNK, continuing_subword_prefix=_CONTINUING_PREFIX,
                              max_input_chars_per_word=_MAX_CHARS_PER_WORD))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix=_CONTINUING_PREFIX)
    return tok


def _normalizer_lowercases(spec: dict | None) -> bool:
    if not spec:
        return False
    kind = spec.get("type")
    if kind == "BertNormalizer":
        return bool(spec.get("lowercase", True))
    if kind == "Lowercase":
        return True
    if kind == "Sequence":
        return any(_normalizer_lowercases(s) for s in spec.get("normalizers", []))
    return False


def _looks_cased(tokens: list[str]) -> bool:
    words = [t for t in tokens if not (t.startswith("[") and t.endswith("]"))]
    cased = sum(1 for t in words if any(c.isupper() for c in t))
    return bool(words) and cased / len(words) > _CASED_SHARE


def _read_vocab_txt(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise TokenizerError(f"{path}: not UTF-8 text ({e})") from None
    except OSError as e:
        raise TokenizerError(f"{path}: cannot read ({e.strerror or e})") from None
    # Split on "\n" only: str.splitlines() would also split on \x85, \u2028... which can be vocab entries.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _validated_vocab(vocab: list[str] | dict[str, int], source: str) -> dict[str, int]:
    """Check that ids are exactly 0..n-1, tokens are unique one-line strings and the BERT specials exist."""
    if isinstance(vocab, dict):
        tokens: list = [None] * len(vocab)
        for tok, i in vocab.items():
            if type(i) is not int or not 0 <= i < len(vocab) or tokens[i] is not None:
                raise TokenizerError(f"{source}: vocabulary ids must be exactly 0..{len(vocab) - 1}")
            tokens[i] = tok
    else:
        tokens = list(vocab)
    if not tokens:
        raise TokenizerError(f"{source}: the vocabulary is empty")
    index: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        if not isinstance(tok, str) or not tok or "\n" in tok or "\r" in tok:
            raise TokenizerError(f"{source}: entry {i} ({tok!r}) is not a non-empty one-line string")
        if tok in index:
            raise TokenizerError(f"{source}: token {tok!r} appears twice (ids {index[tok]} and {i})")
        index[tok] = i
    missing = [t for t in SPECIAL_TOKENS if t not in index]
    if missing:
        raise TokenizerError(f"{source}: missing special tokens {', '.join(missing)}")
    return index


def _truncated_lengths(n_a: int, n_b: int, budget: int) -> tuple[int, int]:
    """How many tokens of A and B to keep so that both fit `budget` positions.

    This is the Rust `tokenizers` LongestFirst rule (what BertTokenizerFast does),
    not the one-token-at-a-time loop of the old Python tokenizers: when both
    segments must be cut, each gets budget // 2 and the odd position goes to the
    longer one (to B on a tie).
    """
    if n_a + n_b <= budget:
        return n_a, n_b
    short, long_ = min(n_a, n_b), max(n_a, n_b)
    if budget - short >= short:  # only the longer one is cut
        long_ = budget - short
    else:
        short, long_ = budget // 2, budget // 2 + budget % 2
    return (long_, short) if n_a > n_b else (short, long_)


class WordPieceTokenizer:
    """A BERT WordPiece tokenizer; build it with from_file(), from_vocab() or train()."""

    def __init__(self, tokenizer: Tokenizer, vocab: dict[str, int], lowercase: bool, source: str):
        # Callers hand over a tokenizer without added special tokens: those would be
        # matched in typed text, which only [MASK] (added here) may be.
        # Baked-in padding/truncation would silently change lengths.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        tokenizer.add_special_tokens([AddedToken(MASK, special=True, normalized=False)])
        # Unused by encode() (which assembles the template itself); kept for tools reading a saved tokenizer.json.
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{CLS}:0 $A:0 {SEP}:0", pair=f"{CLS}:0 $A:0 {SEP}:0 $B:1 {SEP}:1",
            special_tokens=[(CLS, vocab[CLS]), (SEP, vocab[SEP])])
        full = tokenizer.get_vocab(with_added_tokens=True)
        if sorted(full.values()) != list(range(len(full))):
            raise TokenizerError(f"{source}: token ids are not exactly 0..{len(full) - 1}")
        self._tok = tokenizer
        self._vocab = full
        self._id_to_token = sorted(full, key=full.__getitem__)
        self._lowercase = lowercase
        self._pad, self._unk, self._cls, self._sep, self._mask = (full[t] for t in SPECIAL_TOKENS)

    # ----- construction -----

    @classmethod
    def from_vocab(cls, vocab: list[str] | dict[str, int], lowercase: bool = True) -> WordPieceTokenizer:
        index = _validated_vocab(vocab, "vocabulary")
        return cls(_bert_pipeline(index, lowercase), index, lowercase, "vocabulary")

    @classmethod
    def from_file(cls, path: str | os.PathLike, lowercase: bool | None = None) -> WordPieceTokenizer:
        """Load vocab.txt, tokenizer.json, or a folder holding either (tokenizer.json preferred).

        `lowercase` applies to vocab.txt only (None: autodetect from the vocab's casing);
        a tokenizer.json keeps its own normalizer.
        """
        path = Path(path)
        if path.is_dir():
            for name in ("tokenizer.json", "vocab.txt"):
                if (path / name).is_file():
                    path = path / name
                    break
            else:
                raise TokenizerError(f"{path}: folder holds neither tokenizer.json nor vocab.txt")
        if not path.is_file():
            raise TokenizerError(f"{path}: no such file")
        if path.suffix == ".json":
            return cls._from_tokenizer_json(path)
        tokens = _read_vocab_txt(path)
        index = _validated_vocab(tokens, str(path))
        if lowercase is None:
            lowercase = not _looks_cased(tokens)
        return cls(_bert_pipeline(index, lowercase), index, lowercase, str(path))

    @classmethod
    def _from_tokenizer_json(cls, path: Path) -> WordPieceTokenizer:
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TokenizerError(f"{path}: not a readable JSON file ({e})") from None
        model = spec.get("model") if isinstance(spec, dict) else None
        if not isinstance(model, dict) or model.get("type") != "WordPiece":
            kind = model.get("type") if isinstance(model, dict) else None
            raise TokenizerError(f"{path}: not a WordPiece tokenizer (model type {kind!r})")
        if not isinstance(model.get("vocab"), dict):
            raise TokenizerError(f"{path}: WordPiece model has no vocab")
        index = _validated_vocab(model["vocab"], str(path))
        # Special added tokens would be matched in typed text ([MASK] is re-added by __init__).
        spec["added_tokens"] = [t for t in spec.get("added_tokens") or []
                                if not (isinstance(t, dict) and t.get("special"))]
        try:
            tok = Tokenizer.from_str(json.dumps(spec))
        except Exception as e:  # the Rust loader raises plain Exception
            raise TokenizerError(f"{path}: invalid tokenizer.json ({e})") from None
        return cls(tok, index, _normalizer_lowercases(spec.get("normalizer")), str(path))

    @classmethod
    def train(cls, files: list[str | os.PathLike], vocab_size: int = 30522, lowercase: bool = True,
              min_frequency: int = 2, limit_alphabet: int = 1000) -> WordPieceTokenizer:
        """Learn a new WordPiece vocab from UTF-8 text files; ids 0-4 are [PAD] [UNK] [CLS] [SEP] [MASK]."""
        paths = [str(f) for f in files]
        for p in paths:
            if not os.path.isfile(p):
                raise TokenizerError(f"{p}: no such file")
        return cls._train(lambda tok, trainer: tok.train(paths, trainer), ", ".join(paths),
                          vocab_size, lowercase, min_frequency, limit_alphabet)

    @classmethod
    def train_from_texts(cls, texts: Iterable[str], source: str, vocab_size: int = 30522,
                         lowercase: bool = True, min_frequency: int = 2,
                         limit_alphabet: int = 1000) -> WordPieceTokenizer:
        """As :meth:`train`, from any stream of text (e.g. lines of compressed files)."""
        return cls._train(lambda tok, trainer: tok.train_from_iterator(texts, trainer), source,
                          vocab_size, lowercase, min_frequency, limit_alphabet)

    @classmethod
    def _train(cls, run, source: str, vocab_size: int, lowercase: bool, min_frequency: int,
               limit_alphabet: int) -> WordPieceTokenizer:
        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"vocab_size must exceed {len(SPECIAL_TOKENS)}, got {vocab_size}")
        tok = _bert_pipeline({}, lowercase)
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, limit_alphabet=limit_alphabet,
            special_tokens=list(SPECIAL_TOKENS), continuing_subword_prefix=_CONTINUING_PREFIX,
            show_progress=False)
        try:
            run(tok, trainer)
        except Exception as e:
            raise TokenizerError(f"{source}: training failed ({e})") from None
        learned = tok.get_vocab(with_added_tokens=False)
        # The trainer keeps the whole alphabet (and its ## forms) even past vocab_size.
        if len(learned) > vocab_size:
            raise ValueError(f"the corpus alphabet alone needs {len(learned)} entries, more than "
                             f"vocab_size={vocab_size}; raise vocab_size or lower limit_alphabet")
        # Rebuild from the learned vocab so a trained tokenizer is exactly a from_vocab() one.
        return cls.from_vocab(learned, lowercase=lowercase)

    def save(self, folder: str | os.PathLike) -> None:
        """Write vocab.txt and a standard BERT tokenizer.json (no padding/truncation), each atomically."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        spec = json.loads(self._tok.to_str())
        # Other tools expect all five specials as added tokens (from_file drops them again).
        extra = [t for t in spec.get("added_tokens", []) if not t.get("special")]
        spec["added_tokens"] = [
            {"id": self._vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for t in SPECIAL_TOKENS] + extra
        atomic.write_text(folder / "vocab.txt", "".join(t + "\n" for t in self._id_to_token))
        atomic.write_text(folder / "tokenizer.json", json.dumps(spec, ensure_ascii=False, indent=2))

    # ----- encoding -----

    def encode(self, text_a: str, text_b: str | None = None, max_length: int = 512) -> Encoding:
        # Plain encode, not the batch encoder: one call gains nothing from Rust's thread pool,
        # and touching that pool makes `tokenizers` warn in every forked DataLoader worker.
        b = self._tok.encode(_clean(text_b), add_special_tokens=False) if _present(text_b) else None
        return self._assemble(text_a, self._tok.encode(_clean(text_a), add_special_tokens=False), b, max_length)

    def encode_batch(self, pairs: list[tuple[str, str | None]], max_length: int = 512) -> list[Encoding]:
        texts = [_clean(t) for a, b in pairs for t in ((a, b) if _present(b) else (a,))]
        pieces = iter(self._tok.encode_batch(texts, add_special_tokens=False))
        return [self._assemble(a, next(pieces), next(pieces) if _present(b) else None, max_length)
                for a, b in pairs]

    def encode_words(self, words: list[str], max_length: int = 512) -> Encoding:
        """One segment from words already split (a CoNLL sentence): ``word_ids`` index
        ``words``, so a word the pre-tokenizer would split (``U.S.``) stays one word."""
        if not words:
            raise ValueError("encode_words needs at least one word")
        pieces = self._tok.encode([_clean(w) for w in words], is_pretokenized=True,
                                  add_special_tokens=False)
        return self._assemble(" ".join(words), pieces, None, max_length)

    def encode_plain(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of many texts at once (Rust thread pool): no special tokens, no truncation.

        For corpus preparation: here a typed "[MASK]" is ordinary text, like the other specials.
        """
        if self.__dict__.get("_plain") is None:
            spec = json.loads(self._tok.to_str())
            spec["added_tokens"], spec["post_processor"] = [], None
            self._plain = Tokenizer.from_str(json.dumps(spec))
        return [e.ids for e in self._plain.encode_batch_fast([_clean(t) for t in texts],
                                                              add_special_tokens=False)]

    def encode_pieces(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Word-piece ids of one text and each piece's char span in `text`; no special tokens, no truncation.

        For callers that cut long texts into windows themselves (SQuAD's document stride).
        """
        pieces = self._tok.encode(_clean(text), add_special_tokens=False)
        return pieces.ids, pieces.offsets

    def _assemble(self, text_a: str, a, b, max_length: int) -> Encoding:
        n_special = 3 if b is not None else 2
        if max_length < n_special:
            raise ValueError(f"max_length {max_length} leaves no room for the {n_special} special tokens")
        n_a, n_b = len(a.ids), len(b.ids) if b is not None else 0
        keep_a, keep_b = _truncated_lengths(n_a, n_b, max_length - n_special)
        cut_a, cut_b = n_a - keep_a, n_b - keep_b

        warnings = []
        if not text_a.strip():
            warnings.append("sentence A is empty")
        elif n_a == 0:
            warnings.append("sentence A has no tokens after normalization")
        if b is not None and n_b == 0:
            warnings.append("sentence B has no tokens after normalization")
        if cut_a or cut_b:
            detail = f" (A: {cut_a}, B: {cut_b})" if b is not None else ""
            warnings.append(f"truncated {cut_a + cut_b} tokens{detail} to fit {max_length} positions")

        ids, tokens = [self._cls, *a.ids[:keep_a], self._sep], [CLS, *a.tokens[:keep_a], SEP]
        offsets = [(0, 0), *a.offsets[:keep_a], (0, 0)]
        word_ids = [None, *a.word_ids[:keep_a], None]
        sequence_ids = [None, *[0] * keep_a, None]
        type_ids = [0] * (keep_a + 2)
        special = [1, *[0] * keep_a, 1]
        if b is not None:
            ids += [*b.ids[:keep_b], self._sep]
            tokens += [*b.tokens[:keep_b], SEP]
            offsets += [*b.offsets[:keep_b], (0, 0)]
            word_ids += [*b.word_ids[:keep_b], None]
            sequence_ids += [*[1] * keep_b, None]
            type_ids += [1] * (keep_b + 1)
            special += [*[0] * keep_b, 1]
        return Encoding(ids=ids, tokens=tokens, token_type_ids=type_ids, special_tokens_mask=special,
                        offsets=offsets, word_ids=word_ids, sequence_ids=sequence_ids,
                        truncated_a=cut_a, truncated_b=cut_b, has_pair=b is not None, warnings=tuple(warnings))

    # ----- vocabulary -----

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    @property
    def lowercase(self) -> bool:
        return self._lowercase

    @property
    def pad_id(self) -> int:
        return self._pad

    @property
    def unk_id(self) -> int:
        return self._unk

    @property
    def cls_id(self) -> int:
        return self._cls

    @property
    def sep_id(self) -> int:
        return self._sep

    @property
    def mask_id(self) -> int:
        return self._mask

    def id_to_token(self, i: int) -> str:
        if not 0 <= i < len(self._id_to_token):
            raise IndexError(f"token id {i} is outside the vocabulary (0..{len(self._id_to_token) - 1})")
        return self._id_to_token[i]

    def token_to_id(self, tok: str) -> int | None:
        return self._vocab.get(tok)

    def get_vocab(self) -> dict[str, int]:
        return dict(self._vocab)

    def convert_ids_to_tokens(self, ids) -> list[str]:
        return [self.id_to_token(int(i)) for i in ids]


def _present(text_b: str | None) -> bool:
    # A missing or whitespace-only B means a single segment.
    return text_b is not None and bool(text_b.strip())


def _clean(text: str) -> str:
    # Rust strings cannot hold lone surrogates; a 1:1 replacement keeps offsets valid.
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)
