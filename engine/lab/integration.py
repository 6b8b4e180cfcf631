"""Where integrated gradients evaluates the path, and how it weighs each point."""

from __future__ import annotations

import numpy as np

from engine.results import IG_RULES, InferenceError


def integration_points(rule: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas [steps] in [0, 1], weights [steps] summing to 1) of ``rule`` (a key of IG_RULES).

    Gauss-Legendre is Captum's, rescaled from [-1, 1]. The trapezoid rule spaces the points
    1 / (steps - 1) apart and halves both ends' weights; Captum's ``riemann_trapezoid`` uses the
    same points with weights 1 / steps (they sum to (steps - 1) / steps), so its attributions
    are ours times (steps - 1) / steps.
    """
    if rule not in IG_RULES:
        raise InferenceError(f"unknown integration rule {rule!r}; known: {', '.join(IG_RULES)}")
    if rule == "gausslegendre":
        if steps < 1:
            raise InferenceError(f"integrated gradients needs at least 1 step, got {steps}")
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1), 0.5 * weights
    if steps < 2:
        raise InferenceError(f"the trapezoid rule needs at least 2 steps, got {steps}")
    weights = np.full(steps, 1 / (steps - 1))
    weights[[0, -1]] /= 2
    return np.linspace(0, 1, steps), weights
