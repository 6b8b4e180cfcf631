"""``bert-engine``: the engine from a terminal. Human-readable by default, ``--json`` for scripts."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from engine.cli_compare import add_compare_command
from engine.cli_dataset import add_dataset_command
from engine.cli_explain import add_explain_command
from engine.cli_finetune import add_finetune_command
from engine.cli_heads import add_heads_commands, add_mask_heads_option, masked_heads
from engine.cli_index import add_index_commands
from engine.cli_precision import add_precision_options
from engine.cli_runs import add_runs_command
from engine.cli_train import add_training_commands
from engine.paths import model_or_default
from engine.results import USER_ERRORS
from engine.runlog import RunFolderError

EXIT_USAGE = 2      # bad input: a message, never a traceback
EXIT_NO_RESULT = 1  # ran fine, but the asked-for result does not exist (no [MASK], no head)


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _predictor(args: argparse.Namespace):
    from engine.infer import Predictor  # torch loads here, not for --help

    return Predictor.load(model_or_default(args.model), device=args.device, bf16=args.bf16,
                          precision=args.precision)


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False) if args.json else "\n".join(lines)
    try:
        print(text)
    except UnicodeEncodeError:
        # A console that cannot show some character (or a lone surrogate from undecodable
        # argv bytes): escape instead of failing after the work is done. ASCII JSON stays JSON.
        if args.json:
            text = json.dumps(data, indent=2, ensure_ascii=True)
        else:
            encoding = sys.stdout.encoding or "utf-8"
            text = text.encode(encoding, "backslashreplace").decode(encoding)
        print(text)


def _token_line(analysis) -> str:
    """Tokens with segment marks: A tokens plain, B tokens suffixed with '|B'."""
    return " ".join(tok + ("|B" if seq == 1 else "")
                    for tok, seq in zip(analysis.tokens, analysis.sequence_ids))


def cmd_info(args: argparse.Namespace) -> int:
    summary = _predictor(args).summary()
    lines = [
        f"model        {summary.path} ({summary.architecture})",
        f"size         {summary.layers} layers, {summary.heads} heads, "
        f"hidden {summary.hidden}, FFN {summary.intermediate}, "
        f"{summary.parameters / 1e6:.1f}M parameters",
        f"vocabulary   {summary.tokenizer_vocab} tokens"
        f"{' (lowercase)' if summary.lowercase else ''}, {summary.max_positions} positions",
        f"can do       {', '.join(sorted(summary.capabilities))}",
        f"precision    {summary.precision}",
    ]
    lines += [f"cannot do    {name}" for name in summary.missing_capabilities]
    lines += [f"warning      {w}" for w in summary.warnings]
    _emit(args, summary.to_dict(), lines)
    return 0


def _analysis_predictor(args: argparse.Namespace):
    if args.top_k < 1:  # checked before the (slow) model load
        raise CliError(f"--top-k must be at least 1, got {args.top_k}")
    masked_heads(args)
    return _predictor(args)


def _analyze(args: argparse.Namespace, text_b: str | None, predictor=None):
    from engine.analysis_io import analysis_summary

    if predictor is None:
        predictor = _analysis_predictor(args)
    heads = masked_heads(args)
    analysis = predictor.analyze(args.text_a, text_b, top_k=args.top_k, head_mask=heads)
    data = analysis_summary(analysis)
    if heads:
        from engine.lab.head_names import format_heads

        data["masked_heads"] = format_heads(heads)
    return analysis, data


def _fill_mask_lines(analysis) -> list[str]:
    lines = []
    for m in analysis.fill_mask:
        cands = "  ".join(f"{t} {p:.1%}" for t, p in zip(m.tokens, m.probs))
        lines.append(f"[MASK] at {m.position}: {cands}")
    return lines


def cmd_fill_mask(args: argparse.Namespace) -> int:
    analysis, data = _analyze(args, args.text_b)
    lines = [_token_line(analysis), *_fill_mask_lines(analysis)]
    lines += [f"note: {n}" for n in analysis.notes if "MASK" in n or "MLM" in n]
    _emit(args, data, lines + [f"warning: {w}" for w in analysis.warnings])
    return 0 if analysis.fill_mask else EXIT_NO_RESULT


def cmd_nsp(args: argparse.Namespace) -> int:
    analysis, data = _analyze(args, args.text_b)
    if analysis.nsp_is_next is None:
        lines = [f"note: {n}" for n in analysis.notes if "NSP" in n or "sentence B" in n]
    else:
        p = analysis.nsp_is_next
        lines = [f"IsNext {p:.1%}   NotNext {1 - p:.1%}"]
    _emit(args, data, lines + [f"warning: {w}" for w in analysis.warnings])
    return 0 if analysis.nsp_is_next is not None else EXIT_NO_RESULT


def cmd_attention(args: argparse.Namespace) -> int:
    from engine.analysis_io import EXPORT_SUFFIXES, save_analysis

    if Path(args.out).suffix not in EXPORT_SUFFIXES:  # before the model load, not after
        raise CliError(f"--out {args.out}: the file name must end in "
                       f"{' or '.join(EXPORT_SUFFIXES)}")
    predictor = _analysis_predictor(args)
    analysis, data = _analyze(args, args.text_b, predictor)
    try:
        path = save_analysis(analysis, args.out, model_path=predictor.checkpoint.path,
                             model_name=predictor.name,
                             settings={"top_k": args.top_k, "device": str(predictor.device),
                                       "bf16": args.bf16, "precision": predictor.precision},
                             masked_heads=masked_heads(args))
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from exc
    layers, heads, seq, _ = analysis.attentions.shape
    data["written"] = str(path)
    _emit(args, data, [_token_line(analysis),
                       f"wrote {path}: attention of {layers} layers x {heads} heads over "
                       f"{seq} tokens"])
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    analysis, data = _analyze(args, args.text_b)
    att = analysis.attentions.mean(axis=1)  # [L, T, T], mean over heads
    lines = [f"tokens ({analysis.num_tokens}): {_token_line(analysis)}",
             *_fill_mask_lines(analysis)]
    if analysis.nsp_is_next is not None:
        lines.append(f"NSP: IsNext {analysis.nsp_is_next:.1%}")
    lines.append("attention, strongest link per layer (mean of heads, excluding [CLS]/[SEP]):")
    keep = ~analysis.special_mask
    for layer, grid in enumerate(att):
        masked = grid * keep[:, None] * keep[None, :]
        src, dst = divmod(int(masked.argmax()), grid.shape[1])
        lines.append(f"  layer {layer:2d}: {analysis.tokens[src]} -> {analysis.tokens[dst]} "
                     f"({grid[src, dst]:.2f})")
    lines += [f"note: {n}" for n in analysis.notes]
    lines += [f"warning: {w}" for w in analysis.warnings]
    lines.append(f"{analysis.elapsed_ms:.0f} ms on {analysis.device}")
    _emit(args, data, lines)
    return 0


def _task_lines(analysis) -> list[str]:
    task = analysis.task
    if task.kind in ("classify", "multi_label"):
        order = task.probs.argsort()[::-1]
        return [f"{task.labels[i]:<20} {task.probs[i]:.1%}" for i in order]
    if task.kind == "regress":
        return [f"value {task.value:.4f}"]
    if task.kind == "tag":
        return [" ".join(tok if tag in (None, "O") else f"{tok}/{tag}"
                         for tok, tag in zip(analysis.tokens, task.tags))]
    if task.answer is None:
        return [f"note: {task.note}"]
    a = task.answer
    verdict = "  (no answer scores higher)" if a.no_answer_wins else ""
    return [f"answer: {a.text!r} at {a.char_start}..{a.char_end} of B, score {a.score:.2f}, "
            f"no-answer score {a.null_score:.2f}{verdict}"]


def cmd_predict(args: argparse.Namespace) -> int:
    analysis, data = _analyze(args, args.text_b)
    if analysis.task is None:
        raise CliError("this model is not fine-tuned for a task (no classifier, tagger or QA "
                       "head): try fill-mask or nsp, or `bert-engine finetune` it")
    _emit(args, {**data["task"], "tokens": analysis.tokens, "warnings": data["warnings"]},
          _task_lines(analysis) + [f"warning: {w}" for w in analysis.warnings])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bert-engine", description=__doc__.replace("``", ""))
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func, help_text: str, text_b: str | None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--model", metavar="DIR", help="checkpoint folder (HF layout); "
                                                      "default: the bundled model")
        p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if present)")
        add_precision_options(p)
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        if text_b is not None:
            p.add_argument("text_a", metavar="TEXT_A", help="sentence A; type [MASK] to mask")
            p.add_argument("text_b", metavar="TEXT_B", nargs="?" if text_b == "optional" else None,
                           help="sentence B")
            p.add_argument("--top-k", type=int, default=5, help="candidates per [MASK]")
            add_mask_heads_option(p)
        p.set_defaults(func=func)
        return p

    add("info", cmd_info, "describe a model: size, vocabulary, what it can do", None)
    add("fill-mask", cmd_fill_mask, "top-k candidates for every [MASK]", "optional")
    add("nsp", cmd_nsp, "probability that TEXT_B follows TEXT_A", "required")
    att = add("attention", cmd_attention,
              "export every head's attention as .npz or .json", "optional")
    att.add_argument("--out", required=True, metavar="FILE", help="FILE.npz or FILE.json")
    add("analyze", cmd_analyze, "tokens, fill-mask, NSP and an attention summary", "optional")
    add("predict", cmd_predict, "a fine-tuned model's answer: classes, tags or the answer "
                                "span (QA: question as TEXT_A, passage as TEXT_B)", "optional")
    add_training_commands(sub)
    add_finetune_command(sub)
    add_runs_command(sub)
    add_explain_command(sub, _predictor, _emit)
    add_compare_command(sub, _emit)
    add_heads_commands(sub, _predictor, _emit)
    add_index_commands(sub, _predictor, _emit)
    add_dataset_command(sub, _predictor, _emit)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        # The reader went away (``bert-engine ... | head``): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush cannot fail again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_NO_RESULT
    except (CliError, *USER_ERRORS, RunFolderError, ValueError, OSError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__  # one line
        print(f"bert-engine: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
