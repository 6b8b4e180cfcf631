"""The common-knowledge probe of issue 24: cloze sentences of everyday facts, scored top-1 / top-5.

`common_probe.tsv` (next to this file) holds one sentence a line: topic, the sentence with one
`[MASK]`, and its accepted answers (comma-separated, each a single WordPiece token of the default
model's vocabulary). The sentences were written for this probe, before any training on new text.
Each sentence belongs to the dev or the test half by a fixed rule on its text (`split_of`), so the
halves never change when sentences are added elsewhere in the file. Report test; tune on dev.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

PROBE_TSV = Path(__file__).with_name("common_probe.tsv")
MASK = "[MASK]"
SPLITS = ("dev", "test")
TOP_K = 5


class ProbeError(ValueError):
    """A probe file line that cannot be a probe item."""


@dataclass(frozen=True)
class ProbeItem:
    topic: str
    sentence: str            # exactly one [MASK]
    answers: tuple[str, ...]  # accepted answers, lowercase single tokens

    @property
    def split(self) -> str:
        return split_of(self.sentence)


def split_of(sentence: str) -> str:
    """'test' for about half of the sentences, 'dev' for the rest: the parity of the first
    32 bits of the sentence's sha256 (UTF-8)."""
    digest = hashlib.sha256(sentence.encode("utf-8")).digest()
    return "test" if int.from_bytes(digest[:4], "big") % 2 == 0 else "dev"


def parse_probe(text: str) -> list[ProbeItem]:
    """Items of a probe TSV (header line first); raises ProbeError naming the bad line."""
    lines = text.splitlines()
    if not lines or lines[0].split("\t") != ["topic", "sentence", "answers"]:
        raise ProbeError("the first line must be the header 'topic<TAB>sentence<TAB>answers'")
    items, seen = [], set()
    for number, line in enumerate(lines[1:], 2):
        fields = line.split("\t")
        if len(fields) != 3:
            raise ProbeError(f"line {number}: {len(fields)} fields, expected 3")
        topic, sentence, answers = fields
        if sentence.count(MASK) != 1:
            raise ProbeError(f"line {number}: the sentence must hold exactly one {MASK}")
        if sentence in seen:
            raise ProbeError(f"line {number}: the sentence appears twice")
        accepted = tuple(a.strip() for a in answers.split(",") if a.strip())
        if not accepted or any(a != a.lower() for a in accepted):
            raise ProbeError(f"line {number}: answers must be lowercase and at least one")
        seen.add(sentence)
        items.append(ProbeItem(topic, sentence, accepted))
    return items


def load_probe(path: Path = PROBE_TSV) -> list[ProbeItem]:
    return parse_probe(path.read_text(encoding="utf-8"))


def multi_token_answers(items: list[ProbeItem], vocab: set[str]) -> list[tuple[str, str]]:
    """(sentence, answer) for every accepted answer that is not one token of ``vocab``."""
    return [(it.sentence, a) for it in items for a in it.answers if a not in vocab]


def rank_of_answer(candidates: list[str], answers: tuple[str, ...]) -> int | None:
    """1-based rank of the first accepted answer among the model's candidates, None if absent."""
    for rank, token in enumerate(candidates, 1):
        if token in answers:
            return rank
    return None


def score(predictor, items: list[ProbeItem]) -> dict:
    """top-1 and top-5 (share of sentences with an accepted answer at rank 1 / within 5) on each
    split, and each sentence's top-5, using ``engine.infer.Predictor.analyze``."""
    rows = []
    for item in items:
        (mask,) = predictor.analyze(item.sentence, top_k=TOP_K).fill_mask
        rank = rank_of_answer(list(mask.tokens), item.answers)
        rows.append({"split": item.split, "topic": item.topic, "sentence": item.sentence,
                     "answers": list(item.answers), "top5": list(mask.tokens), "rank": rank})
    summary = {}
    for split in SPLITS:
        ranks = [r["rank"] for r in rows if r["split"] == split]
        summary[split] = {"sentences": len(ranks),
                          "top1": sum(r == 1 for r in ranks) / max(1, len(ranks)),
                          "top5": sum(r is not None for r in ranks) / max(1, len(ranks))}
    return {"summary": summary, "sentences": rows}


def markdown_summary(result: dict) -> str:
    rows = ["| split | sentences | top-1 | top-5 |", "| --- | ---: | ---: | ---: |"]
    for split in SPLITS:
        s = result["summary"][split]
        rows.append(f"| {split} | {s['sentences']} | {100 * s['top1']:.1f}% | {100 * s['top5']:.1f}% |")
    return "\n".join(rows)
