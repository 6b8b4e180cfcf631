"""``bert-engine dataset``: a file of examples through the model, with the file's metrics (the
numbers ``finetune --test`` gives), per-slice scores and, with --csv, the table of examples.
Parse and print; ``engine.dataset_run`` does the work."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from engine.cli_precision import add_precision_options
from engine import atomic

HELP = ("run every example of a file (CSV/TSV/JSONL as finetune reads them, or .txt: one a line, "
        "a tab between A and B): predictions, right or wrong and loss when labelled, the file's "
        "metrics and per-slice scores")


def add_dataset_command(sub, predictor: Callable, emit: Callable) -> None:
    p = sub.add_parser("dataset", help=HELP, description=HELP)
    p.add_argument("file", metavar="FILE", help="the examples")
    p.add_argument("--model", metavar="DIR", help="checkpoint folder (HF layout); default: the "
                                                  "bundled model")
    p.add_argument("--text-a", default="text", help="column of sentence A (default text)")
    p.add_argument("--text-b", help="column of sentence B, for pairs")
    p.add_argument("--label", help="column of the gold label (default: label, when the model is "
                                   "fine-tuned and the file has it)")
    p.add_argument("--no-header", action="store_true", help="CSV/TSV without a header row "
                                                            "(columns by number, from 0)")
    p.add_argument("--slice-by", metavar="COLUMN", action="append", default=[],
                   help="also score per value of this column (repeatable)")
    p.add_argument("--seq-len", type=int, default=128, help="tokens per example, as finetune's "
                                                            "--seq-len (default 128)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per forward pass")
    p.add_argument("--top-k", type=int, default=5, help="candidates per [MASK]")
    p.add_argument("--csv", metavar="FILE", help="write the table of examples as CSV")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if present)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_precision_options(p)
    p.set_defaults(func=lambda args: cmd_dataset(args, predictor, emit))


def cmd_dataset(args: argparse.Namespace, predictor: Callable, emit: Callable) -> int:
    from engine.dataset_run import column_values, read_for_model, run_dataset

    p = predictor(args)
    examples = read_for_model(args.file, p.task_kind, args.text_a, args.text_b, args.label,
                              has_header=not args.no_header)
    columns = {c: column_values(args.file, c, examples, not args.no_header) for c in args.slice_by}

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} examples", end="", file=sys.stderr, flush=True)

    run = run_dataset(p, examples, args.file, args.seq_len, args.batch_size, args.top_k,
                      columns, progress)
    print(file=sys.stderr)
    if args.csv:
        atomic.write_text(args.csv, run.to_csv())
    lines = [f"{len(run.examples)} examples ({run.kind}) in {run.seconds:.1f} s"]
    lines += [f"{k:<12} {v:.4f}" if isinstance(v, float) else f"{k:<12} {v}"
              for k, v in run.metrics.items()]
    for s in run.slices:
        scores = "  ".join(f"{name} {value:.4f}" for name, value in
                           (("accuracy", s.accuracy), ("loss", s.loss), ("mse", s.mse))
                           if value is not None)
        lines.append(f"{s.kind:<10} {s.value:<14} {s.count:>6}  {scores}")
    emit(args, run.to_dict(), lines)
    return 0
