"""Blob data: sklearn-like generator, standardisation over the whole set, determinism, PCA scree."""

from __future__ import annotations

import numpy as np
import pytest

from nnspectra.data.blobs import blob_dataset, make_blobs, pca_spectrum, standardise
from nnspectra.errors import ConfigError


def test_make_blobs_shapes_classes_and_box() -> None:
    x, y, mu = make_blobs(103, 7, 5, 1.0, seed=3)
    assert x.shape == (103, 7) and y.shape == (103,) and mu.shape == (5, 7)
    counts = np.bincount(y, minlength=5)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 103
    assert np.all(mu >= -10) and np.all(mu <= 10)


def test_cluster_std_is_the_noise_std() -> None:
    x, y, mu = make_blobs(20000, 4, 2, 3.0, seed=0)
    resid = x - mu[y]
    assert np.allclose(resid.std(axis=0), 3.0, rtol=0.03)
    assert np.allclose(resid.mean(axis=0), 0.0, atol=0.1)


def test_blob_dataset_standardised_over_train_and_test_together() -> None:
    d = blob_dataset(50, 10, 3, 1.0, seed=1)
    full = np.vstack([d.x_train, d.x_test])
    assert d.x_train.shape == (50, 10) and d.x_test.shape == (50, 10)
    assert np.allclose(full.mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(full.std(axis=0), 1.0, atol=1e-12)
    assert not np.allclose(d.x_train.mean(axis=0), 0.0, atol=1e-6)  # not standardised per split


def test_seeded_determinism() -> None:
    a, b, c = blob_dataset(20, 5, 2, 1.0, 7), blob_dataset(20, 5, 2, 1.0, 7), blob_dataset(20, 5, 2, 1.0, 8)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_standardise_constant_feature() -> None:
    x = np.c_[np.ones(5), np.arange(5.0)]
    z = standardise(x)
    assert np.all(z[:, 0] == 0) and np.isclose(z[:, 1].std(), 1.0)


@pytest.mark.parametrize("kw", [dict(centers=0), dict(centers=50), dict(cluster_std=0.0)])
def test_bad_input_raises_config_error(kw: dict) -> None:
    args = dict(n_samples=10, n_features=3, centers=2, cluster_std=1.0, seed=0) | kw
    with pytest.raises(ConfigError):
        make_blobs(**args)


def test_pca_spectrum_matches_covariance_eigenvalues_and_k_minus_1_large() -> None:
    d = blob_dataset(200, 30, 4, 1.0, seed=2)
    ev = pca_spectrum(d.x_train)
    ref = np.sort(np.linalg.eigvalsh(np.cov(d.x_train.T)))[::-1]
    assert np.allclose(ev[:30], ref, rtol=1e-9, atol=1e-12)
    # between-class covariance of 4 well separated blobs has rank 3: a large drop after component 3
    assert ev[2] / ev[3] > 10
