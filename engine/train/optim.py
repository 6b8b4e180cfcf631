"""AdamW with BERT's parameter groups, and the learning rate as a pure function of the step."""

from __future__ import annotations

import math

import torch
from torch import nn

SCHEDULES = ("linear", "cosine", "constant")


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only: never on biases or LayerNorm (BERT's recipe)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():  # tied parameters appear once
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.01,
                    betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-6) -> torch.optim.AdamW:
    """AdamW, fused into one kernel where this PyTorch and device support it."""
    groups = parameter_groups(model, weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, foreach=True)


def lr_at(step: int, peak_lr: float, warmup_steps: int, max_steps: int,
          schedule: str = "linear") -> float:
    """Linear warmup from 0 to ``peak_lr``, then linear or cosine decay to 0 at ``max_steps``.

    ``step`` counts optimizer steps already taken, so the first update uses ``lr_at(0)`` > 0.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r} (choose from {', '.join(SCHEDULES)})")
    step += 1
    if warmup_steps and step <= warmup_steps:
        return peak_lr * step / warmup_steps
    if schedule == "constant":
        return peak_lr
    progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
    if schedule == "linear":
        return peak_lr * (1.0 - progress)
    return peak_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
