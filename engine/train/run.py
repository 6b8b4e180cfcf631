"""A training run's life, the same for pretraining and fine-tuning: start a new run folder or
reopen one to resume, train in it, and say how it ended. The CLI parses and prints; this does
the rest.

A new run checks what it can before its folder exists, so bad input leaves nothing; a resumed
run reads its saved settings back into the same specs (``from_config``) and continues from its
last checkpoint. Once the folder exists, a failure to start is written to its status.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.checkpoint import load_checkpoint
from engine.options import Spec, SpecError
from engine.precision import resolve_precision
from engine.runlog import MetricsWriter, RunFolder
from engine.specs import FinetuneJob, FinetuneSpec, PretrainJob, PretrainSpec, TrainConfig
from engine.train import distributed
from engine.train.checkpointing import BEST_NAME
from engine.train.corpus_job import check_corpus_job, prepare_in_run
from engine.train.distributed import DistributedContext
from engine.train.finetuning import FinetuningTask
from engine.train.loop import Trainer
from engine.train.pretraining import PretrainingTask

# Each kind of run: the spec its config.json "task" reads back into, and the task it builds.
KINDS = {"pretrain": (PretrainSpec, PretrainingTask), "finetune": (FinetuneSpec, FinetuningTask)}


@dataclass
class RunEnd:
    """How a run stopped in this process: its folder, state (finished, paused, cancelled) and
    step, and for a fine-tuning run that scored its --test set, the scores and checkpoint."""

    path: Path
    state: str
    step: int
    test: dict[str, Any] | None = None


@dataclass
class _Begun:
    """A run ready to train."""

    task: PretrainingTask | FinetuningTask
    cfg: TrainConfig
    run: RunFolder
    resume: bool


def start_pretraining(job: PretrainJob, run_dir: str) -> RunEnd | None:
    """Pretrain ``job`` in the new run folder ``run_dir``. None on ranks other than the main
    one; TrainingFailed when the run cannot go on."""
    return _train(job.device, lambda ctx: _begin_pretraining(job, run_dir, ctx))


def start_finetuning(job: FinetuneJob, run_dir: str) -> RunEnd | None:
    """Fine-tune ``job`` in the new run folder ``run_dir``, then score its --test set."""
    return _train(job.device, lambda ctx: _begin_finetuning(job, run_dir, ctx))


def resume(path: str, kind: str, device: str | None = None,
           max_steps: int | None = None) -> RunEnd | None:
    """Continue the ``kind`` run at ``path`` from its last checkpoint, to ``max_steps`` when
    given (the new goal is saved, so a later plain resume keeps it)."""
    return _train(device, lambda ctx: _begin_resume(path, kind, max_steps, ctx))


def _train(device: str | None,
           begin: Callable[[DistributedContext], _Begun | RunEnd | None]) -> RunEnd | None:
    """What every start and resume shares: the process group around the run's beginning and
    its training, and a fine-tuning run's test set once it has finished."""
    ctx = distributed.setup(device)
    try:
        begun = begin(ctx)
        if not isinstance(begun, _Begun):  # stopped before training
            return begun
        end = train_in_run(begun.task, begun.cfg, begun.run, ctx, resume=begun.resume)
        if (end is not None and isinstance(begun.task, FinetuningTask)
                and begun.task.data.test is not None):
            end.test = score_test_set(begun.task, begun.run, ctx.device)
        return end
    finally:
        ctx.close()


def _begin_pretraining(job: PretrainJob, run_dir: str, ctx: DistributedContext):
    spec = job.task_in(run_dir)
    if job.corpus:
        check_corpus_job(job)
    else:
        PretrainingTask(spec).model_config()  # bad data or sizes fail before any folder exists
    cfg = with_resolved_precision(job.train, ctx.device)
    run = _create_run(run_dir, ctx, "pretrain", spec, cfg)
    stopped = prepare_in_run(job, run) if ctx.is_main and job.corpus else None
    if ctx.broadcast_object(stopped) is not None:  # every rank stops, or none
        return RunEnd(run.path, stopped, 0) if ctx.is_main else None
    return _Begun(PretrainingTask(spec), cfg, run, resume=False)


def _begin_finetuning(job: FinetuneJob, run_dir: str, ctx: DistributedContext):
    # Data are read and checked before the run folder exists: bad input leaves nothing.
    task = FinetuningTask(job.task)
    cfg = with_resolved_precision(
        job.train_config(len(task.data.train), ctx.world_size, task.data.eval is not None),
        ctx.device)
    run = _create_run(run_dir, ctx, "finetune", task.spec, cfg, main_metric=task.main_metric)
    if ctx.is_main:
        run.log(f"{task.spec.task}: {len(task.data.train)} training rows, "
                f"{task.data.eval_examples} evaluation examples, labels "
                f"{task.data.labels}; best checkpoint by {task.main_metric}")
    return _Begun(task, cfg, run, resume=False)


