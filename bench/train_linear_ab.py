"""Before/after for the float32 pretraining step's Linear products: ours with the Linear
layers on ``F.linear`` (MKL's sgemm, the step before ``engine.onednn_linear``), ours
with them on oneDNN (what the trainer now does on a CPU), and the stock ``transformers``
step, alternating step by step in one process, one thread, each step timed by CPU time.

BERT-Mini (4 layers, hidden 256), batch 32, seq 128, dropout 0.1, the same batches for all.

    .venv/bin/python bench/train_linear_ab.py [--steps 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bert_base_vocab, cpu_description  # noqa: E402
from pretrain import LR, SLICE, our_trainer, stock_model, stock_step  # noqa: E402
from engine.cpu_packing import replace_linears  # noqa: E402
from engine.data.shards import prepare_corpus  # noqa: E402
from engine.tokenizer import WordPieceTokenizer  # noqa: E402
from engine.train.loop import _Window  # noqa: E402
from engine.onednn_linear import OneDnnLinear  # noqa: E402


def plain_linear(routed: OneDnnLinear) -> nn.Linear:
    """An ``nn.Linear`` (``F.linear``) on the routed layer's own parameters."""
    plain = nn.Linear(routed.in_features, routed.out_features, device="meta")
    plain.weight, plain.bias = routed.weight, routed.bias
    return plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    times: dict[str, list[float]] = {"ours, F.linear (before)": [], "ours, oneDNN (now)": [],
                                     "transformers": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        prepare_corpus([SLICE], WordPieceTokenizer.from_file(bert_base_vocab()), data,
                       heldout_fraction=0.02)
        stock = stock_model(dropout=0.1)
        before = our_trainer(data, Path(tmp) / "before", stock)
        replace_linears(before.model, plain_linear)
        now = our_trainer(data, Path(tmp) / "now", stock)
        optimizer = torch.optim.AdamW(stock.parameters(), lr=LR, weight_decay=0.01)
        batches = [next(now.batches) for _ in range(args.steps + 1)]

        def ours(trainer):
            return lambda batch: trainer.train_step(trainer.model, [batch],
                                                    trainer.task.denominators(batch), _Window())

        steps = {"ours, F.linear (before)": ours(before), "ours, oneDNN (now)": ours(now),
                 "transformers": lambda batch: stock_step(stock, optimizer, batch)}
        for _ in range(args.rounds):
            for i, batch in enumerate(batches):
                for name, step in steps.items():
                    start = time.process_time()
                    step(batch)
                    if i:  # the first step of a round warms up allocators and kernels
                        times[name].append(time.process_time() - start)
    print(f"# bench/train_linear_ab.py  BERT-Mini, batch 32, seq 128, fp32, 1 thread, CPU time, "
          f"{args.rounds} rounds x {args.steps} steps, load={os.getloadavg()[0]:.1f}, "
          f"torch={torch.__version__}")
    print(f"# cpu: {cpu_description()}")
    base = statistics.median(times["ours, F.linear (before)"])
    stock_ms = statistics.median(times["transformers"])
    print("| step | median ms | vs before | transformers / this |")
    print("|---|---|---|---|")
    for name, values in times.items():
        ms = statistics.median(values)
        print(f"| {name} | {ms * 1000:.0f} | {base / ms:.2f}x | {stock_ms / ms:.2f}x |")


if __name__ == "__main__":
    main()
