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

``--heads``: the heads-and-layers rows alone, in one-thread CPU time (``time.process_time``),
the calls alternating within every rep, on the default model and a bert-base-size one: a
toggled head (one analysis with the head gate; the first toggle on a new text also makes the
explorer's unablated reference, a row of its own), the logit lens at the [MASK], against one
``analyze()``; and MLM head importance over ``--sentences`` sentences of the corpus slice
(``engine.lab.importance.head_importance``, batches of 16, one backward each) against the same
computation with ``transformers.BertForPreTraining`` (the same masked batches, a head gate
multiplied into each self-attention's output by forward hooks, the summed cross-entropy of the
masked tokens from the full MLM logits, one backward per batch), importances compared first.

    .venv/bin/python bench/lab.py [--reps 10] [--ig-reps 2] [--batch 8] [--skip-base] [--cpu-time]
    .venv/bin/python bench/lab.py --heads [--reps 10] [--sentences 256] [--skip-base] [--wall]

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
from engine.lab.importance import _batches, head_importance, masked_examples  # noqa: E402
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


def cpu_medians(calls: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median one-thread CPU ms of each call, the calls alternating within every rep."""
    for call in calls.values():
        call()  # warm-up
    times = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            t0 = time.process_time()
            call()
            times[name].append((time.process_time() - t0) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def corpus_sentences(count: int) -> list[tuple[str, None]]:
    path = Path(__file__).resolve().parent.parent / "resources" / "corpus" / "slice.txt"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [(line, None) for line in lines if line][:count]


def hf_importance(folder: Path, predictor: Predictor, pairs, batch_size: int = 16):
    """Michel et al.'s importance the stock way: ``transformers``' model, the gate applied by
    forward hooks on each self-attention (its output [B, T, H] is the heads' contexts side by
    side), the loss from the full MLM logits; returns a callable giving raw importance [L, N]."""
    import transformers

    hf = transformers.BertForPreTraining.from_pretrained(folder, dtype=torch.float32).eval()
    cfg = hf.config
    heads, size = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    batches = list(_batches(masked_examples(predictor, pairs), batch_size,
                            predictor.tokenizer.pad_id, torch.device("cpu")))
    gate = torch.ones(cfg.num_hidden_layers, heads)

    def hook_for(layer: int):
        def hook(_module, _inputs, output):
            context = output[0]                                       # [B, T, H]
            b, t = context.shape[:2]
            gated = context.view(b, t, heads, size) * gate[layer][None, None, :, None]
            return (gated.view(b, t, heads * size), *output[1:])
        return hook

    for layer, block in enumerate(hf.bert.encoder.layer):
        block.attention.self.register_forward_hook(hook_for(layer))

    def run() -> torch.Tensor:
        nonlocal gate
        raw, tokens = torch.zeros(cfg.num_hidden_layers, heads, dtype=torch.float64), 0
        for batch in batches:
            gate = torch.ones(cfg.num_hidden_layers, heads, requires_grad=True)
            logits = hf(input_ids=batch["ids"], attention_mask=batch["mask"],
                        token_type_ids=batch["types"]).prediction_logits     # [B, T, V]
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                     batch["labels"].flatten(),
                                                     ignore_index=-100, reduction="sum")
            (grad,) = torch.autograd.grad(loss, gate)
            raw += grad.abs().double()
            tokens += int((batch["labels"] != -100).sum())
        return raw / max(tokens, 1)
    return run


def bench_heads(name: str, folder: Path, args: argparse.Namespace) -> list[str]:
    """The heads-and-layers rows of one model, one-thread CPU time."""
    from explorer.ablation import ReferenceCache, ablated_analysis

    predictor = Predictor.load(folder, device="cpu")
    text_a, text_b = fixed_pair(predictor.tokenizer, 128)

    def first_toggle():
        return ablated_analysis(predictor, ReferenceCache(), text_a, text_b, ((0, 0),), 10)

    calls = {"analyze()": lambda: predictor.analyze(text_a, text_b),
             "toggle one head: analyze(), head 0:0 masked":
                 lambda: predictor.analyze(text_a, text_b, head_mask=[(0, 0)]),
             "first toggle on a new text (+ the unablated reference)": first_toggle,
             "logit lens at the [MASK]": lambda: logit_lens(predictor, text_a, text_b)}
    medians = (interleaved_medians if args.wall else cpu_medians)(calls, args.reps)
    base = medians["analyze()"]
    rows = [f"| {name} | {label} | {ms:.1f} | {ms / base:.2f}x |" for label, ms in medians.items()]
    if args.sentences > 0 and (name == "default" or args.base_importance):
        pairs = corpus_sentences(args.sentences)
        stock = hf_importance(folder, predictor, pairs)
        head_importance(predictor, corpus_sentences(16))  # warm-up: the float32 twin is made
        times, results = {"ours": [], "stock": []}, {}
        for _ in range(args.importance_reps):  # each run takes seconds: no warm-up run
            for side, run in (("ours", lambda: torch.from_numpy(
                    head_importance(predictor, pairs).raw)), ("stock", stock)):
                t0 = time.process_time()
                results[side] = run()
                times[side].append((time.process_time() - t0) * 1000)
        timed = {side: statistics.median(values) for side, values in times.items()}
        diff = float((results["ours"] - results["stock"]).abs().max()
                     / results["stock"].abs().max())
        rows.append(f"| {name} | MLM importance, {len(pairs)} sentences (ours) | "
                    f"{timed['ours']:.0f} | {timed['ours'] / timed['stock']:.2f}x of "
                    f"transformers + hooks ({timed['stock']:.0f} ms); max relative diff "
                    f"{diff:.1e} |")
    return rows


def heads_main(args: argparse.Namespace) -> None:
    if not args.wall:
        torch.set_num_threads(1)
    clock = "wall time" if args.wall else "CPU time"
    print(f"# bench/lab.py --heads  cpu={cpu_name()!r}  "
          f"threads={torch.get_num_threads()} ({clock})  "
          f"torch={torch.__version__}  onednn_packing={packing_available()}  reps={args.reps}  "
          f"sentences={args.sentences}")
    print(f"| model | what (128 tokens) | median {'wall' if args.wall else 'CPU'} ms "
          "| vs analyze() |")
    print("|---|---|---|---|")
    for row in bench_heads("default", default_model_dir(), args):
        print(row, flush=True)
    if not args.skip_base:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "bert-base-random"
            make_checkpoint(folder, bert_base_vocab())
            for row in bench_heads("bert-base", folder, args):
                print(row, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--ig-reps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="IG internal batch size (both)")
    parser.add_argument("--skip-base", action="store_true", help="only the default model")
    parser.add_argument("--heads", action="store_true",
                        help="only the heads-and-layers rows, in one-thread CPU time")
    parser.add_argument("--sentences", type=int, default=256,
                        help="--heads: sentences for the importance rows (default 256; 0: none)")
    parser.add_argument("--wall", action="store_true",
                        help="--heads: wall time with torch's default threads, not CPU time")
    parser.add_argument("--importance-reps", type=int, default=1,
                        help="--heads: runs of each importance side (default 1)")
    parser.add_argument("--base-importance", action="store_true",
                        help="--heads: the importance rows on bert-base too (slow)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="one thread, timed by CPU time (for a loaded machine)")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
        torch.set_num_threads(1)
    if args.heads:
        heads_main(args)
        return

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
