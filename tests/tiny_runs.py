"""Real tiny pretraining jobs on a slice of the shipped corpus, for tests that read run folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import CORPUS_SLICE

BERT_ENGINE = str(Path(sys.executable).with_name("bert-engine"))
# BERT-Tiny on 32-token pairs, 12 steps, held-out evaluations every 4 (a fifth held out, so
# there is a held-out split to evaluate), one checkpoint at the end.
TINY_JOB = ["--vocab-size", "2000", "--preset", "tiny", "--seq-len", "32", "--batch-size", "4",
            "--log-every", "1", "--eval-batches", "2", "--heldout-fraction", "0.2",
            "--device", "cpu", "--max-steps", "12", "--eval-every", "4",
            "--checkpoint-every", "12"]


def tiny_corpus(folder: Path) -> Path:
    text = CORPUS_SLICE.read_text(encoding="utf-8")[:120_000].rsplit("\n\n", 1)[0]
    path = folder / "tiny.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def train_tiny_runs(root: Path, learning_rates: dict[str, str]) -> dict[str, Path]:
    """One finished run per name under ``root``, all alike but their --lr; run side by side."""
    corpus = tiny_corpus(root.parent)
    jobs = {name: subprocess.Popen([BERT_ENGINE, "pretrain", "--run-dir", str(root / name),
                                    "--corpus", str(corpus), "--lr", lr, *TINY_JOB],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for name, lr in learning_rates.items()}
    for name, job in jobs.items():
        _, err = job.communicate(timeout=300)
        assert job.returncode == 0, err[-3000:]
    return {name: root / name for name in jobs}
