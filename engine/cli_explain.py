"""``bert-engine explain``: token-to-token maps beyond raw attention, or per-token salience of
one target, for a sentence or a pair."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from engine.cli_heads import add_mask_heads_option, masked_heads
from engine.cli_precision import add_precision_options
from engine.results import (DEFAULT_IG_STEPS, IG_BASELINES, IG_ROWS_PER_PASS, IG_RULES,
                            MAP_METHODS, SALIENCE_METHODS, InferenceError)

TARGET_HELP = """targets (salience methods; each a log-probability):
  mask:K               the top candidate at the K-th [MASK] (counted from 0, left to right)
  mask:K:TOKEN         that candidate at the K-th [MASK]
  mask:K:TOKEN,TOKEN2  log p(TOKEN) - log p(TOKEN2): why this one rather than that one
  nsp                  IsNext (needs TEXT_B and an NSP head)
  class:LABEL          a fine-tuned classifier's class, by name or index
  start | end          the start or end of a QA model's best answer span
  default: mask:0 when the text has a [MASK], else the model's task, else nsp"""

MAP_TOP = 3  # strongest sources listed per token in the plain-text output


def _method_help() -> str:
    lines = ["methods:"]
    lines += [f"  {name:<11} {meaning}" for name, meaning in {**MAP_METHODS,
                                                               **SALIENCE_METHODS}.items()]
    return "\n".join(lines)


def add_explain_command(sub: argparse._SubParsersAction, load_predictor: Callable,
                        emit: Callable) -> None:
    """``load_predictor(args)`` and ``emit(args, data, lines)`` are the CLI's own."""
    text = "which input tokens shaped each representation, or made the model predict its answer"
    p = sub.add_parser("explain", help=text, description=text,
                       epilog=f"{_method_help()}\n\n{TARGET_HELP}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text_a", metavar="TEXT_A", help="sentence A; type [MASK] to mask")
    p.add_argument("text_b", metavar="TEXT_B", nargs="?", help="sentence B")
    p.add_argument("--model", metavar="DIR", help="checkpoint folder (HF layout); default: the "
                                                  "bundled model")
    p.add_argument("--method", required=True, choices=[*MAP_METHODS, *SALIENCE_METHODS])
    p.add_argument("--target", help="what a salience method explains (forms below)")
    p.add_argument("--steps", type=int, default=DEFAULT_IG_STEPS,
                   help=f"ig: points on the path (default {DEFAULT_IG_STEPS})")
    p.add_argument("--baseline", choices=list(IG_BASELINES), default="pad",
                   help="ig: what the path starts from: "
                        + "; ".join(f"{k}: {v}" for k, v in IG_BASELINES.items()))
    p.add_argument("--rule", choices=list(IG_RULES), default="gausslegendre",
                   help="ig: integration rule (Captum's names; default gausslegendre)")
    p.add_argument("--batch", type=int,
                   help=f"ig: path points per pass (default: {IG_ROWS_PER_PASS} token rows' "
                        "worth, 8 at 128 tokens)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    add_precision_options(p, "the plain pass; gradients always run in float32")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_mask_heads_option(p)
    p.set_defaults(func=lambda args: cmd_explain(args, load_predictor, emit))


def _check(args: argparse.Namespace) -> None:
    """Before the (slow) model load."""
    if args.method in MAP_METHODS and args.target is not None:
        raise InferenceError(f"--target is for salience methods; {args.method} maps every token")
    if args.steps < 1 or (args.batch is not None and args.batch < 1):
        raise InferenceError("--steps and --batch must be at least 1")
    if args.target is not None:
        from engine.lab.targets import parse_target

        parse_target(args.target)


def cmd_explain(args: argparse.Namespace, load_predictor: Callable, emit: Callable) -> int:
    from engine.lab.ablation import gated_passes

    _check(args)
    heads = masked_heads(args)
    predictor = load_predictor(args)
    with gated_passes(predictor, heads, gradients=args.method not in MAP_METHODS):
        result, lines = _explain(args, predictor)
    data = result.to_dict()
    if heads:
        from engine.lab.head_names import format_heads

        data["masked_heads"] = format_heads(heads)
    emit(args, data, lines)
    return 0


def _explain(args: argparse.Namespace, predictor):
    """(the result, its text lines) of the chosen method."""
    if args.method in MAP_METHODS:
        from engine.lab.maps import explain_maps

        result = explain_maps(predictor, args.text_a, args.text_b, [args.method])[args.method]
        return result, _map_lines(result)
    from engine.lab.salience import explain_salience

    result = explain_salience(predictor, args.text_a, args.text_b, args.method, args.target,
                              args.steps, args.baseline, args.rule, args.batch)
    return result, _salience_lines(result)


def _map_lines(result) -> list[str]:
    """Per token, the input tokens it draws on most after the last layer."""
    last = result.layer_maps[-1] if result.per_head else result.maps[-1]  # [T, T]
    what = "heads' sum, last layer" if result.per_head else "after the last layer"
    lines = [f"{result.method} ({what}): token <- strongest sources"]
    for i, row in enumerate(last):
        top = row.argsort()[::-1][:MAP_TOP]
        sources = "  ".join(f"{result.tokens[j]} {row[j]:.2f}" for j in top)
        lines.append(f"  {i:3d} {result.tokens[i]:<14} <- {sources}")
    return lines


def _salience_lines(result) -> list[str]:
    lines = [f"{result.method} of {result.target_label} = {result.target_value:.4f}"]
    peak = float(result.abs_scores.max()) or 1.0
    for i, (token, score) in enumerate(zip(result.tokens, result.scores)):
        bar = "#" * round(20 * abs(score) / peak)
        lines.append(f"  {i:3d} {token:<14} {score:+.4f} {bar}")
    if result.delta is not None:
        lines.append(f"baseline value {result.baseline_value:.4f}; convergence delta "
                     f"{result.delta:+.2e} ({result.relative_delta:.2%} of the difference)")
    return lines
