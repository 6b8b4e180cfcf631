"""The training loop every task shares: optimizer, schedule, precision, accumulation, clipping,
checkpoints with exact resume, the run folder, stop requests and DDP.

A task (pretraining, fine-tuning) supplies the model, a resumable batch stream, its losses as
SUMS with their denominators, and its evaluation. The loop divides by the denominators summed
over micro-batches and ranks, so an update is the same whether a global batch is split over
ranks, accumulation steps or neither.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import threading
import time
from contextlib import nullcontext
from typing import Any, Protocol

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from engine.heartbeat import Heartbeat
from engine.runlog import MetricsWriter, RunFolder
from engine.specs import TrainConfig
from engine.train import checkpointing
from engine.train.distributed import DistributedContext
from engine.onednn_linear import route_linears_to_onednn
from engine.train.optim import build_optimizer, lr_at


class ResumableBatches(Protocol):
    def __next__(self) -> dict[str, torch.Tensor]: ...
    def state(self) -> dict[str, Any]: ...
    def load_state(self, state: dict[str, Any]) -> None: ...


class TrainingTask(Protocol):
    kind: str
    tokenizer: Any
    loss_weights: dict[str, float]  # a loss's weight in the objective; 1 for those not named

    def build_model(self) -> nn.Module: ...
    def batches(self, rank: int, world_size: int) -> ResumableBatches: ...
    def denominators(self, batch: dict[str, torch.Tensor]) -> dict[str, float]: ...
    def losses(self, model: nn.Module, batch: dict[str, torch.Tensor]
               ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]: ...
    def evaluate(self, model: nn.Module, device: torch.device) -> dict[str, float]: ...
    def checkpoint_extras(self, model: nn.Module, device: torch.device) -> dict[str, Any]: ...


class TrainingFailed(RuntimeError):
    """The run cannot go on (non-finite loss, ...); the run folder says why."""


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class Trainer:
    def __init__(self, task: TrainingTask, cfg: TrainConfig, run: RunFolder,
                 ctx: DistributedContext):
        self.task, self.cfg, self.run, self.ctx = task, cfg, run, ctx
        self.device = ctx.device
        # New runs reach here with "auto" resolved (engine.train.run); "auto" saved by a run
        # started before that keeps the rule it started with: bf16 on CUDA only.
        bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and self.device.type == "cuda")
        self.autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if bf16
                         else nullcontext())
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.model = task.build_model().to(self.device)
        if self.device.type == "cpu":  # float32 products on oneDNN, faster than MKL's sgemm
            route_linears_to_onednn(self.model)
        torch.manual_seed(cfg.seed + ctx.rank)  # then different dropout masks per rank
        self.optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay)
        self.batches = task.batches(ctx.rank, ctx.world_size)
        self.step = 0
        self._checkpointed_step = 0
        # Best checkpoint by the task's main metric (fine-tuning); none for pretraining.
        self.best = _BestTracker(getattr(task, "main_metric", None), cfg.early_stopping_patience)
        self._stop_signal: str | None = None
        self._metrics = MetricsWriter(run.metrics_path) if ctx.is_main else None
        # status.json is read-merged-written; the lock keeps the heartbeat thread from writing
        # back a state the main thread has just replaced.
        self._status_lock = threading.Lock()
        # Training wall time over every process of this run (a resumed run adds to it).
        self._started = time.monotonic()
        previous = run.read_status() if ctx.is_main else None
        self._elapsed_before = float((previous or {}).get("elapsed") or 0.0)

    # ----- public -----

    def resume(self) -> int:
        """Continue from the run's latest complete checkpoint; returns its step (0 if none)."""
        latest = self.run.latest_checkpoint()
        if latest is None:
            return 0
        step, folder = latest
        state = checkpointing.load_training_state(folder, self.model, self.optimizer)
        self.step = self._checkpointed_step = state["step"]
        self.batches.load_state(state["data"])
        self.best.load_state(state.get("best") or {})
        checkpointing.restore_rng(state["rng"], self.ctx.rank)
        self._log(f"resumed from {folder.name} (step {step})")
        return step

    def train(self) -> str:
        """Run to ``max_steps`` or a stop request; returns the final state."""
        # Every rank: torchrun forwards SIGTERM to all workers, and the stop flag is agreed by
        # all-reduce, so all ranks checkpoint and exit together.
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        model = (DistributedDataParallel(self.model, device_ids=[self.device]
                                         if self.device.type == "cuda" else None)
                 if self.ctx.distributed else self.model)
        beating = (Heartbeat(self.run, self.cfg.heartbeat_seconds, self._status_lock,
                             lambda: {"step": self.step, "elapsed": self._elapsed()})
                   if self.ctx.is_main else nullcontext())
        try:
            with beating:
                self._status("running")
                return self._loop(model)
        except TrainingFailed as exc:
            self._status("failed", error=str(exc))
            self._log(f"failed: {exc}")
            raise
        except KeyboardInterrupt:
            self._status("cancelled", error="interrupted (Ctrl+C); the last checkpoint is kept")
            raise
        except Exception as exc:  # disk full, a broken file...: say so, never stay "running"
            self._status("failed", error=f"{type(exc).__name__}: {exc}")
            self._log(f"failed: {type(exc).__name__}: {exc}")
            raise
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if self._metrics is not None:
                self._metrics.close()

    # ----- the loop -----

    def _loop(self, model: nn.Module) -> str:
        cfg = self.cfg
        window = _Window()
        while self.step < cfg.max_steps:
            before = self.batches.state()
            micro = [next(self.batches) for _ in range(cfg.grad_accum)]
            stop = self._stop_request()
            counts = [self.task.denominators(b) for b in micro]
            keys = sorted({k for c in counts for k in c})
            local = torch.tensor([float(stop == "pause"), float(stop == "cancel")]
                                 + [sum(c.get(k, 0.0) for c in counts) for k in keys],
                                 dtype=torch.float64)
            totals = self.ctx.all_reduce_sum(local).cpu()  # one collective: stop flags + counts
            if totals[0] or totals[1]:
                self.batches.load_state(before)  # these batches were drawn, not trained on
                return self._stop("cancel" if totals[1] else "pause")
            denominators = dict(zip(keys, totals[2:].tolist()))
            self.train_step(model, micro, denominators, window)
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                self._write_train_metrics(window)
                window = _Window()
            checkpoint_due = (self.step % cfg.checkpoint_every == 0
                              or self.step == cfg.max_steps or self.step in cfg.kept_steps)
            if cfg.eval_every and self.step % cfg.eval_every == 0 and not checkpoint_due:
                self._evaluate()
            if checkpoint_due:
                self._checkpoint()
            if self.best.stop:
                if self._checkpointed_step != self.step:
                    self._checkpoint(evaluate=False)
                message = (f"early stopping: no better {self.best.metric} in "
                           f"{self.best.patience} evaluations (best {self.best.value:.4f} at "
                           f"step {self.best.step})")
                self._log(message)
                self._status("finished", message=message)
                return "finished"
        self._check_ranks_in_sync()
        self._status("finished")
        self._log(f"finished at step {self.step}")
        return "finished"

    def _check_ranks_in_sync(self) -> None:
        """DDP keeps every rank's weights equal; say so, or warn loudly if they drifted."""
        if not self.ctx.distributed:
            return
        sums = torch.stack([p.detach().double().sum() for p in self.model.parameters()]).cpu()
        gathered = [torch.empty_like(sums) for _ in range(self.ctx.world_size)]
        torch.distributed.all_gather(gathered, sums.to(self.device))
        drift = max(float((g.cpu() - sums).abs().max()) for g in gathered)
        self._log(f"weights identical on {self.ctx.world_size} ranks" if drift == 0
                  else f"WARNING: weights differ between ranks (max parameter-sum gap {drift})")

    def train_step(self, model: nn.Module, micro: list[dict[str, torch.Tensor]],
                   denominators: dict[str, float], window: "_Window") -> float:
        """One optimizer update from ``micro``-batches; ``denominators`` are the global sums.
        Returns the learning rate used."""
        cfg = self.cfg
        lr = lr_at(self.step, cfg.lr, cfg.warmup_steps, cfg.max_steps, cfg.schedule)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        started = time.perf_counter()
        for i, batch in enumerate(micro):
            batch = _to_device(batch, self.device)
            last = i == len(micro) - 1
            sync = nullcontext() if last or not self.ctx.distributed else model.no_sync()
            with sync:
                with self.autocast:
                    sums, correct = self.task.losses(model, batch)
                # DDP averages gradients over ranks; scaling by the world size undoes that, so
                # the gradient is that of the global mean.
                loss = sum(self.task.loss_weights.get(k, 1.0) * sums[k] / max(denominators[k], 1.0)
                           for k in sums)
                (loss * self.ctx.world_size).backward()
            window.add(sums, correct, batch)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_norm)
        if not torch.isfinite(grad_norm):
            raise TrainingFailed(f"non-finite loss or gradient at step {self.step + 1} "
                                 f"(gradient norm {grad_norm.item()}); the last good "
                                 "checkpoint is kept")
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        window.finish_step(denominators, grad_norm.item(), lr, time.perf_counter() - started)
        return lr

    # ----- metrics, evaluation, checkpoints -----

    def _write_train_metrics(self, window: "_Window") -> None:
        record = window.summary(self.ctx)
        if self._metrics is not None:
            self._metrics.write({"step": self.step, "time": time.time(), "split": "train",
                                 **record})

    def _evaluate(self) -> None:
        self.model.eval()
        try:
            with self.autocast:
                scores = self.task.evaluate(self.model, self.device)
        finally:
            self.model.train()
        if self._metrics is not None and scores:
            self._metrics.write({"step": self.step, "time": time.time(), "split": "heldout",
                                 **scores})
        if self.best.improved_by(scores, self.step) and self.ctx.is_main:
            folder = checkpointing.save_best(self.run, self.model, self.task.tokenizer,
                                             self.best.state())
            self._status("running", best=self.best.state())
            self._log(f"new best {self.best.metric} {self.best.value:.4f}: {folder.name}")

    def _checkpoint(self, evaluate: bool = True) -> None:
        if evaluate:
            self._evaluate()
        rng = checkpointing.gather_rng(self.ctx)
        if self.ctx.is_main:
            self.model.eval()
            try:
                extras = self.task.checkpoint_extras(self.model, self.device)
            finally:
                self.model.train()
            folder = checkpointing.save_training_checkpoint(
                self.run, self.step, self.model, self.task.tokenizer, self.optimizer,
                self.batches.state(), rng, extras, best=self.best.state())
            checkpointing.prune(self.run, self.cfg.keep_checkpoints, self.cfg.kept_steps)
            if extras and self._metrics is not None:
                self._metrics.write({"step": self.step, "time": time.time(), "split": "probe",
                                     **extras})
            self._status("running", last_checkpoint=str(folder))
            self._log(f"checkpoint {folder.name}")
        self._checkpointed_step = self.step
        self.ctx.barrier()

    def _stop(self, mode: str) -> str:
        state = "paused" if mode == "pause" else "cancelled"
        self._log(f"stop requested ({mode}) at step {self.step}: checkpointing")
        if self.step > 0 and self._checkpointed_step != self.step:
            # No evaluation here: one off the schedule would count against early stopping and
            # could become the best checkpoint, so a paused run would differ from a straight one.
            self._checkpoint(evaluate=False)
        if self.ctx.is_main:
            self.run.clear_stop_request()
        self._status(state)
        return state

    # ----- status, stop requests, logging -----

    def _on_sigterm(self, signum, frame) -> None:
        self._stop_signal = "cancel"  # honoured between steps: checkpoint, then exit

    def _stop_request(self) -> str | None:
        if self._stop_signal:
            return self._stop_signal
        return self.run.stop_requested() if self.ctx.is_main else None

    def _status(self, state: str, **fields) -> None:
        if state in ("starting", "running"):
            fields.setdefault("error", None)  # a resumed run is no longer failed
        if self.ctx.is_main:
            with self._status_lock:
                self.run.write_status(state=state, pid=os.getpid(), host=socket.gethostname(),
                                      step=self.step, max_steps=self.cfg.max_steps,
                                      elapsed=self._elapsed(), **fields)

    def _elapsed(self) -> float:
        return round(self._elapsed_before + time.monotonic() - self._started, 3)

    def _log(self, message: str) -> None:
        if self.ctx.is_main:
            self.run.log(message)


