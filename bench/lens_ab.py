"""Before/after for the logit lens: ``engine.lab.lens.logit_lens`` at the [MASK] and one
``Predictor.analyze`` alternate within every rep (median), in the checkout given; run it for
two checkouts in turn. One thread and CPU time by default (it moves far less with other load
than wall time); ``--threads 2`` times the wall clock with two threads instead.

    .venv/bin/python bench/lens_ab.py CHECKOUT [--model DIR] [--reps 20] [--threads 1]

e.g. ``git archive <commit> | tar -x -C /tmp/before`` for the checkout before a change.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout")
    parser.add_argument("--model", help="checkpoint folder (default: the bundled model)")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    sys.path[:0] = [args.checkout, args.checkout + "/bench"]  # that checkout's code and helpers
    import torch
    from analyze import fixed_pair

    from engine.infer import Predictor
    from engine.lab.lens import logit_lens
    from engine.paths import default_model_dir

    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    predictor = Predictor.load(args.model or default_model_dir(), device="cpu")
    text_a, text_b = fixed_pair(predictor.tokenizer, 128)
    calls = {"analyze()": lambda: predictor.analyze(text_a, text_b),
             "lens": lambda: logit_lens(predictor, text_a, text_b)}
    for call in calls.values():
        call()  # warm-up
    times = {name: [] for name in calls}
    for _ in range(args.reps):
        for name, call in calls.items():
            start = clock()
            call()
            times[name].append((clock() - start) * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["analyze()"]
    what = "CPU" if args.threads == 1 else "wall"
    print(f"{args.checkout}  threads {args.threads} ({what})  load {os.getloadavg()[0]:.1f}  "
          + "  ".join(f"{name} {ms:.1f} ms ({ms / base:.2f}x)" for name, ms in medians.items()))


if __name__ == "__main__":
    main()
