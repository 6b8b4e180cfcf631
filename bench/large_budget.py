"""Benchmark: can the 24-layer x 16-head model analyse 512 tokens in <= 2 s on this CPU?

The explorer's ``--large`` edit (``bench/gui_latency.py --large``) is almost all model pass.
This script counts the matrix-product FLOPs that ``Predictor.analyze`` cannot avoid at 512
tokens (every layer over every token, the last layer only at [CLS] and the [MASK] rows, the
decoder only at the [MASK] rows), measures this CPU's fp32 matmul ceiling in the same run
(oneDNN on a packed weight, what the encoder runs; MKL's ``a @ b`` printed beside it: on an AMD
CPU MKL takes a generic path at less than half that rate), and prints the lower bound they give
beside the measured pass (fp32, and bf16 where the CPU has AMX or AVX-512 BF16). Random weights, bert-base-uncased vocab. Printed, not asserted.

    .venv/bin/python bench/large_budget.py [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import cpu_description, fp32_ceiling_text, fp32_matmul_ceilings  # noqa: E402

BUDGET_S = 2.0  # issue 25 item 1: each --large edit


def pass_flops(cfg, tokens: int, rows: int) -> float:
    """Matrix-product FLOPs of one analysis: ``tokens`` through every layer, the last layer's
    queries, FFN and decoder only at ``rows`` ([CLS] and the [MASK]s; keys and values at every
    token), at B = 1. Element-wise work (softmax, LayerNorm, GELU) is not counted."""
    h, i, v = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    full = 2 * tokens * (4 * h * h + 2 * h * i) + 4 * tokens * tokens * h  # QKVO, FFN, QK^T, PV
    last = 2 * tokens * 2 * h * h + 2 * rows * (2 * h * h + 2 * h * i) + 4 * rows * tokens * h
    masks = rows - 1
    return (cfg.num_hidden_layers - 1) * full + last + 2 * masks * (h * h + h * v)


def time_pass(predictor, text_a: str, text_b: str, reps: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``reps`` analyses (after one warm-up)."""
    predictor.analyze(text_a, text_b)
    walls, cpus = [], []
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        predictor.analyze(text_a, text_b)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    import torch

    import gui_latency
    from engine.config import BertConfig
    from engine.infer import Predictor
    from engine.precision import resolve_precision

    cfg = BertConfig.preset("large", vocab_size=30522)
    text_a, text_b = gui_latency.texts(1, 240)[0]
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"# bench/large_budget.py  {cpu_description()}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {uptime}")
    ceilings = fp32_matmul_ceilings()
    ceiling = max(ceilings.values())  # the route the encoder's Linear layers run on
    with tempfile.TemporaryDirectory() as tmp:
        folder = gui_latency.make_model(Path(tmp), "large")
        precisions = ["fp32"] + (["bf16"] if resolve_precision("auto", torch.device("cpu")) == "bf16" else [])
        rows = []
        for precision in precisions:
            predictor = Predictor.load(str(folder), device="cpu", precision=precision)
            analysis = predictor.analyze(text_a, text_b)
            tokens = analysis.num_tokens
            masked = len(analysis.fill_mask)
            wall, cpu = time_pass(predictor, text_a, text_b, args.reps)
            rows.append((precision, tokens, masked, wall, cpu))
            del predictor
    flops = pass_flops(cfg, rows[0][1], 1 + rows[0][2])
    bound = flops / (ceiling * 1e9)
    print(f"{fp32_ceiling_text(detail=f'{os.cpu_count()} cores', ceilings=ceilings)}; "
          f"the pass's matrix products: {flops / 1e9:.0f} GFLOP -> at least {bound:.2f} s in "
          f"fp32 (budget {BUDGET_S:.1f} s)")
    print("| precision | tokens | [MASK]s | pass wall s | pass CPU s | GFLOP/s achieved | "
          "wall / fp32 bound |")
    print("|---|---|---|---|---|---|---|")
    for precision, tokens, masked, wall, cpu in rows:
        print(f"| {precision} | {tokens} | {masked} | {wall:.2f} | {cpu:.2f} | "
              f"{flops / wall / 1e9:.0f} | {wall / bound:.2f}x |")


if __name__ == "__main__":
    main()
