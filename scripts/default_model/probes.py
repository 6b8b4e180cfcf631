"""Ten simple modern English sentences (written for this, not from the corpus) and their fill-mask
top-5 from our engine and from `transformers`' fill-mask pipeline."""

from __future__ import annotations

from pathlib import Path

PROBES = (
    "I drink a cup of [MASK] every morning.",
    "She opened the [MASK] and walked into the room.",
    "The children are playing in the [MASK].",
    "He drove his [MASK] to work today.",
    "We ate dinner at a small [MASK] near the station.",
    "My sister reads a [MASK] before she goes to sleep.",
    "It was raining, so I took my [MASK].",
    "The dog [MASK] at the stranger.",
    "There are seven days in a [MASK].",
    "Please turn off the [MASK] when you leave.",
)


Candidate = tuple[int, str, float]  # token id, token, probability


def ours_top5(model_dir: Path) -> list[list[Candidate]]:
    from engine.infer import Predictor

    predictor = Predictor.load(model_dir, device="cpu")
    out = []
    for sentence in PROBES:
        (mask,) = predictor.analyze(sentence, top_k=5).fill_mask
        out.append([(int(i), t, float(p)) for i, t, p in zip(mask.token_ids, mask.tokens, mask.probs)])
    return out


def transformers_top5(model_dir: Path) -> list[list[Candidate]]:
    import torch
    import transformers

    model = transformers.BertForMaskedLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    fill = transformers.pipeline("fill-mask", model=model, tokenizer=tokenizer, device="cpu",
                                 top_k=5)
    return [[(int(c["token"]), tokenizer.convert_ids_to_tokens(int(c["token"])), float(c["score"]))
             for c in fill(s)] for s in PROBES]


def markdown_table(top5: list[list[Candidate]]) -> str:
    rows = ["| sentence | top-5 (probability) |", "| --- | --- |"]
    for sentence, cands in zip(PROBES, top5):
        shown = ", ".join(f"{t} ({p:.2f})" for _, t, p in cands)
        rows.append(f"| {sentence.replace('[MASK]', '`[MASK]`')} | {shown} |")
    return "\n".join(rows)
