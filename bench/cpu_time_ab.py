"""Before/after for our own code: one-thread CPU time of ``Predictor.analyze`` and of a
pretraining forward + backward, in two checkouts of this project, alternated.

CPU time of one thread moves far less with other load on the machine than wall time, so this
compares two versions on a shared machine where ``bench/analyze.py`` and ``bench/pretrain.py``
(ours against ``transformers``, wall clock) are noise-bound.

    .venv/bin/python bench/cpu_time_ab.py BEFORE_CHECKOUT AFTER_CHECKOUT [--rounds 3]

e.g. ``git worktree add /tmp/before <commit>`` for BEFORE_CHECKOUT.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ab_parser, alternate_checkouts  # bench/ is this script's import path

ROOT = Path(__file__).resolve().parent.parent
VOCAB = ROOT / "resources" / "models" / "default" / "vocab.txt"  # bert-base-uncased's


def measure(checkout: str, model_dir: str) -> dict[str, list[float]]:
    """Runs in a child process whose first import path is ``checkout``: ms per call."""
    sys.path.insert(0, checkout)
    import torch

    from engine.config import BertConfig
    from engine.infer import Predictor
    from engine.model import BertForPreTraining

    torch.set_num_threads(1)
    torch.manual_seed(0)

    def cpu_ms(fn, reps: int) -> list[float]:
        out = []
        for _ in range(reps):
            start = time.process_time()
            fn()
            out.append((time.process_time() - start) * 1000)
        return out

    predictor = Predictor.load(model_dir, device="cpu")
    times = {}
    for tokens, words, reps in ((128, 120, 12), (512, 500, 4)):
        text_a = "The keeper lit the [MASK] again. " + "word " * words
        predictor.analyze(text_a, "It was late.")  # warm-up
        times[f"analyze {tokens} tokens"] = cpu_ms(
            lambda: predictor.analyze(text_a, "It was late."), reps)

    model = BertForPreTraining(BertConfig(vocab_size=30522, hidden_size=256, num_hidden_layers=4,
                                          num_attention_heads=4, intermediate_size=1024))
    ids = torch.randint(1000, 30000, (32, 128))  # BERT-Mini, batch 32 x 128
    labels = torch.full((32, 128), -100)
    labels[:, ::7] = ids[:, ::7]
    nsp = torch.randint(0, 2, (32,))

    def step() -> None:
        model(ids, labels=labels, next_sentence_label=nsp).loss.backward()
    step()
    times["pretraining forward + backward, Mini 32 x 128"] = cpu_ms(step, 6)
    return times


def main() -> None:
    parser = ab_parser(__doc__.split("\n\n")[0], child_args=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child)))
        return
    import torch
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)  # bert-base, random weights saved by transformers
        transformers.BertForPreTraining(transformers.BertConfig()).save_pretrained(tmp)
        shutil.copy(VOCAB, Path(tmp) / "vocab.txt")
        runs, loads = alternate_checkouts(__file__, args.before, args.after, args.rounds,
                                          lambda side, checkout: [checkout, tmp], tmp)
    print(f"# bench/cpu_time_ab.py  1 thread, {args.rounds} alternated rounds, "
          f"torch={torch.__version__}, load {min(loads):.1f}-{max(loads):.1f}")
    print("| our code, 1-thread CPU time (median ms) | before | after | after / before |")
    print("|---|---|---|---|")
    for name in runs["before"]:
        before, after = (statistics.median(runs[s][name]) for s in ("before", "after"))
        print(f"| {name} | {before:.0f} | {after:.0f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
