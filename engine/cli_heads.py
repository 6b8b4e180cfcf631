"""``bert-engine heads`` (per-head statistics, importance and the pruning curve) and
``bert-engine lens`` (the logit lens at a [MASK]), and the ``--mask-heads`` option that the
analysis commands share."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from engine.cli_precision import add_precision_options
from engine.results import HEAD_BATCH, HEAD_STATISTICS, InferenceError

MASK_HEADS_HELP = ("heads to ablate, named L:H (layer and head, both counted from 0), "
                   "comma-separated: 0:3,5:11")


def add_mask_heads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mask-heads", metavar="L:H,...", help=MASK_HEADS_HELP)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="DIR", help="checkpoint folder (HF layout); default: the "
                                                  "bundled model")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    add_precision_options(p, "the plain passes; gradients always run in float32")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_mask_heads_option(p)


def add_heads_commands(sub: argparse._SubParsersAction, load_predictor: Callable,
                       emit: Callable) -> None:
    """``load_predictor(args)`` and ``emit(args, data, lines)`` are the CLI's own."""
    text = ("per-head attention statistics (Clark et al. 2019) and MLM head importance "
            "(Michel et al. 2019), on one input or averaged over a file")
    p = sub.add_parser("heads", help=text, description=text,
                       epilog="statistics: " + "; ".join(f"{k}: {v}" for k, v in
                                                         HEAD_STATISTICS.items())
                       + "; entropy: mean row entropy in nats, against log n")
    p.add_argument("text_a", metavar="TEXT_A", nargs="?", help="sentence A (instead of --data)")
    p.add_argument("text_b", metavar="TEXT_B", nargs="?", help="sentence B")
    p.add_argument("--data", metavar="FILE", help="one example per line, a tab between "
                                                  "sentence A and sentence B")
    p.add_argument("--prune-curve", action="store_true",
                   help="masked-token accuracy as the least important heads are masked, "
                        "10%% at a time")
    p.add_argument("--batch", type=int, default=HEAD_BATCH,
                   help=f"examples per pass (default {HEAD_BATCH})")
    task = p.add_argument_group(
        "--task-loss", "a fine-tuned model's own task: --data is a labelled file in the "
        "fine-tuning formats (CSV, TSV or JSONL for classify/regress, CoNLL for tag, SQuAD JSON "
        "for qa), read with the model's labels; importance is taken for the task loss and "
        "--prune-curve scores the task's main metric")
    task.add_argument("--task-loss", action="store_true",
                      help="importance for the fine-tuned model's task loss over --data")
    task.add_argument("--text-a", dest="text_a_column", default="text", metavar="COL",
                      help="column of text A (a name, or a 0-based index with --no-header; "
                           "default 'text')")
    task.add_argument("--text-b", dest="text_b_column", metavar="COL",
                      help="column of text B, for pairs")
    task.add_argument("--label", dest="label_column", default="label", metavar="COL",
                      help="label column (default 'label')")
    task.add_argument("--no-header", dest="has_header", action="store_false",
                      help="CSV/TSV without a header row")
    task.add_argument("--seq-len", type=int, default=128,
                      help="tokens per example, as finetune's --seq-len (default 128)")
    _common(p)
    p.set_defaults(func=lambda args: cmd_heads(args, load_predictor, emit))

    text = "the logit lens: the MLM head read at every layer at one [MASK] or token"
    p = sub.add_parser("lens", help=text, description=text)
    p.add_argument("text_a", metavar="TEXT_A", help="sentence A; type [MASK] to mask")
    p.add_argument("text_b", metavar="TEXT_B", nargs="?", help="sentence B")
    p.add_argument("--top-k", type=int, default=5, help="candidates per layer (default 5)")
    p.add_argument("--mask", type=int, default=0, help="which [MASK], counted from 0 (default 0)")
    p.add_argument("--position", type=int, help="a token position instead of a [MASK]")
    _common(p)
    p.set_defaults(func=lambda args: cmd_lens(args, load_predictor, emit))


def masked_heads(args: argparse.Namespace):
    """--mask-heads as (layer, head) pairs, names checked (before the slow model load)."""
    from engine.lab.head_names import parse_heads

    return parse_heads(args.mask_heads) if args.mask_heads else ()


def _grid(title: str, values, digits: int = 2) -> list[str]:
    """An L x N table: one row per layer, one column per head."""
    heads = len(values[0])
    lines = [f"{title}", "  layer " + " ".join(f"{h:>{digits + 3}d}" for h in range(heads))]
    lines += [f"  {layer:5d} " + " ".join(f"{v:{digits + 3}.{digits}f}" for v in row)
              for layer, row in enumerate(values)]
    return lines


