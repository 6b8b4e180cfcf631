"""Training checkpoints: ``checkpoints/step-N/`` in HF layout plus ``trainer_state.pt``
(optimizer, step, data position, every rank's RNG), written to a staged folder
(:func:`engine.atomic.staged_folder`) with a ``COMPLETE`` marker last, so a kill at any moment
leaves the previous checkpoint whole."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engine.atomic import delete_folder, staged_folder
from engine.checkpoint import (TIED_KEYS, CheckpointError, normalize_keys, read_state_dict,
                               write_checkpoint_files)
from engine.runlog import RunFolder
from engine.train.distributed import DistributedContext

STATE_NAME = "trainer_state.pt"
EXTRAS_NAME = "probe.json"
COMPLETE_MARKER = "COMPLETE"
BEST_NAME = "best"
BEST_INFO = "best.json"
FORMAT_VERSION = 1


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def gather_rng(ctx: DistributedContext) -> list[dict[str, Any]] | None:
    """Every rank's RNG state on rank 0 (dropout masks differ per rank); None elsewhere."""
    state = _rng_state()
    if not ctx.distributed:
        return [state]
    gathered = [None] * ctx.world_size if ctx.is_main else None
    torch.distributed.gather_object(state, gathered, dst=0)
    return gathered


def restore_rng(states: list[dict[str, Any]], rank: int) -> None:
    if rank >= len(states):
        raise ValueError(f"the checkpoint holds RNG state for {len(states)} rank(s), not rank "
                         f"{rank}: resume with the number of processes it was trained with")
    torch.set_rng_state(states[rank]["torch"])
    if "cuda" in states[rank] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states[rank]["cuda"])


def save_training_checkpoint(run: RunFolder, step: int, model: nn.Module, tokenizer,
                             optimizer: torch.optim.Optimizer, data_state: dict,
                             rng: list[dict[str, Any]], extras: dict[str, Any],
                             best: dict[str, Any] | None = None) -> Path:
    final = run.checkpoint_path(step)
    with staged_folder(final) as staged:  # old or new at every moment, never neither
        write_checkpoint_files(model, staged, tokenizer)
        torch.save({"format": FORMAT_VERSION, "step": step, "optimizer": optimizer.state_dict(),
                    "data": data_state, "rng": rng, "best": best}, staged / STATE_NAME)
        if extras:
            (staged / EXTRAS_NAME).write_text(json.dumps(extras), encoding="utf-8")
        (staged / COMPLETE_MARKER).write_text(f"{step}\n", encoding="utf-8")
    return final


def load_training_state(folder: Path, model: nn.Module,
                        optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Weights into ``model`` IN PLACE (the optimizer holds its parameters), optimizer state,
    and the rest of ``trainer_state.pt`` (step, data position, RNG)."""
    state, source = read_state_dict(folder)
    result = model.load_state_dict(normalize_keys(state), strict=False)
    missing = sorted(set(result.missing_keys) - set(TIED_KEYS))
    if missing or result.unexpected_keys:
        raise CheckpointError(source, f"does not match the model being trained (missing "
                                      f"{missing[:3]}, unexpected {result.unexpected_keys[:3]})")
    path = folder / STATE_NAME
    try:
        trainer = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(path, "missing: this is not a resumable training checkpoint") from exc
    except Exception as exc:  # weights_only refuses anything but tensors and plain values
        raise CheckpointError(path, f"unreadable training state ({exc})") from exc
    if trainer.get("format") != FORMAT_VERSION:
        raise CheckpointError(path, f"training-state format {trainer.get('format')!r}, "
                                    f"expected {FORMAT_VERSION}")
    optimizer.load_state_dict(trainer["optimizer"])
    return trainer


def save_best(run: RunFolder, model: nn.Module, tokenizer, best: dict[str, Any]) -> Path:
    """``RUN/best/``: the weights with the best main metric so far, in HF layout (loadable by
    ``transformers`` and the explorer as is), with ``best.json`` saying which step and score.
    Written like any checkpoint: to a staged folder that replaces the previous best."""
    folder = run.path / BEST_NAME
    with staged_folder(folder) as staged:
        write_checkpoint_files(model, staged, tokenizer)
        (staged / BEST_INFO).write_text(json.dumps(best, indent=2) + "\n", encoding="utf-8")
    return folder


def prune(run: RunFolder, keep: int, kept_steps: Collection[int] = ()) -> None:
    """Delete all but the newest ``keep`` complete checkpoints, each renamed to a hidden name
    first (:func:`engine.atomic.delete_folder`), so none is ever left half-deleted as complete.
    The checkpoints of ``kept_steps`` (``--keep-steps``) are outside the rotation: never
    deleted, and not counted among the ``keep``."""
    rotating = [folder for step, folder in run.checkpoints() if step not in kept_steps]
    for folder in rotating[:-keep]:
        delete_folder(folder)
