"""Benchmark: where bf16 moves the attention, and what each way of placing bf16 costs in speed.

Fidelity, on the default model over the probe (``tests/data/precision_probe.txt``): for each
variant, which encoder Linear layers run in bf16 (``engine.precision.LINEAR_KINDS``), the
distribution of |attention probability difference| against fp32 over every cell of every
sentence (max, p99.9, p99, mean), the largest difference per layer, and the share of sentences
whose top-1 fill-mask candidate agrees with fp32. Two attribution variants split bf16's error
into its parts: ``weights rounded`` (bf16 weights, fp32 activations and product) and
``inputs rounded`` (fp32 weights, inputs rounded to bf16, fp32 product).

Speed, on bert-base (random weights) at 128 tokens, one thread timed by CPU time: every variant's
``analyze()`` interleaved with the stock ``transformers`` fp32 forward (``bench/analyze.py``'s
baseline), so load drift hits all alike; the ratio is ours / transformers fp32.

    .venv/bin/python bench/precision_variants.py [--limit N] [--reps 15] [--no-speed]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyze import TOP_K, Baseline, fixed_pair, make_checkpoint  # noqa: E402
from common import bert_base_vocab, cpu_description, fp32_matmul_gflops  # noqa: E402
from engine.checkpoint import load_checkpoint  # noqa: E402
from engine.cpu_packing import replace_linears  # noqa: E402
from engine.infer import Predictor  # noqa: E402
from engine.paths import default_model_dir  # noqa: E402
from engine.precision import (ALL_KINDS, BF16_KINDS, cast_linears_bf16,  # noqa: E402
                              linear_kind)

PROBE = Path(__file__).resolve().parent.parent / "tests" / "data" / "precision_probe.txt"


class InputsRounded(nn.Module):
    """fp32 weights and product; only the input is rounded to bf16 (attribution)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.to(torch.bfloat16).float())


def weights_rounded(linear: nn.Linear) -> nn.Linear:
    """bf16-rounded weights and bias held in fp32: the product and inputs stay fp32."""
    linear.weight.data = linear.weight.data.to(torch.bfloat16).float()
    linear.bias.data = linear.bias.data.to(torch.bfloat16).float()
    return linear


def _kinds(*names: str) -> Callable[[nn.Module], object]:
    return lambda encoder: cast_linears_bf16(encoder, frozenset(names))


def _all_but(*names: str) -> Callable[[nn.Module], object]:
    return lambda encoder: cast_linears_bf16(encoder, ALL_KINDS - frozenset(names))


def _layer(index: int) -> Callable[[nn.Module], object]:
    return lambda encoder: cast_linears_bf16(encoder, ALL_KINDS, frozenset({index}))


def variants(layers: int, speed_only: bool = False) -> dict[str, Callable[[nn.Module], object]]:
    """name -> what it does to the encoder (``BertEncoder``) before the rest is packed fp32."""
    chosen = {
        "fp32 (reference)": lambda encoder: None,
        "bf16 all linears (issue-25 start)": _kinds(*ALL_KINDS),
        f"bf16 default now ({' '.join(sorted(BF16_KINDS))})": _kinds(*BF16_KINDS),
        "bf16 all but Q/K": _all_but("query", "key"),
        "bf16 all but Q/K/FFN-in": _all_but("query", "key", "ffn_in"),
        "bf16 V/O only": _kinds("value", "attention_out"),
        "bf16 FFN only": _kinds("ffn_in", "ffn_out"),
        "bf16 FFN-out only": _kinds("ffn_out"),
    }
    if speed_only:
        return chosen
    chosen.update({f"bf16 {kind} only": _kinds(kind) for kind in
                   ("query", "key", "value", "attention_out", "ffn_in")})
    chosen.update({f"bf16 layer {i} only": _layer(i) for i in range(layers)})
    chosen["weights rounded (all), fp32 product"] = lambda encoder: replace_linears(
        encoder, weights_rounded, lambda name: linear_kind(name) is not None)
    chosen["inputs rounded (all), fp32 product"] = lambda encoder: replace_linears(
        encoder, InputsRounded, lambda name: linear_kind(name) is not None)
    return chosen