class _BestTracker:
    """The best value of the main metric so far, and early stopping. Higher is better except
    for losses and errors (``*loss``, ``mse``). Every rank sees the same scores, so every rank
    agrees on when to stop."""

    def __init__(self, metric: str | None, patience: int):
        self.metric, self.patience = metric, patience
        self.sign = -1.0 if metric and (metric.endswith("loss") or metric == "mse") else 1.0
        self.value: float | None = None
        self.step: int | None = None
        self.bad_evaluations = 0

    @property
    def stop(self) -> bool:
        return bool(self.patience) and self.bad_evaluations >= self.patience

    def improved_by(self, scores: dict[str, float], step: int) -> bool:
        if not self.metric or self.metric not in scores:
            return False
        value = float(scores[self.metric])
        if not math.isfinite(value):
            return False  # no verdict: neither a new best nor a strike towards stopping
        if self.value is None or self.sign * (value - self.value) > 0:
            self.value, self.step, self.bad_evaluations = value, step, 0
            return True
        self.bad_evaluations += 1
        return False

    def state(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "step": self.step,
                "bad_evaluations": self.bad_evaluations}

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("metric") == self.metric:
            self.value, self.step = state.get("value"), state.get("step")
            self.bad_evaluations = int(state.get("bad_evaluations") or 0)


