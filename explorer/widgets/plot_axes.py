"""Axes of the monitor's plots: what x is (step, time since the run's first record, clock time)
and a log-scale y axis that keeps labelled ticks on a range narrower than a decade."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

X_STEP, X_RELATIVE, X_ABSOLUTE = "step", "relative", "absolute"
X_AXES = {X_STEP: "step", X_RELATIVE: "relative time", X_ABSOLUTE: "absolute time"}
X_LABELS = {X_STEP: "step", X_RELATIVE: "time since the run's first record (h:mm:ss)",
            X_ABSOLUTE: "time"}


def x_values(mode: str, steps: np.ndarray, times: np.ndarray, start: float | None) -> np.ndarray:
    """A curve's x: its steps, its records' times less the run's first record time, or the
    records' times (seconds since the epoch)."""
    if mode == X_STEP:
        return steps
    if mode == X_RELATIVE:
        return times - (start if start is not None else 0.0)
    return times


def bottom_axis(mode: str) -> pg.AxisItem:
    axis = {X_STEP: pg.AxisItem, X_RELATIVE: ElapsedAxis, X_ABSOLUTE: ClockAxis}[mode]("bottom")
    axis.setLabel(X_LABELS[mode])
    return axis


def duration_text(seconds: float) -> str:
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}"


# Tick steps a clock reader expects (seconds): 1 s ... 30 s, 1 min ... 30 min, 1 h ... 1 day.
DURATION_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                  43200, 86400)
PIXELS_PER_LABEL = 90


class ElapsedAxis(pg.AxisItem):
    """Seconds since the run's first record, written h:mm:ss, ticked at whole minutes, hours
    (not pyqtgraph's decimal 100 s)."""

    def tickSpacing(self, minVal, maxVal, size):
        wanted = (maxVal - minVal) / max(1.0, size / PIXELS_PER_LABEL)
        major = next((s for s in DURATION_STEPS if s >= wanted), None)
        if major is None or maxVal <= minVal:
            return super().tickSpacing(minVal, maxVal, size)
        finer = [s for s in DURATION_STEPS if s < major and major % s == 0]
        return [(major, 0), (finer[-1], 0)] if finer else [(major, 0)]

    def tickStrings(self, values, scale, spacing):
        return [duration_text(v * scale) for v in values]


class ClockAxis(pg.DateAxisItem):
    """Clock time of the records (local time), as pyqtgraph's date axis writes it."""


class LogAxis(pg.AxisItem):
    """A log-scale axis that labels ticks on a range narrower than a decade: pyqtgraph labels
    decades only, so a grad norm between 0.8 and 1.3 got one label or none. There, ticks are
    placed at round values (0.9, 1, 1.1 ...) and written as values, not exponents."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._narrow = False

    def tickValues(self, minVal, maxVal, size):
        self._narrow = self.logMode and maxVal - minVal < 1.0
        if not self._narrow:
            return super().tickValues(minVal, maxVal, size)
        low, high = 10.0 ** minVal, 10.0 ** maxVal
        levels, seen = [], set()
        for spacing, _offset in self.tickSpacing(low, high, size):
            first = math.ceil(low / spacing) * spacing
            values = [v for v in np.arange(first, high + spacing * 1e-6, spacing)
                      if v > 0 and round(v, 12) not in seen]  # each tick on one level only
            seen.update(round(v, 12) for v in values)
            levels.append((spacing, [math.log10(v) for v in values]))
        return levels

    def tickStrings(self, values, scale, spacing):
        if not self._narrow:
            return super().tickStrings(values, scale, spacing)
        return [f"{10.0 ** v:.4g}" for v in values]

