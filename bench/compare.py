"""Benchmark: the engine's side of comparing models and scrubbing a run's checkpoints.

*Compare*: ``engine.lab.compare.compare`` of the bundled default model with a second copy of it
(two models open, one traced pass each, hidden states kept) against one ``Predictor.analyze``
of the same text, batch 1, the explorer's usual length (32 tokens) and 128; the two alternate
within every rep. *Scrub*: a real BERT-Mini run (``bert-engine pretrain --preset mini``, the
bert-base-uncased vocabulary, 4 checkpoints), one step's point of
``engine.lab.series.checkpoint_series`` uncached (its checkpoint, the previous and the first
loaded and read) and cached (one JSON read, no model load), each step in turn, fresh caches.
These are engine times only; what the explorer adds (repainting every view) is not in them.

    .venv/bin/python bench/compare.py [--reps 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyze import fixed_pair  # noqa: E402
from common import bert_base_vocab  # noqa: E402
from lab import cpu_name, interleaved_medians  # noqa: E402
from engine.infer import Predictor  # noqa: E402
from engine.lab.compare import compare  # noqa: E402
from engine.lab.series import checkpoint_series  # noqa: E402
from engine.paths import default_model_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BERT_ENGINE = str(Path(sys.executable).with_name("bert-engine"))
SCRUB_TEXT = ("The keeper lit the [MASK] again.", "Ships relied on it.")


def mini_run(folder: Path) -> Path:
    """BERT-Mini, 8 steps on the shipped slice, a checkpoint every 2."""
    run_dir = folder / "mini"
    subprocess.run([BERT_ENGINE, "pretrain", "--run-dir", str(run_dir), "--corpus",
                    str(ROOT / "resources" / "corpus" / "slice.txt"), "--tokenizer",
                    str(bert_base_vocab()), "--preset", "mini", "--seq-len", "32",
                    "--batch-size", "4", "--max-steps", "8", "--checkpoint-every", "2",
                    "--keep-checkpoints", "4", "--eval-batches", "1", "--device", "cpu"],
                   check=True, capture_output=True, timeout=1200)
    return run_dir


def scrub_times(run_dir: Path, folder: Path, reps: int) -> tuple[list[float], list[float]]:
    """ms per point, uncached and cached, over every step ``reps`` times."""
    from engine.runlog import RunFolder

    steps = [step for step, _ in RunFolder(run_dir).checkpoints()]
    uncached, cached = [], []
    for rep in range(reps):
        for step in steps:
            cache = folder / f"cache-{rep}-{step}"
            for times in (uncached, cached):
                t0 = time.perf_counter()
                checkpoint_series(run_dir, *SCRUB_TEXT, cache_dir=cache, steps=[step],
                                  device="cpu")
                times.append((time.perf_counter() - t0) * 1000)
    return uncached, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    print(f"{cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    a = Predictor.load(default_model_dir(), device="cpu")
    b = Predictor.load(default_model_dir(), device="cpu")
    print("| tokens | analyze() ms | compare() ms | ratio |\n|---|---|---|---|")
    for seq_len in (32, 128):
        text = fixed_pair(a.tokenizer, seq_len)
        ms = interleaved_medians({"analyze": lambda: a.analyze(*text),
                                  "compare": lambda: compare(a, b, *text)}, args.reps)
        print(f"| {seq_len} | {ms['analyze']:.1f} | {ms['compare']:.1f} | "
              f"{ms['compare'] / ms['analyze']:.2f}x |")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = mini_run(Path(tmp))
        uncached, cached = scrub_times(run_dir, Path(tmp), max(1, args.reps // 5))
    print("| BERT-Mini checkpoint point | median ms | max ms | n |\n|---|---|---|---|")
    for name, times in (("uncached", uncached), ("cached", cached)):
        print(f"| {name} | {statistics.median(times):.1f} | {max(times):.1f} | {len(times)} |")


if __name__ == "__main__":
    main()