class _Window:
    """Sums of losses, hits and counts over the steps between two metric records."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.correct: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self.steps = 0
        self.seconds = 0.0
        self.tokens = 0.0
        self.sequences = 0.0
        self.grad_norm = 0.0
        self.lr = 0.0
        self._pending: list[tuple[dict, dict]] = []

    def add(self, sums: dict[str, torch.Tensor], correct: dict[str, torch.Tensor],
            batch: dict[str, torch.Tensor]) -> None:
        self._pending.append(({k: v.detach() for k, v in sums.items()},
                              {k: v.detach() for k, v in correct.items()}))
        mask = batch.get("attention_mask")
        self.tokens += float(mask.sum()) if mask is not None else batch["input_ids"].numel()
        self.sequences += batch["input_ids"].shape[0]

    def finish_step(self, denominators: dict[str, float], grad_norm: float, lr: float,
                    seconds: float) -> None:
        for sums, correct in self._pending:
            for k, v in sums.items():
                self.sums[k] = self.sums.get(k, 0.0) + float(v)
            for k, v in correct.items():
                self.correct[k] = self.correct.get(k, 0.0) + float(v)
        self._pending.clear()
        for k, v in denominators.items():
            self.counts[k] = self.counts.get(k, 0.0) + v
        self.steps += 1
        self.seconds += seconds
        self.grad_norm, self.lr = grad_norm, lr

    def summary(self, ctx: DistributedContext) -> dict[str, float]:
        keys = sorted(self.sums)
        hits = sorted(self.correct)
        local = torch.tensor([self.sums[k] for k in keys] + [self.correct[k] for k in hits]
                             + [self.tokens, self.sequences], dtype=torch.float64)
        total = ctx.all_reduce_sum(local).cpu().tolist()
        record: dict[str, float] = {}
        for i, k in enumerate(keys):  # counts are already global
            record[f"{k}_loss"] = total[i] / max(self.counts.get(k, 1.0), 1.0)
        for i, k in enumerate(hits):
            record[f"{k}_acc"] = total[len(keys) + i] / max(self.counts.get(k, 1.0), 1.0)
        record["loss"] = sum(record[f"{k}_loss"] for k in keys)
        tokens, sequences = total[-2], total[-1]
        record.update(lr=self.lr, grad_norm=self.grad_norm,
                      tokens_per_s=tokens / max(self.seconds, 1e-9),
                      seq_per_s=sequences / max(self.seconds, 1e-9))
        return {k: (v if math.isfinite(v) else float("nan")) for k, v in record.items()}