def _begin_resume(path: str, kind: str, max_steps: int | None, ctx: DistributedContext):
    run, saved = open_for_resume(path, ctx, kind)
    spec_class, task_class = KINDS[kind]
    try:  # the data are read again: a file moved since fails here
        task = task_class(saved_spec(run, spec_class, saved, "task"))
    except Exception as exc:
        if ctx.is_main:
            run.write_status(state="failed", error=f"could not resume: {exc}")
        raise
    return _Begun(task, resumed_train_config(run, saved, ctx, max_steps), run, resume=True)


def with_resolved_precision(cfg: TrainConfig, device) -> TrainConfig:
    """``--precision auto`` decided once, at the start, from the device and the CPU's flags
    (``engine.precision``); the run's config.json records the decision, so a resume keeps it."""
    return dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))


def process_fields() -> dict:
    """Who runs the job: lets a monitor check the process from the first status on."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _create_run(run_dir: str, ctx: DistributedContext, kind: str, spec: Spec, cfg: TrainConfig,
                **extra: Any) -> RunFolder:
    """The new run folder (made by the main rank) with the resolved settings, "starting"."""
    run = RunFolder(run_dir)
    if ctx.is_main:
        RunFolder.create(run_dir, {
            "kind": kind, "task": dataclasses.asdict(spec), "train": dataclasses.asdict(cfg),
            "world_size": ctx.world_size, "hardware": ctx.hardware(), **extra,
            "command": sys.argv, "created": time.time()})
        run.write_status(state="starting", step=0, max_steps=cfg.max_steps, **process_fields())
    return run


def open_for_resume(path: str, ctx: DistributedContext, kind: str) -> tuple[RunFolder, dict]:
    """The run folder to resume and its saved config, checked against this launch."""
    run = RunFolder(path)
    saved = run.read_config()
    if saved.get("kind", kind) != kind:
        raise ValueError(f"{run.path} is a {saved.get('kind')} run: resume it with "
                         f"`bert-engine {saved.get('kind')} --resume`")
    if ctx.is_main:  # a request left by a dead process must not stop this one
        run.clear_stop_request()
        run.write_status(state="starting", error=None, message=None, **process_fields())
    if saved.get("world_size", 1) != ctx.world_size:
        # The saved data position counts global batches of batch x world size.
        raise ValueError(f"{run.path} was trained with {saved.get('world_size', 1)} "
                         f"process(es); resume it with the same number, not {ctx.world_size}")
    return run, saved


def saved_spec(run: RunFolder, spec_class: type[Spec], saved: dict, key: str,
               **changes: Any) -> Spec:
    """The run's saved ``key`` settings (with ``changes``) as a ``spec_class``; a setting an
    older run did not write takes its default, and a bad one is refused naming the file."""
    try:
        return spec_class.from_config({**saved.get(key, {}), **changes})
    except SpecError as exc:
        raise SpecError([f"{run.config_path} ({key}): {p}" for p in exc.problems]) from None


def resumed_train_config(run: RunFolder, saved: dict, ctx: DistributedContext,
                         max_steps: int | None) -> TrainConfig:
    """The saved TrainConfig, with ``max_steps`` extended when asked; the new goal is saved,
    so a later plain ``--resume`` keeps it."""
    cfg = saved_spec(run, TrainConfig, saved, "train",
                     **({"max_steps": max_steps} if max_steps else {}))
    if max_steps and ctx.is_main:
        run.update_config({**saved, "train": dataclasses.asdict(cfg)})
    return cfg


def train_in_run(task, cfg: TrainConfig, run: RunFolder, ctx: DistributedContext,
                 resume: bool) -> RunEnd | None:
    """Train ``task`` in ``run`` (from its last checkpoint when ``resume``): how it ended, on
    the main rank (None on others). TrainingFailed when the run cannot go on."""
    try:
        trainer = Trainer(task, cfg, run, ctx)
    except Exception as exc:  # the model cannot be built: say so, never stay "starting"
        if ctx.is_main:
            run.write_status(state="failed", error=f"could not start: {exc}")
        raise
    if task.heldout_note and ctx.is_main:
        run.log(f"warning: {task.heldout_note}")
    if ctx.is_main:
        run.write_status(state="starting", max_steps=cfg.max_steps, error=None, message=None)
    if resume:
        try:
            trainer.resume()
        except Exception as exc:
            if ctx.is_main:
                run.write_status(state="failed", error=f"could not resume: {exc}")
            raise
    state = trainer.train()
    return RunEnd(run.path, state, trainer.step) if ctx.is_main else None


def score_test_set(task: FinetuningTask, run: RunFolder, device) -> dict[str, Any] | None:
    """Score the --test set with the best checkpoint (the last one without --eval), once the
    run has finished; the scores go to metrics.jsonl (split "test") and status.json, and come
    back with the checkpoint's folder. A stop request or SIGTERM meanwhile skips it, and the
    status says so."""
    status = run.read_status() or {}
    if status.get("state") != "finished":
        return None
    if run.stop_requested():
        run.clear_stop_request()
        run.write_status(message="test set not scored: stopped before it")
        return None
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
    return {"test": scores, "checkpoint": str(folder)}
