"""Every metric point of a run, at full resolution, read incrementally from ``metrics.jsonl``.

No Qt and no torch. A series is (split, key), e.g. ("train", "mlm_loss") or ("heldout",
"mlm_acc"); its steps, values and record times live in growable numpy buffers, so a monitor that polls every
half second appends a few points and hands numpy views to the plots without copying the history.
Probe records (per-head attention entropy at each checkpoint) are kept apart.
"""

from __future__ import annotations

import math
import os

import numpy as np

from engine.runlog import MetricsReader

_NOT_METRICS = {"step", "time", "split"}


class Series:
    """Steps and values of one metric; a step at or before the last one (a resumed run writing
    steps again after its checkpoint) first drops the points it replaces."""

    def __init__(self) -> None:
        self._steps = np.empty(256, np.float64)
        self._values = np.empty(256, np.float64)
        self._times = np.empty(256, np.float64)  # the records' "time" (NaN where missing)
        self.size = 0
        self.version = 0  # bumped when earlier points are dropped (smoothing must restart)

    @property
    def steps(self) -> np.ndarray:
        return self._steps[:self.size]

    @property
    def values(self) -> np.ndarray:
        return self._values[:self.size]

    @property
    def times(self) -> np.ndarray:
        return self._times[:self.size]

    def clear(self) -> None:
        self.size = 0
        self.version += 1

    def append(self, step: float, value: float, time: float = math.nan) -> None:
        if self.size and step <= self._steps[self.size - 1]:
            self.size = int(np.searchsorted(self._steps[:self.size], step, "left"))
            self.version += 1
        if self.size == len(self._steps):
            self._steps = np.resize(self._steps, 2 * self.size)
            self._values = np.resize(self._values, 2 * self.size)
            self._times = np.resize(self._times, 2 * self.size)
        self._steps[self.size] = step
        self._values[self.size] = value
        self._times[self.size] = time
        self.size += 1


class RunMetrics:
    """All series of one run, fed by a tail-safe :class:`MetricsReader`."""

    def __init__(self, path: str | os.PathLike):
        self.reader = MetricsReader(path)
        self.series: dict[tuple[str, str], Series] = {}
        self.probes: list[dict] = []  # {"step", "attention_entropy": [layers][heads], "probe"}
        self.first_time: float | None = None  # the first record's time: relative time's zero

    @property
    def malformed(self) -> int:
        """Complete lines that were not JSON objects (a half-written last line is not counted:
        it is read once it is complete)."""
        return self.reader.malformed

    def poll(self) -> int:
        """Read what was appended since the last call; returns the number of new records."""
        records = self.reader.read_new()
        if self.reader.restarted:  # the file was replaced or truncated: start over
            for series in self.series.values():  # the same objects: plots hold them
                series.clear()
            self.probes.clear()
            self.first_time = None
        for record in records:
            step, split = record.get("step"), record.get("split", "train")
            if not isinstance(step, (int, float)) or isinstance(step, bool):
                continue
            moment = record.get("time")
            moment = float(moment) if _finite_number(moment) else math.nan
            if self.first_time is None and not math.isnan(moment):
                self.first_time = moment
            if split == "probe":
                if isinstance(record.get("attention_entropy"), list):
                    self.probes = [p for p in self.probes if p["step"] < step] + [record]
                continue
            for key, value in record.items():
                if key in _NOT_METRICS or not _finite_number(value):
                    continue
                self.series.setdefault((split, key), Series()).append(float(step), float(value),
                                                                      moment)
        return len(records)

    def get(self, split: str, key: str) -> Series | None:
        return self.series.get((split, key))


def _finite_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def debiased_ema(values: np.ndarray, beta: float, start: int = 0,
                 previous: np.ndarray | None = None) -> np.ndarray:
    """Exponential moving average with Adam's bias correction (TensorBoard's smoothing), so the
    first points are not pulled towards 0. ``previous``: the result for ``values[:start]``,
    to extend incrementally. Vectorised in blocks (a Python loop over 100,000 points is slow)."""
    n = len(values)
    out = np.empty(n, np.float64)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {beta}")
    if beta == 0.0:
        out[:] = values
        return out
    if start:
        out[:start] = previous[:start]
    # Undo the correction of the last kept point to get the raw EMA state to continue from.
    state = out[start - 1] * (1.0 - beta ** start) if start else 0.0
    block = 64  # beta ** -64 stays finite for any beta >= 1e-4
    beta = max(beta, 1e-4)
    powers = beta ** np.arange(1, block + 1)  # beta^1 .. beta^block
    inverse = beta ** -np.arange(block, dtype=np.float64)  # beta^0 .. beta^-(block-1)
    for lo in range(start, n, block):
        x = values[lo:lo + block]
        k = len(x)
        # s_j = beta^(j+1) s0 + (1 - beta) beta^j sum_{i <= j} beta^-i x_i
        raw = powers[:k] * state + (1.0 - beta) * powers[:k] / beta * np.cumsum(inverse[:k] * x)
        t = np.arange(lo + 1, lo + k + 1)
        out[lo:lo + k] = raw / (1.0 - beta ** t)
        state = raw[-1]
    return out
