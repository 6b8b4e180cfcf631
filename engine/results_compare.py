"""Torch-free result of two models' analyses of one input, side by side (the explorer's
compare mode; made by ``engine.lab.divergence.pair_analyses``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.results import Analysis, MaskComparison


@dataclass(frozen=True, eq=False)
class AnalysisPair:
    """A's and B's analyses of the same tokens; changes are B - A."""

    analysis_a: Analysis
    analysis_b: Analysis
    name_a: str
    name_b: str
    difference: np.ndarray        # [L, N, T, T] float32, B's attention minus A's
    reach: float                  # > 0: the colour levels +-reach (a high percentile of |B - A|)
    js_divergence: np.ndarray     # [L, N] per head, mean over query rows, in [0, log 2]
    fill_mask: list[MaskComparison]  # probabilities NaN where below that side's top-k

    @property
    def nsp_a(self) -> float | None:
        return self.analysis_a.nsp_is_next

    @property
    def nsp_b(self) -> float | None:
        return self.analysis_b.nsp_is_next

    @property
    def nsp_change(self) -> float | None:
        if self.nsp_a is None or self.nsp_b is None:
            return None
        return self.nsp_b - self.nsp_a
