"""`bert-engine evaluate` on every held-out measure of the default model.

"any": all held-out documents together, NSP negatives from any other held-out document.
Per group (persuasion, acts, jargon): NSP negatives from another document of the same book or
collection. "wordnet" (issue 24's new text, prepared from WORK/text/heldout-own/wordnet.txt and
kept out of "any"): NSP negatives from another held-out WordNet document. Batch counts cover each
set about twice (pairs and masks differ per pass).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BATCHES = {"any": 70, "persuasion": 56, "acts": 16, "jargon": 8, "wordnet": 43}
BATCH_SIZE = 32
SEQ_LEN = 128


def data_folder(work: Path, vocab: str, measure: str) -> Path:
    """The prepared data for a measure: WORK/data-VOCAB (held-out split) or WORK/eval-VOCAB/GROUP."""
    return work / f"data-{vocab}" if measure == "any" else work / f"eval-{vocab}" / measure


def command(model: Path, work: Path, vocab: str, measure: str) -> list[str]:
    return ["bert-engine", "evaluate", "--model", str(model),
            "--data", str(data_folder(work, vocab, measure)), "--split", "heldout",
            "--seq-len", str(SEQ_LEN), "--batch-size", str(BATCH_SIZE),
            "--batches", str(BATCHES[measure]), "--device", "cpu", "--json"]


def evaluate_all(model: Path, work: Path, vocab: str) -> dict[str, dict]:
    engine = str(Path(sys.executable).with_name("bert-engine"))
    results = {}
    for measure in BATCHES:
        cmd = command(model, work, vocab, measure)
        out = subprocess.run([engine, *cmd[1:]], capture_output=True, text=True, check=True)
        results[measure] = json.loads(out.stdout)
    return results
