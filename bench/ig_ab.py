"""Before/after for integrated gradients in one process: ours with the twin's packed oneDNN
products (``engine.lab.packed_grad``), ours with those layers run as plain ``F.linear`` (the
code before them), and Captum's ``IntegratedGradients`` over ``transformers`` (``bench/lab.py``'s
stock way), alternating within every rep; one thread, CPU time by default.

    .venv/bin/python bench/ig_ab.py MODEL_DIR [--steps 64] [--reps 1] [--threads 1]

MODEL_DIR: a ``transformers`` BertForPreTraining folder, e.g. the bert-base-size one
``bench/analyze.py``'s ``make_checkpoint`` writes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lab  # noqa: E402
from analyze import fixed_pair  # noqa: E402
from engine.infer import Predictor  # noqa: E402
from engine.lab.packed_grad import GradLinear  # noqa: E402
from engine.lab.salience import integrated_gradients, prepare  # noqa: E402
from engine.lab.weights import float32_model  # noqa: E402

BATCH = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--steps", type=int, default=lab.IG_STEPS)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="1: CPU time; more: wall time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    lab.IG_STEPS = args.steps  # the stock side reads it
    predictor = Predictor.load(args.model, device="cpu")
    text_a, text_b = fixed_pair(predictor.tokenizer, 128)
    problem = prepare(predictor, text_a, text_b)
    layers = [m for m in float32_model(predictor).modules() if isinstance(m, GradLinear)]
    packs = [layer.packs for layer in layers]

    def packed() -> torch.Tensor:
        return integrated_gradients(problem.function, problem.embeds, problem.baseline,
                                    args.steps, lab.RULE, BATCH)[0]

    def plain() -> torch.Tensor:
        for layer in layers:
            layer.packs = None  # GradLinear's F.linear fallback
        try:
            return packed()
        finally:
            for layer, pack in zip(layers, packs):
                layer.packs = pack

    stock = lab.stock_ig(Path(args.model), predictor, problem, text_a, text_b, BATCH)
    reference = stock()
    diffs = {name: float((run() - reference).abs().max())
             for name, run in (("packed", packed), ("plain", plain))}
    times = {"packed": [], "plain": [], "stock": []}
    for _ in range(args.reps):
        for name, run in (("packed", packed), ("plain", plain), ("stock", stock)):
            start = clock()
            run()
            times[name].append(clock() - start)
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"load {os.getloadavg()[0]:.1f}  threads {args.threads}  steps {args.steps}  "
          f"{len(layers)} packed layers  max diff vs Captum: packed {diffs['packed']:.1e}, "
          f"plain {diffs['plain']:.1e}")
    print(f"packed {ms['packed']:.0f} ms ({ms['packed'] / ms['stock']:.3f}x of stock)  "
          f"plain {ms['plain']:.0f} ms ({ms['plain'] / ms['stock']:.3f}x)  "
          f"stock {ms['stock']:.0f} ms")


if __name__ == "__main__":
    main()
