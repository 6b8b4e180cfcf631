"""Benchmark: the analysis lab against one ``analyze()`` pass, and our integrated gradients
against the stock way.

Models: the bundled default model and a bert-base-size model (random weights, saved by
``transformers``), batch 1, a fixed pair with one [MASK] of exactly 128 tokens. Each lab method
(its traced pass counted) is timed against ``Predictor.analyze`` on the same text, and so are
an analysis with one head ablated (a click in the explorer) and the logit lens at the [MASK].
IG: ours (``engine.lab.salience``, 64 Gauss-Legendre steps) against Captum's
``IntegratedGradients`` over ``transformers.BertForPreTraining`` with the same weights and the
usual forward function (full MLM logits, then the target's log-probability), same steps, rule,
baseline and internal batch size; attributions are checked equal first. Also the explorer's
case: the default model at 32 tokens, IG with 32 steps.

    .venv/bin/python bench/lab.py [--reps 10] [--ig-reps 2] [--batch 8] [--skip-base] [--cpu-time]

``--cpu-time``: one thread, and each call timed by this process's CPU time instead of the wall
clock (on a machine other jobs load, CPU time moves far less than wall time).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyze import fixed_pair, make_checkpoint  # noqa: E402
from common import bert_base_vocab  # noqa: E402
from engine.cpu_packing import packing_available  # noqa: E402
from engine.infer import Predictor  # noqa: E402
from engine.lab.lens import logit_lens  # noqa: E402
from engine.lab.maps import explain_maps  # noqa: E402
from engine.lab.salience import explain_salience, integrated_gradients, prepare  # noqa: E402
from engine.paths import default_model_dir  # noqa: E402

IG_STEPS = 64
CLOCK = time.perf_counter  # time.process_time under --cpu-time
RULE = "gausslegendre"
MAP_SETS = (["rollout"], ["norm"], ["alti"], ["rollout", "norm", "alti"])


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def interleaved_medians(calls: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median ms of each call; the calls alternate within every rep, so a change in the load of
    this shared machine hits them alike."""
    for call in calls.values():
        call()  # warm-up: first-call allocations, oneDNN kernel choice
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            t0 = CLOCK()
            call()
            times[name].append((CLOCK() - t0) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def stock_ig(folder: Path, predictor: Predictor, problem, text_a: str, text_b: str, batch: int):
    """Captum's IntegratedGradients over transformers' model, the target's log-probability
    read from the full MLM logits; returns a callable giving attributions [T, H]."""
    import transformers
    from captum.attr import IntegratedGradients

    hf = transformers.BertForPreTraining.from_pretrained(folder, dtype=torch.float32).eval()
    enc = predictor.tokenizer.encode(text_a, text_b)
    types = torch.tensor([enc.token_type_ids])
    row = enc.ids.index(predictor.tokenizer.mask_id)
    token = predictor.tokenizer.token_to_id(problem.target.spec.split(":")[2])

    def forward(embeds: torch.Tensor) -> torch.Tensor:
        out = hf(inputs_embeds=embeds, token_type_ids=types.expand(len(embeds), -1))
        return out.prediction_logits[:, row].log_softmax(-1)[:, token]

    ig = IntegratedGradients(forward)
    return lambda: ig.attribute(problem.embeds, baselines=problem.baseline, n_steps=IG_STEPS,
                                method=RULE, internal_batch_size=batch)[0].detach()


def bench_model(name: str, folder: Path, args: argparse.Namespace) -> list[str]:
    predictor = Predictor.load(folder, device="cpu")
    text_a, text_b = fixed_pair(predictor.tokenizer, 128)
    calls = {"analyze()": lambda: predictor.analyze(text_a, text_b)}
    calls.update({" + ".join(methods): lambda methods=methods: explain_maps(
        predictor, text_a, text_b, methods) for methods in MAP_SETS})
    calls.update({method: lambda method=method: explain_salience(
        predictor, text_a, text_b, method) for method in ("grad", "grad-input")})
    calls["analyze(), head 0:0 masked"] = lambda: predictor.analyze(text_a, text_b,
                                                                    head_mask=[(0, 0)])
    calls["logit lens at the [MASK]"] = lambda: logit_lens(predictor, text_a, text_b)
    medians = interleaved_medians(calls, args.reps)
    analyze_ms = medians["analyze()"]
    rows = [f"| {name} | {label} | {ms:.1f} | {ms / analyze_ms:.2f}x | |"
            for label, ms in medians.items()]
    problem = prepare(predictor, text_a, text_b)

    def ours() -> torch.Tensor:
        return integrated_gradients(problem.function, problem.embeds, problem.baseline,
                                    IG_STEPS, RULE, args.batch)[0]

    stock = stock_ig(folder, predictor, problem, text_a, text_b, args.batch)
    diff = float((ours() - stock()).abs().max())  # reported in the table; tests hold it to 1e-4
    ours_ms, stock_ms = [], []
    for _ in range(args.ig_reps):  # interleaved, so drift hits both alike
        t0 = CLOCK()
        ours()
        t1 = CLOCK()
        stock()
        t2 = CLOCK()
        ours_ms.append((t1 - t0) * 1000)
        stock_ms.append((t2 - t1) * 1000)
    mine, theirs = statistics.median(ours_ms), statistics.median(stock_ms)
    rows.append(f"| {name} | ig {IG_STEPS} steps (ours) | {mine:.0f} | {mine / analyze_ms:.1f}x "
                f"| {mine / theirs:.2f}x of Captum + transformers ({theirs:.0f} ms); "
                f"max diff {diff:.1e} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--ig-reps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="IG internal batch size (both)")
    parser.add_argument("--skip-base", action="store_true", help="only the default model")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread, timed by CPU time (for a loaded machine)")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
        torch.set_num_threads(1)

    print(f"# bench/lab.py  cpu={cpu_name()!r}  threads={torch.get_num_threads()}  "
          f"torch={torch.__version__}  onednn_packing={packing_available()}  reps={args.reps}  "
          f"ig_reps={args.ig_reps}  ig_batch={args.batch}  rule={RULE}  "
          f"clock={'cpu time' if args.cpu_time else 'wall'}  load={os.getloadavg()[0]:.1f}")
    print("| model | method (128 tokens) | median ms | vs analyze() | IG vs the stock way |")
    print("|---|---|---|---|---|")
    for row in bench_model("default", default_model_dir(), args):
        print(row, flush=True)
    if not args.skip_base:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "bert-base-random"
            make_checkpoint(folder, bert_base_vocab())
            for row in bench_model("bert-base", folder, args):
                print(row, flush=True)

    predictor = Predictor.load(default_model_dir(), device="cpu")
    text_a, text_b = fixed_pair(predictor.tokenizer, 32)
    ms = interleaved_medians({"ig": lambda: explain_salience(predictor, text_a, text_b, "ig",
                                                             steps=32)}, args.reps)["ig"]
    print(f"\nexplorer case: default model, 32 tokens, IG 32 steps (whole explain_salience "
          f"call, target resolution included): {ms:.0f} ms median of {args.reps}")


if __name__ == "__main__":
    main()
