"""PCA for the embedding projector: SVD of the centred data up to sign, falling variance."""

from __future__ import annotations

import numpy as np
import pytest

from engine.lab.projection import PCA


def test_pca_matches_an_svd_of_the_centred_data_up_to_sign():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12)) + 5.0
    pca = PCA.fit(points, k=4)
    centred = points - points.mean(0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    for got, want in zip(pca.components, vt[:4]):
        assert min(np.abs(got - want).max(), np.abs(got + want).max()) < 1e-8
    np.testing.assert_allclose(pca.explained_variance, singular[:4] ** 2 / 299, rtol=1e-8)
    assert np.all(np.diff(pca.explained_variance) <= 0)
    assert 0 < pca.explained_ratio.sum() <= 1
    projected = pca.transform(points)
    np.testing.assert_allclose(np.abs(projected), np.abs(centred @ vt[:4].T), atol=1e-8)
    np.testing.assert_allclose(projected.mean(0), 0, atol=1e-8)


def test_pca_keeps_no_more_components_than_the_data_has_and_refuses_one_point():
    pca = PCA.fit(np.eye(3), k=5)
    assert pca.components.shape == (3, 3)
    with pytest.raises(ValueError, match="at least 2 points"):
        PCA.fit(np.ones((1, 4)))
