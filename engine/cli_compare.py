"""``bert-engine compare``: two models that share a tokenizer on one sentence or pair, or over a
file: which heads attend differently (Jensen-Shannon divergence), how alike each layer's hidden
states are (cosine), and fill-mask, NSP and a fine-tuned task side by side."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from engine.cli_precision import add_precision_options
from engine.results import LOG_2, InferenceError

TOP_HEADS = 8  # heads listed in the plain-text output


def add_compare_command(sub: argparse._SubParsersAction, emit: Callable) -> None:
    """``emit(args, data, lines)`` is the CLI's own."""
    text = ("compare two models that share a tokenizer (a fine-tuned model and its base, two "
            "checkpoints): per-head attention divergence, per-layer hidden-state cosine, "
            "fill-mask, NSP and task output side by side")
    p = sub.add_parser("compare", help=text, description=text,
                       epilog="js_divergence [layers, heads]: the Jensen-Shannon divergence of "
                              "A's and B's attention rows, in nats, mean over rows; 0 is the "
                              f"same attention, ln 2 = {LOG_2:.3f} attention on disjoint tokens")
    p.add_argument("text_a", metavar="TEXT_A", nargs="?", help="sentence A; type [MASK] to mask "
                                                               "(instead of --data)")
    p.add_argument("text_b", metavar="TEXT_B", nargs="?", help="sentence B")
    p.add_argument("--model", metavar="DIR", action="append", required=True,
                   help="a checkpoint folder (HF layout); give it twice: A (the reference), "
                        "then B")
    p.add_argument("--data", metavar="FILE", help="one example per line, a tab between A and B; "
                                                  "the measures averaged over the file")
    p.add_argument("--top-k", type=int, default=5, help="candidates per [MASK] and side")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    add_precision_options(p)
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=lambda args: cmd_compare(args, emit))


def _check(args: argparse.Namespace) -> None:
    """Before the (slow) model loads."""
    if len(args.model) != 2:
        raise InferenceError(f"give --model twice (A, then B), not {len(args.model)} time(s)")
    if (args.data is None) == (args.text_a is None):
        raise InferenceError("give TEXT_A [TEXT_B] or --data FILE, one of the two")
    if args.top_k < 1:
        raise InferenceError(f"--top-k must be at least 1, got {args.top_k}")


def cmd_compare(args: argparse.Namespace, emit: Callable) -> int:
    _check(args)
    from engine.infer import Predictor  # torch loads here, not for --help
    from engine.lab.compare import compare, compare_file
    from engine.paths import model_or_default

    a, b = (Predictor.load(model_or_default(path), device=args.device, bf16=args.bf16,
                              precision=args.precision)
            for path in args.model)
    if args.data is not None:
        result = compare_file(a, b, args.data, args.top_k)
        emit(args, result.to_dict(), _dataset_lines(result))
    else:
        result = compare(a, b, args.text_a, args.text_b, args.top_k)
        emit(args, result.to_dict(), _comparison_lines(result))
    return 0


def _percent(p: float | None) -> str:
    return "-" if p is None else f"{p:.1%}"


def _change_lines(result) -> list[str]:
    """The heads that changed most, then each layer's mean divergence and hidden cosine."""
    from engine.lab.compare import top_changes

    lines = [f"A: {result.model_a}   B: {result.model_b}",
             f"heads that changed most (Jensen-Shannon divergence, 0 to ln 2 = {LOG_2:.3f}):"]
    lines += [f"  layer {layer:2d} head {head:2d}  {js:.3f}"
              for layer, head, js in top_changes(result.js_divergence, TOP_HEADS)]
    lines.append("per layer: mean head divergence, hidden-state cosine (mean over tokens)")
    lines.append(f"  embeddings              cosine {result.hidden_cosine[0]:.3f}")
    for layer, (js, cos) in enumerate(zip(result.js_divergence.mean(1),
                                          result.hidden_cosine[1:])):
        lines.append(f"  layer {layer:2d}  js {js:.3f}   cosine {cos:.3f}")
    return lines


def _task_text(task) -> str:
    return "-" if task is None else task.headline()


def _comparison_lines(result) -> list[str]:
    lines = [f"tokens ({len(result.tokens)}): {' '.join(result.tokens)}", *_change_lines(result)]
    for mask in result.fill_mask:
        lines.append(f"[MASK] at {mask.position}: candidate, A, B, B - A")
        change = mask.change
        for i, token in enumerate(mask.tokens):
            pa = None if mask.probs_a is None else float(mask.probs_a[i])
            pb = None if mask.probs_b is None else float(mask.probs_b[i])
            delta = "" if change is None else f"{float(change[i]):+.1%}"
            lines.append(f"  {token:<14} {_percent(pa):>6} {_percent(pb):>6}  {delta}")
    if result.text_b is not None:
        delta = "" if result.nsp_change is None else f"   B - A {result.nsp_change:+.1%}"
        lines.append(f"NSP IsNext: A {_percent(result.nsp_a)}   B {_percent(result.nsp_b)}"
                     f"{delta}")
    if result.task_a is not None or result.task_b is not None:
        lines.append(f"task: A {_task_text(result.task_a)}   B {_task_text(result.task_b)}")
    lines += [f"note (A): {n}" for n in result.notes_a]
    lines += [f"note (B): {n}" for n in result.notes_b]
    return lines


def _dataset_lines(result) -> list[str]:
    lines = [f"{result.examples} examples ({result.pairs} pairs) from {result.data}",
             *_change_lines(result)]
    if result.top1_agreement is not None:
        lines.append(f"fill-mask: the same top candidate at {result.top1_agreement:.1%} of "
                     f"{result.masks} [MASK]s")
    if result.nsp_agreement is not None:
        lines.append(f"NSP IsNext: mean A {result.nsp_mean_a:.1%}   B {result.nsp_mean_b:.1%}"
                     f"   mean |B - A| {result.nsp_mean_abs_change:.1%}   same call on "
                     f"{result.nsp_agreement:.1%} of the pairs")
    lines += [f"note (A): {n}" for n in result.notes_a]
    lines += [f"note (B): {n}" for n in result.notes_b]
    return lines
