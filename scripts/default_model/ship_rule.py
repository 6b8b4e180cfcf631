"""Issue 24's ship rule: a new default model ships only if the test probe improves and none of the
card's held-out measures drops by more than one binomial standard error.

The standard error of an accuracy p measured on n trials is sqrt(p (1 - p) / n); n is the number
of masked tokens (MLM) or of sentence pairs (NSP) that `bert-engine evaluate` reports.
"""

from __future__ import annotations

import math

# (label, result set, metric, count field): the held-out figures of the card's goals (issue 24).
GUARDED = (
    ("masked-token top-1, all held-out", "any", "mlm_acc", "masked_tokens"),
    ("NSP, any other document", "any", "nsp_acc", "pairs"),
    ("NSP, same book: Persuasion", "persuasion", "nsp_acc", "pairs"),
    ("NSP, same book: Acts", "acts", "nsp_acc", "pairs"),
)


def standard_error(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n) if n > 0 else float("inf")


def guarded_rows(baseline: dict, candidate: dict) -> list[dict]:
    """One row per guarded measure present in both result sets: both values, the baseline's
    standard error, and whether the candidate stays within it."""
    rows = []
    for label, group, metric, count in GUARDED:
        if group not in baseline or group not in candidate:
            continue
        before, after = baseline[group][metric], candidate[group][metric]
        se = standard_error(before, baseline[group][count])
        rows.append({"measure": label, "before": before, "after": after, "se": se,
                     "holds": after >= before - se})
    return rows


def ships(baseline: dict, candidate: dict, probe_before: dict, probe_after: dict) -> bool:
    """The rule on the test half of the probe (top-5 and top-1 both not lower, one higher) and
    every guarded measure; a measure missing from either side fails it."""
    before, after = probe_before["summary"]["test"], probe_after["summary"]["test"]
    improves = (after["top5"] >= before["top5"] and after["top1"] >= before["top1"]
                and (after["top5"] > before["top5"] or after["top1"] > before["top1"]))
    rows = guarded_rows(baseline, candidate)
    return improves and len(rows) == len(GUARDED) and all(r["holds"] for r in rows)


def markdown_rows(rows: list[dict]) -> str:
    out = ["| measure | shipped | candidate | shipped's standard error | within it |",
           "| --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        out.append(f"| {r['measure']} | {100 * r['before']:.1f}% | {100 * r['after']:.1f}% | "
                   f"{100 * r['se']:.2f} pp | {'yes' if r['holds'] else '**no**'} |")
    return "\n".join(out)
