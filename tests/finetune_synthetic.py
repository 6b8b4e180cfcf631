"""Small labelled data sets whose answers are learnable, for fine-tuning tests: written in the
real file formats (JSONL, CoNLL, SQuAD JSON) so the tests go through the real readers."""

from __future__ import annotations

import json
import random
from pathlib import Path

WORDS = "red blue green yellow cat dog horse bird house tree river stone cloud bread milk door".split()
ANIMALS = "cat dog bird horse cow fish".split()
COLORS = "red blue green yellow black white".split()
FILLER = "we saw a the near old house by river yesterday and then".split()
FIRST_NAMES = "alice bob carol dave erin frank".split()
LAST_NAMES = "smith jones brown".split()
CITIES = "paris london rome tokyo".split()
TAG_FILLER = "went to the with and saw met in yesterday a friend".split()


def pair_rows(n: int, seed: int) -> list[dict]:
    """B is A's words shuffled ("same") or four other words ("different"), half and half."""
    r = random.Random(seed)
    rows = []
    for i in range(n):
        a = r.sample(WORDS, 4)
        if i % 2 == 0:
            b, label = r.sample(a, 4), "same"
        else:
            b, label = r.sample([w for w in WORDS if w not in a], 4), "different"
        rows.append({"text": " ".join(a), "text_b": " ".join(b), "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tagged_sentences(n: int, seed: int) -> list[list[tuple[str, str]]]:
    """People (one or two words: B-PER I-PER) and cities (B-LOC) among filler words (O)."""
    r = random.Random(seed)
    sentences = []
    for _ in range(n):
        words: list[tuple[str, str]] = []
        for _ in range(r.randint(2, 3)):
            words += [(w, "O") for w in r.sample(TAG_FILLER, r.randint(1, 2))]
            kind = r.choice(["per", "per2", "loc"])
            if kind == "loc":
                words.append((r.choice(CITIES), "B-LOC"))
            else:
                words.append((r.choice(FIRST_NAMES), "B-PER"))
                if kind == "per2":
                    words.append((r.choice(LAST_NAMES), "I-PER"))
        sentences.append(words)
    return sentences


def write_conll(path: Path, sentences: list[list[tuple[str, str]]]) -> Path:
    """Two columns (word, POS placeholder) and the tag last, -DOCSTART- first, as CoNLL-2003."""
    blocks = ["-DOCSTART- -X- O\n"]
    blocks += ["".join(f"{w} NN {t}\n" for w, t in sentence) for sentence in sentences]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def squad_data(n: int, seed: int) -> dict:
    """A context naming one animal and one colour among filler; the question asks for one."""
    r = random.Random(seed)
    paragraphs = []
    for i in range(n):
        words = r.sample(FILLER, 6)
        animal, color = r.choice(ANIMALS), r.choice(COLORS)
        words.insert(r.randrange(7), animal)
        words.insert(r.randrange(8), color)
        ask = r.choice(["animal", "color"])
        answer = animal if ask == "animal" else color
        at = words.index(answer)
        start = len(" ".join(words[:at])) + (1 if at else 0)
        paragraphs.append({"context": " ".join(words) + ".", "qas": [{
            "id": f"q{seed}-{i}", "question": f"Which {ask} is named?",
            "answers": [{"text": answer, "answer_start": start}]}]})
    return {"version": "1.1", "data": [{"title": "synthetic", "paragraphs": paragraphs}]}


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
