"""Embedding projections for the dataset view: PCA (as LIT's projector: centre, eigenvectors of
the covariance, the top components), and UMAP where ``umap-learn`` is installed. numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PCA:
    """A fitted PCA: ``mean`` [D], ``components`` [k, D] (unit rows, by falling variance),
    ``explained_variance`` [k] and its share of the total, ``explained_ratio`` [k]."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_ratio: np.ndarray

    @classmethod
    def fit(cls, points: np.ndarray, k: int = 3) -> PCA:
        """points [N, D] -> the top ``k`` components (fewer when N or D is smaller). The
        eigenvectors of the D x D covariance, as LIT computes them; each component's sign is
        fixed so its largest coordinate is positive, so refits agree."""
        x = np.asarray(points, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"PCA needs at least 2 points of [N, D], got shape {x.shape}")
        mean = x.mean(0)
        centred = x - mean
        covariance = centred.T @ centred / (len(x) - 1)                  # [D, D]
        values, vectors = np.linalg.eigh(covariance)                     # ascending
        k = min(k, *x.shape)
        top = np.argsort(values)[::-1][:k]
        components = vectors[:, top].T                                   # [k, D]
        signs = np.sign(components[np.arange(k), np.abs(components).argmax(1)])
        components *= signs[:, None]
        variance = np.clip(values[top], 0, None)
        total = max(float(np.clip(values, 0, None).sum()), 1e-30)
        return cls(mean, components, variance, variance / total)

    def transform(self, points: np.ndarray) -> np.ndarray:
        """points [N, D] -> [N, k] with the fitted mean and components."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.components.T


def umap_available() -> bool:
    try:
        import umap  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def umap_project(points: np.ndarray, k: int = 2, seed: int = 0) -> np.ndarray:
    """points [N, D] -> [N, k] by UMAP (``pip install umap-learn``); ImportError without it."""
    import umap  # noqa: PLC0415

    return umap.UMAP(n_components=k, random_state=seed).fit_transform(points)
