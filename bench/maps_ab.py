"""Before/after for the lab's maps: each map method and one ``Predictor.analyze`` alternate
within every rep (one thread, CPU time, median), in the checkout given; run it for two
checkouts in turn (CPU time of one thread moves far less with other load than wall time).

    .venv/bin/python bench/maps_ab.py CHECKOUT [MODEL_DIR|default] [REPS]

e.g. ``git archive <commit> | tar -x -C /tmp/before`` for the checkout before a change.
"""

from __future__ import annotations

import statistics
import sys
import time

checkout = sys.argv[1]
sys.path[:0] = [checkout, checkout + "/bench"]  # that checkout's engine and bench helpers

import torch  # noqa: E402
from analyze import fixed_pair  # noqa: E402

from engine.infer import Predictor  # noqa: E402
from engine.lab.maps import explain_maps  # noqa: E402
from engine.paths import default_model_dir  # noqa: E402


def main() -> None:
    model = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "default" else default_model_dir()
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    torch.set_num_threads(1)
    predictor = Predictor.load(model, device="cpu")
    text_a, text_b = fixed_pair(predictor.tokenizer, 128)
    calls = {"analyze()": lambda: predictor.analyze(text_a, text_b)}
    for methods in (["rollout"], ["norm"], ["alti"], ["rollout", "norm", "alti"]):
        calls[" + ".join(methods)] = lambda methods=methods: explain_maps(predictor, text_a,
                                                                          text_b, methods)
    for call in calls.values():
        call()  # warm-up
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            start = time.process_time()
            call()
            times[name].append((time.process_time() - start) * 1000)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["analyze()"]
    print(f"{checkout}  load {open('/proc/loadavg').read().split()[0]}  " + "  ".join(
        f"{name} {ms:.1f} ms ({ms / base:.2f}x)" for name, ms in medians.items()))


if __name__ == "__main__":
    main()
