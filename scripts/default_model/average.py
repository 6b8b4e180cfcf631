"""A weighted average of checkpoints of one architecture, written as a new fp16 model folder.

Averaging a fine-tuned model's weights with those it started from (weight interpolation, as in
WiSE-FT, Wortsman et al. 2022) keeps most of what the new training added while giving back less
of what the starting model could do; issue 24's stage 5 ships such an average.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from engine.checkpoint import load_checkpoint, save_checkpoint

ARCHITECTURE = "BertForPreTraining"  # the default model: both pretraining heads


class AverageError(ValueError):
    """Weights or checkpoints that cannot be averaged."""


def parse_part(text: str) -> tuple[float, Path]:
    """``WEIGHT:FOLDER`` (e.g. ``0.75:runs/stage-5/checkpoints/step-700``)."""
    weight, sep, folder = text.partition(":")
    try:
        value = float(weight)
    except ValueError:
        value = math.nan
    if not sep or not folder or not 0 < value <= 1:
        raise AverageError(f"{text!r}: expected WEIGHT:FOLDER with a weight in (0, 1]")
    return value, Path(folder)


def average_checkpoints(parts: list[tuple[float, Path]], out: Path) -> Path:
    """Write ``sum(weight * checkpoint)`` to ``out`` (fp16, with the first part's tokenizer).

    The weights must sum to 1 and every checkpoint must have the same config and vocabulary:
    averaging weights of different shapes or token ids would give a model that means nothing.
    """
    if len(parts) < 2:
        raise AverageError("averaging needs at least two checkpoints")
    if abs(sum(w for w, _ in parts) - 1) > 1e-6:
        raise AverageError(f"the weights sum to {sum(w for w, _ in parts):g}, not 1")
    first = load_checkpoint(parts[0][1], architecture=ARCHITECTURE)
    total = {k: parts[0][0] * v.float() for k, v in first.model.state_dict().items()}
    for weight, folder in parts[1:]:
        other = load_checkpoint(folder, architecture=ARCHITECTURE)
        if other.config.to_dict() != first.config.to_dict():
            raise AverageError(f"{folder}: its config differs from {parts[0][1]}'s")
        if other.tokenizer.get_vocab() != first.tokenizer.get_vocab():
            raise AverageError(f"{folder}: its vocabulary differs from {parts[0][1]}'s")
        for key, value in other.model.state_dict().items():
            total[key] += weight * value.float()
    first.model.load_state_dict(total)
    return save_checkpoint(first.model, out, tokenizer=first.tokenizer, dtype=torch.float16)
