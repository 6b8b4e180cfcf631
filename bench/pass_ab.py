"""Before/after for the model pass: one-thread CPU time of ``Predictor.analyze`` in two
checkouts of this project, alternated in child processes, with the outputs compared.

Models and texts are ``bench/gui_latency.py``'s (random weights, bert-base-uncased vocab, one
[MASK]): Mini and Base at ~128 tokens, and with ``--large`` the 24 x 16 model at 512 tokens.
Each child times every model in its checkout (CPU time of one thread moves far less with other
load than wall time) and saves its first analysis; the table gives the medians over all rounds
and the largest difference between the two checkouts' attention maps and fill-mask
probabilities.

    .venv/bin/python bench/pass_ab.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 3] [--large]
                                      [--precision fp32|bf16]

e.g. ``git archive <commit> | tar -x -C /tmp/before`` for BEFORE_CHECKOUT.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import ab_parser, alternate_checkouts, cpu_description  # noqa: E402

SIZES = {"mini": (50, 30), "base": (50, 10), "large": (240, 3)}  # words each side, analyses


def measure(checkout: str, models: str, out: str, precision: str) -> dict[str, list[float]]:
    """In a child whose first import path is ``checkout``: ms per analysis for each model."""
    sys.path.insert(0, checkout)
    import torch

    import gui_latency
    from engine.infer import Predictor

    torch.set_num_threads(1)
    times = {}
    for preset in models.split(","):
        words, count = SIZES[preset]
        predictor = Predictor.load(str(Path(out).parent / preset), device="cpu",
                                   precision=precision)
        pairs = gui_latency.texts(count + 1, words)
        first = predictor.analyze(*pairs[0])  # also the warm-up
        np.savez(Path(out) / f"{preset}.npz", attentions=first.attentions,
                 probs=first.fill_mask[0].probs, ids=first.fill_mask[0].token_ids)
        values = []
        for pair in pairs[1:]:
            start = time.process_time()
            predictor.analyze(*pair)
            values.append((time.process_time() - start) * 1000)
        times[f"{preset} ({first.num_tokens} tokens)"] = values
        del predictor
    return times


def main() -> None:
    parser = ab_parser(__doc__.split("\n\n")[0], child_args=4)
    parser.add_argument("--large", action="store_true", help="also the 24 x 16 model at 512")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    import torch

    import gui_latency

    models = ["mini", "base"] + (["large"] if args.large else [])
    with tempfile.TemporaryDirectory() as tmp:
        for preset in models:
            gui_latency.make_model(Path(tmp), preset)
        def child_args(side: str, checkout: str) -> list[str]:
            (Path(tmp) / side).mkdir(exist_ok=True)
            return [checkout, ",".join(models), str(Path(tmp) / side), args.precision]

        runs, loads = alternate_checkouts(__file__, args.before, args.after, args.rounds,
                                          child_args, tmp)
        diffs = {}
        for preset in models:
            a, b = (np.load(Path(tmp) / side / f"{preset}.npz") for side in ("before", "after"))
            diffs[preset] = (np.abs(a["attentions"] - b["attentions"]).max(),
                             np.abs(a["probs"] - b["probs"]).max(),
                             bool((a["ids"] == b["ids"]).all()))
    print(f"# bench/pass_ab.py  {cpu_description()}; torch {torch.__version__}, 1 thread, CPU "
          f"time, {args.precision}, {args.rounds} alternated rounds, load {min(loads):.1f}-"
          f"{max(loads):.1f}")
    print("| model | before ms | after ms | after / before | max attention diff | "
          "max fill-mask prob diff | same top-10 |")
    print("|---|---|---|---|---|---|---|")
    for name, preset in zip(runs["before"], models):
        before, after = (statistics.median(runs[s][name]) for s in ("before", "after"))
        attention, probs, same = diffs[preset]
        print(f"| {name} | {before:.1f} | {after:.1f} | {after / before:.2f} | {attention:.1e} | "
              f"{probs:.1e} | {same} |")


if __name__ == "__main__":
    main()
