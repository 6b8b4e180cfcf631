"""``bert-engine finetune``: classify, regress, tag or answer questions, in a run folder."""

from __future__ import annotations

import argparse

from engine.cli_train import add_run_folder_options, is_new_run, run_job
from engine.specs import FinetuneJob


def add_finetune_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model: classify, regress, tag or qa",
                       description="Fine-tune a checkpoint into a run folder (config, status, "
                                   "metrics, log, checkpoints, best/).")
    add_run_folder_options(p)
    FinetuneJob.add_arguments(p)
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> int:
    from engine.train import run

    if is_new_run(args):
        job = FinetuneJob.from_args(args)
        return run_job(lambda: run.start_finetuning(job, args.run_dir))
    return run_job(lambda: run.resume(args.resume, "finetune", args.device, args.max_steps))
