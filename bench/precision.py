"""Benchmark: bf16 inference against fp32 on the default model: how often the top-1 fill-mask
candidate agrees, how far the attention moves, and the time of one ``analyze()`` in each.

Probe: ``tests/data/precision_probe.txt`` (240 masked sentences from the corpus slice). The two
predictors alternate sentence by sentence, so a change of load hits both alike.

    .venv/bin/python bench/precision.py [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.infer import Predictor  # noqa: E402
from engine.paths import default_model_dir  # noqa: E402
from engine.precision import cpu_bf16_flags, resolve_precision  # noqa: E402

PROBE = ROOT / "tests" / "data" / "precision_probe.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N probe sentences")
    args = parser.parse_args()
    sentences = [line.strip() for line in PROBE.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")][:args.limit]
    fp32 = Predictor.load(default_model_dir(), device="cpu", precision="fp32")
    bf16 = Predictor.load(default_model_dir(), device="cpu", precision="bf16")
    same, worst, times = 0, np.zeros(fp32.config.num_hidden_layers), {"fp32": [], "bf16": []}
    for text in sentences:
        results = {}
        for name, predictor in (("fp32", fp32), ("bf16", bf16)):
            start = time.perf_counter()
            results[name] = predictor.analyze(text)
            times[name].append((time.perf_counter() - start) * 1000)
        a, b = results["fp32"], results["bf16"]
        same += int(a.fill_mask[0].token_ids[0] == b.fill_mask[0].token_ids[0])
        diff = np.abs(a.attentions - b.attentions).reshape(len(worst), -1).max(axis=1)
        worst = np.maximum(worst, diff)
    print(f"# bench/precision.py  torch={torch.__version__}  threads={torch.get_num_threads()}  "
          f"cpu bf16 flags={sorted(cpu_bf16_flags()) or 'none'}  "
          f"auto -> {resolve_precision('auto', torch.device('cpu'))}")
    print(f"| sentences | top-1 agreement | largest attention difference | per layer | "
          f"fp32 median ms | bf16 median ms |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(sentences)} | {same / len(sentences):.1%} ({same}) | {worst.max():.4f} | "
          f"{' '.join(f'{w:.4f}' for w in worst)} | {statistics.median(times['fp32']):.1f} | "
          f"{statistics.median(times['bf16']):.1f} |")


if __name__ == "__main__":
    main()