def predictor_with(path: Path, change: Callable[[nn.Module], object]) -> Predictor:
    """The model at ``path`` on CPU with ``change`` applied to its encoder, then laid out by
    ``Predictor`` itself as for the product: the Linear layers left alone packed fp32, each FFN
    GELU fused into its first product (bf16 or fp32), the decoder on oneDNN. So the "bf16
    default" row is the bf16 ``Predictor``'s model (the same maps, measured)."""
    checkpoint = load_checkpoint(path, device="cpu")
    change(getattr(checkpoint.model, "bert", checkpoint.model).encoder)
    return Predictor(checkpoint, torch.device("cpu"), precision="fp32")


def fidelity(limit: int | None) -> None:
    sentences = [line.strip() for line in PROBE.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")][:limit]
    path = default_model_dir()
    reference = predictor_with(path, lambda encoder: None)
    layers = reference.config.num_hidden_layers
    fp32 = [reference.analyze(text) for text in sentences]
    print(f"\n## fidelity: default model ({layers} layers), {len(sentences)} probe sentences")
    print("| variant | max | p99.9 | p99 | mean | top-1 agreement | max per layer |")
    print("|---|---|---|---|---|---|---|")
    for name, change in list(variants(layers).items())[1:]:
        predictor = predictor_with(path, change)
        diffs, per_layer, same = [], np.zeros(layers), 0
        for text, a in zip(sentences, fp32):
            b = predictor.analyze(text)
            diff = np.abs(a.attentions - b.attentions)  # [L, N, T, T]
            diffs.append(diff.ravel())
            per_layer = np.maximum(per_layer, diff.reshape(layers, -1).max(axis=1))
            same += int(a.fill_mask[0].token_ids[0] == b.fill_mask[0].token_ids[0])
        cells = np.concatenate(diffs)
        p999, p99 = np.percentile(cells, [99.9, 99])
        print(f"| {name} | {cells.max():.4f} | {p999:.5f} | {p99:.5f} | {cells.mean():.2e} | "
              f"{same / len(sentences):.1%} | {' '.join(f'{w:.4f}' for w in per_layer)} |",
              flush=True)


def speed(reps: int) -> None:
    clock = time.process_time
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bert-base-random"
        make_checkpoint(folder, bert_base_vocab())
        baseline = Baseline(folder, torch.device("cpu"))
        ours = {name: predictor_with(folder, change)
                for name, change in variants(12, speed_only=True).items()}
        text_a, text_b = fixed_pair(next(iter(ours.values())).tokenizer, 128)
        tokenizer = next(iter(ours.values())).tokenizer
        enc = tokenizer.encode(text_a, text_b)
        times: dict[str, list[float]] = {"transformers fp32": [], **{n: [] for n in ours}}
        for _ in range(reps + 1):  # the first round warms up and is dropped
            start = clock()
            baseline.run(enc.ids, enc.token_type_ids, tokenizer.mask_id)
            times["transformers fp32"].append((clock() - start) * 1000)
            for name, predictor in ours.items():
                start = clock()
                predictor.analyze(text_a, text_b, top_k=TOP_K)
                times[name].append((clock() - start) * 1000)
        base = statistics.median(times["transformers fp32"][1:])
        print(f"\n## speed: bert-base (random weights) at 128 tokens, 1 thread, CPU time, "
              f"{reps} interleaved rounds, load {os.getloadavg()[0]:.1f} after")
        print("| variant | median ms | ours / transformers fp32 |")
        print("|---|---|---|")
        for name, values in times.items():
            median = statistics.median(values[1:])
            print(f"| {name} | {median:.1f} | {median / base:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N probe sentences")
    parser.add_argument("--reps", type=int, default=15, help="speed rounds")
    parser.add_argument("--no-speed", action="store_true", help="fidelity only")
    parser.add_argument("--no-fidelity", action="store_true", help="speed only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# bench/precision_variants.py  torch={torch.__version__}  "
          f"load={os.getloadavg()[0]:.1f}")
    print(f"# cpu: {cpu_description()}; fp32 matmul ceiling "
          f"{fp32_matmul_gflops(clock=time.process_time):.0f} GFLOP/s (1 thread, CPU time)")
    if not args.no_fidelity:
        fidelity(args.limit)
    if not args.no_speed:
        speed(args.reps)


if __name__ == "__main__":
    main()