def cmd_heads(args: argparse.Namespace, load_predictor: Callable, emit: Callable) -> int:
    from engine.lab.heads import head_statistics, read_pairs
    from engine.lab.importance import head_importance, pruning_curve

    if (args.data is None) == (args.text_a is None):
        raise InferenceError("give either TEXT_A [TEXT_B] or --data FILE")
    if args.batch < 1:
        raise InferenceError(f"--batch must be at least 1, got {args.batch}")
    heads = masked_heads(args)
    if heads and args.prune_curve:
        raise InferenceError("--prune-curve masks heads itself, from the whole model: drop "
                             "--mask-heads")
    if args.task_loss:
        return _task_heads(args, load_predictor, emit, heads)
    pairs = read_pairs(args.data) if args.data else [(args.text_a, args.text_b)]
    predictor = load_predictor(args)
    stats = head_statistics(predictor, pairs, head_mask=heads)
    data = {"statistics": stats.to_dict()}
    lines = _statistics_lines(stats)
    if "mlm" in predictor.capabilities:
        importance = head_importance(predictor, pairs, args.batch, head_mask=heads)
        data["importance"] = importance.to_dict()
        lines += _grid(f"importance (MLM loss, {importance.tokens} masked tokens; per layer "
                       "L2-normalised, then min-max)", importance.normalised)
        if args.prune_curve:
            curve = pruning_curve(predictor, pairs, importance, batch_size=args.batch)
            data["prune_curve"] = curve.to_dict()
            lines += _curve_lines(curve, "masked-token accuracy")
    else:
        lines.append("note: this model has no MLM head, so no MLM importance (a fine-tuned "
                     "model: --task-loss with a labelled --data file)")
    _emit_heads(args, emit, data, lines, heads)
    return 0


def _statistics_lines(stats) -> list[str]:
    lines = [f"{stats.examples} example(s); uniform entropy log n = {stats.uniform_entropy:.3f}"]
    for key, meaning in HEAD_STATISTICS.items():
        lines += _grid(f"{key}: {meaning}", stats.shares[key])
    return lines + _grid("entropy (nats)", stats.entropy)


def _curve_lines(curve, metric_name: str, style: str = ".2%") -> list[str]:
    return ["pruning curve (least important heads masked first):"] + [
        f"  {p.fraction:4.0%} ({len(p.masked):3d} heads)  {metric_name} {p.metric:{style}}"
        for p in curve.points]


def _emit_heads(args, emit: Callable, data: dict, lines: list[str], heads) -> None:
    if heads:
        from engine.lab.head_names import format_heads

        data["masked_heads"] = format_heads(heads)
    emit(args, data, lines)


def _task_heads(args: argparse.Namespace, load_predictor: Callable, emit: Callable,
                heads) -> int:
    """``heads --task-loss``: statistics, task-loss importance and the task-metric curve over
    a labelled file."""
    from engine.lab.task_importance import (TaskColumns, task_importance, task_of,
                                            task_pruning_curve, task_statistics)

    if args.data is None or args.text_a is not None:
        raise InferenceError("--task-loss reads a labelled --data FILE (the fine-tuning "
                             "formats), not TEXT_A")
    if args.seq_len < 8:
        raise InferenceError(f"--seq-len must be at least 8, got {args.seq_len}")
    predictor = load_predictor(args)
    columns = TaskColumns(args.text_a_column, args.text_b_column, args.label_column,
                          args.has_header)
    task = task_of(predictor, args.data, columns, args.seq_len)
    stats = task_statistics(predictor, task, heads)
    importance = task_importance(predictor, task, args.batch, heads)
    data = {"statistics": stats.to_dict(), "importance": importance.to_dict()}
    lines = _statistics_lines(stats) + _grid(
        f"importance ({task.spec.problem} task loss over {importance.tokens} loss terms; per "
        "layer L2-normalised, then min-max)", importance.normalised)
    if args.prune_curve:
        curve = task_pruning_curve(predictor, task, importance)
        data["prune_curve"] = curve.to_dict()
        lines += _curve_lines(curve, task.main_metric, ".4f")
    _emit_heads(args, emit, data, lines, heads)
    return 0


def cmd_lens(args: argparse.Namespace, load_predictor: Callable, emit: Callable) -> int:
    from engine.lab.lens import logit_lens

    if args.top_k < 1:
        raise InferenceError(f"--top-k must be at least 1, got {args.top_k}")
    heads = masked_heads(args)
    lens = logit_lens(load_predictor(args), args.text_a, args.text_b, position=args.position,
                      mask=args.mask, top_k=args.top_k, head_mask=heads)
    lines = [f"logit lens at {lens.position} ({lens.tokens[lens.position]}); final top "
             f"candidate {lens.final_token!r}: its rank and probability, KL(final || layer)"]
    for layer in lens.layers:
        name = "emb" if layer.layer == 0 else f"{layer.layer:3d}"
        cands = "  ".join(f"{t} {p:.1%}" for t, p in zip(layer.tokens, layer.probs))
        lines.append(f"  {name}  rank {layer.final_rank:5d}  p {layer.final_prob:6.1%}  "
                     f"KL {layer.kl:6.3f}  | {cands}")
    emit(args, lens.to_dict(), lines)
    return 0
