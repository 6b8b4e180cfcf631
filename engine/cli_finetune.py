"""``bert-engine finetune``: classify, regress, tag or answer questions, in a run folder."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

from engine.cli_train import _process_fields, open_for_resume, resumed_train_config, train_in_run


def add_finetune_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model: classify, regress, tag or qa",
                       description="Fine-tune a checkpoint into a run folder (config, status, "
                                   "metrics, log, checkpoints, best/).")
    p.add_argument("--task", choices=["classify", "regress", "tag", "qa"],
                   help="classify: texts or pairs -> labels; regress: -> a number; tag: CoNLL "
                        "words -> tags; qa: SQuAD question + context -> answer span")
    p.add_argument("--model", metavar="DIR", help="checkpoint to start from (default: the "
                                                  "bundled model)")
    p.add_argument("--train", metavar="FILE", help="CSV, TSV or JSONL (classify/regress), CoNLL "
                                                   "(tag) or SQuAD JSON (qa)")
    p.add_argument("--eval", metavar="FILE", help="same format; scored at every evaluation "
                                                  "(picks the best checkpoint)")
    p.add_argument("--test", metavar="FILE", help="same format; scored once at the end with "
                                                  "the best checkpoint")
    p.add_argument("--run-dir", metavar="DIR", help="new run folder")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    g = p.add_argument_group("classify / regress")
    g.add_argument("--glue-task", metavar="NAME", help="cola sst2 mrpc stsb qqp mnli qnli rte "
                                                       "wnli: columns and metric of that task")
    g.add_argument("--glue-dir", metavar="DIR", help="with --glue-task: the task's folder "
                                                     "(train.tsv, dev.tsv)")
    g.add_argument("--text-a", default="text", metavar="COL", help="column of text A "
                   "(a name, or a 0-based index with --no-header; default 'text')")
    g.add_argument("--text-b", metavar="COL", help="column of text B, for pairs")
    g.add_argument("--label", default="label", metavar="COL", help="label column "
                                                                   "(default 'label')")
    g.add_argument("--no-header", action="store_true", help="CSV/TSV without a header row")
    g.add_argument("--multi-label", action="store_true", help="several labels per row (a JSON "
                   "list, or separated by --label-separator)")
    g.add_argument("--label-separator", default=",", metavar="SEP")
    g = p.add_argument_group("tag")
    g.add_argument("--word-column", type=int, default=0)
    g.add_argument("--tag-column", type=int, default=-1, help="default: the last column")
    g.add_argument("--tag-scheme", default="IOB2", choices=["IOB2", "IOB1"],
                   help="how entities are read for entity F1")
    g = p.add_argument_group("qa")
    g.add_argument("--doc-stride", type=int, help="tokens between window starts (default "
                                                   "128, less when --seq-len leaves less room)")
    g.add_argument("--max-query-length", type=int, help="question tokens kept (default 64, "
                                                        "at most half of --seq-len)")
    g.add_argument("--max-answer-length", type=int, default=30, help="in tokens")
    g.add_argument("--n-best", type=int, default=20)
    g.add_argument("--null-threshold", type=float, default=0.0,
                   help="SQuAD v2: answer \"\" when the null score beats the best span by more")
    g = p.add_argument_group("training")
    g.add_argument("--seq-len", type=int, default=128)
    g.add_argument("--batch-size", type=int, default=32, help="per process")
    g.add_argument("--eval-batch-size", type=int, default=64)
    g.add_argument("--grad-accum", type=int, default=1)
    g.add_argument("--epochs", type=float, default=3.0)
    g.add_argument("--max-steps", type=int, help="instead of --epochs (with --resume: extend to)")
    g.add_argument("--lr", type=float, default=5e-5)
    g.add_argument("--warmup-ratio", type=float, default=0.1)
    g.add_argument("--schedule", default="linear", choices=["linear", "cosine", "constant"])
    g.add_argument("--weight-decay", type=float, default=0.01)
    g.add_argument("--dropout", type=float, help="hidden and attention dropout (default: the "
                                                 "model's)")
    g.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    g.add_argument("--device", help="cpu or cuda (default: cuda if present)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--log-every", type=int, default=10)
    g.add_argument("--eval-every", type=int, help="steps (default: once per epoch)")
    g.add_argument("--checkpoint-every", type=int, help="steps (default: once per epoch)")
    g.add_argument("--keep-checkpoints", type=int, default=2)
    g.add_argument("--metric-for-best", metavar="NAME", help="default: the task's main metric "
                   "(accuracy, micro_f1, pearson, entity_f1, f1; GLUE: the task's)")
    g.add_argument("--early-stopping", type=int, default=0, metavar="N",
                   help="stop after N evaluations without a better main metric (0: never)")
    p.set_defaults(func=cmd_finetune)


def _spec_from_args(args: argparse.Namespace):
    from engine.paths import model_or_default
    from engine.train.finetuning import FinetuneSpec

    if not args.task:
        raise ValueError("--task is required for a new run (classify, regress, tag or qa)")
    if args.glue_task and not args.glue_dir:
        raise ValueError("--glue-task needs --glue-dir (the task's folder with train.tsv)")
    resolve = lambda value: str(Path(value).resolve()) if value else None  # noqa: E731
    # BERT's SQuAD defaults (64, 128) are for 384 tokens; shorter sequences get room to fit.
    query = args.max_query_length or max(1, min(64, args.seq_len // 2 - 2))
    stride = args.doc_stride or max(1, min(128, (args.seq_len - query - 3) // 2))
    return FinetuneSpec(
        task=args.task, model=resolve(model_or_default(args.model)),
        train=resolve(args.glue_dir if args.glue_task else args.train), eval=resolve(args.eval),
        test=resolve(args.test),
        glue_task=args.glue_task, text_a=args.text_a, text_b=args.text_b, label=args.label,
        has_header=not args.no_header, multi_label=args.multi_label,
        label_separator=args.label_separator, word_column=args.word_column,
        tag_column=args.tag_column, tag_scheme=args.tag_scheme, max_seq_length=args.seq_len,
        batch_size=args.batch_size, eval_batch_size=args.eval_batch_size,
        doc_stride=stride, max_query_length=query,
        max_answer_length=args.max_answer_length, n_best=args.n_best,
        null_threshold=args.null_threshold, dropout=args.dropout,
        metric_for_best=args.metric_for_best, seed=args.seed)


def _train_config(args: argparse.Namespace, steps_per_epoch: int, has_eval: bool):
    from engine.train.loop import TrainConfig

    if args.max_steps is None and not args.epochs > 0:
        raise ValueError(f"--epochs must be positive, got {args.epochs}")
    if not 0.0 <= args.warmup_ratio < 1.0:
        raise ValueError(f"--warmup-ratio must be in [0, 1), got {args.warmup_ratio}")
    max_steps = args.max_steps or max(1, math.ceil(args.epochs * steps_per_epoch))
    every = min(steps_per_epoch, max_steps)
    return TrainConfig(max_steps=max_steps, lr=args.lr,
                       warmup_steps=int(args.warmup_ratio * max_steps), schedule=args.schedule,
                       weight_decay=args.weight_decay, grad_accum=args.grad_accum,
                       precision=args.precision, log_every=args.log_every,
                       eval_every=(args.eval_every or every) if has_eval else 0,
                       checkpoint_every=args.checkpoint_every or every,
                       keep_checkpoints=args.keep_checkpoints, seed=args.seed,
                       early_stopping_patience=args.early_stopping)


def cmd_finetune(args: argparse.Namespace) -> int:
    from engine.runlog import RunFolder
    from engine.train import distributed
    from engine.train.finetuning import FinetuneSpec, FinetuningTask

    if bool(args.run_dir) == bool(args.resume):
        raise ValueError("give either --run-dir for a new run or --resume RUN_DIR")
    ctx = distributed.setup(args.device)
    try:
        if args.resume:
            run, saved = open_for_resume(args.resume, ctx, "finetune")
            try:  # the data are read again: a file moved since fails here
                task = FinetuningTask(FinetuneSpec(**saved["task"]))
            except Exception as exc:
                if ctx.is_main:
                    run.write_status(state="failed", error=f"could not resume: {exc}")
                raise
            cfg = resumed_train_config(run, saved, ctx, args.max_steps)
        else:
            # Data are read and checked before the run folder exists: bad input leaves nothing.
            task = FinetuningTask(_spec_from_args(args))
            batches = math.ceil(len(task.data.train) / (args.batch_size * ctx.world_size))
            cfg = _train_config(args, max(1, math.ceil(batches / args.grad_accum)),
                                task.data.eval is not None)
            run = RunFolder(args.run_dir)
            if ctx.is_main:
                RunFolder.create(args.run_dir, {
                    "kind": "finetune", "task": dataclasses.asdict(task.spec),
                    "train": dataclasses.asdict(cfg), "world_size": ctx.world_size,
                    "hardware": ctx.hardware(),
                    "main_metric": task.main_metric, "command": sys.argv,
                    "created": time.time()})
                run.write_status(state="starting", step=0, max_steps=cfg.max_steps,
                                 **_process_fields())
                run.log(f"{task.spec.task}: {len(task.data.train)} training rows, "
                        f"{task.data.eval_examples} evaluation examples, labels "
                        f"{task.data.labels}; best checkpoint by {task.main_metric}")
        code = train_in_run(task, cfg, run, ctx, resume=bool(args.resume))
        if code == 0 and ctx.is_main and task.data.test is not None:
            _score_test(task, run, ctx.device)
        return code
    finally:
        ctx.close()


def _score_test(task, run, device) -> None:
    """Score the --test set with the best checkpoint (the last one without --eval), once the
    run has finished; the scores go to metrics.jsonl (split "test"), status.json and stdout.
    A stop request or SIGTERM meanwhile skips it, and the status says so."""
    import json
    import signal

    from engine.checkpoint import load_checkpoint
    from engine.runlog import MetricsWriter
    from engine.train.checkpointing import BEST_NAME

    status = run.read_status() or {}
    if status.get("state") != "finished":
        return
    if run.stop_requested():
        run.clear_stop_request()
        run.write_status(message="test set not scored: stopped before it")
        return
    best = run.path / BEST_NAME
    folder = best if best.is_dir() else run.latest_checkpoint()[1]
    run.write_status(message=f"scoring the test set with {folder.name}")

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        model = load_checkpoint(folder, device=device).model
        scores = task.score(model, task.data.test, device)
    except KeyboardInterrupt:
        run.write_status(message="test set not scored: interrupted")
        run.log("test scoring interrupted; run `finetune --resume` to score it")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    with MetricsWriter(run.metrics_path) as writer:
        writer.write({"step": status.get("step"), "time": time.time(), "split": "test",
                      "checkpoint": folder.name, **scores})
    run.write_status(test={"checkpoint": folder.name, **scores}, message=None)
    run.log(f"test set ({task.data.test.count} examples) with {folder.name}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float)))
    print(json.dumps({"test": scores, "checkpoint": str(folder)}))
