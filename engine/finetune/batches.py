"""A resumable stream of fine-tuning batches: a fresh shuffle every epoch, padded per batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from engine.finetune.features import Feature, collate


class EpochBatches:
    """Global batches of ``batch_size x world_size`` features in an order fixed by (seed,
    epoch); each rank takes every ``world_size``-th feature of the global batch. The state is
    (epoch, position), so a resumed run continues with exactly the batch it would have drawn.

    The last global batch of an epoch may be smaller; one with fewer features than ranks is
    skipped (a rank with nothing to train on would stall the others)."""

    def __init__(self, features: Sequence[Feature], batch_size: int, seed: int, pad_id: int,
                 rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        if len(features) < world_size:
            raise ValueError(f"{len(features)} training example(s) cannot feed {world_size} "
                             "processes")
        self.features, self.batch_size, self.seed = features, batch_size, seed
        self.pad_id, self.rank, self.world_size = pad_id, rank, world_size
        self.epoch, self.position = 0, 0
        self._order = self._shuffle(0)

    def _shuffle(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.features))

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.features) / (self.batch_size * self.world_size))

    def __iter__(self) -> EpochBatches:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        global_size = self.batch_size * self.world_size
        if len(self.features) - self.position < self.world_size:
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._shuffle(self.epoch)
        chosen = self._order[self.position:self.position + global_size]
        self.position += len(chosen)
        return collate([self.features[i] for i in chosen[self.rank::self.world_size]],
                       self.pad_id)

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._shuffle(self.epoch)
