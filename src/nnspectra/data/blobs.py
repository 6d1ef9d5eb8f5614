"""Gaussian-blob classification data of Sagun et al. (2018), §3.1 / App. A.

Follows the official code (``sklearn.datasets.make_blobs`` + ``sklearn.preprocessing.scale``) with
numpy only: ``k`` centres i.i.d. Uniform[-10, 10]^d, equal class sizes, isotropic Gaussian noise of
standard deviation ``cluster_std`` (the paper's "cov" multiplies the *std*), ``2 N`` samples
standardised per feature over the whole set (train and test together), first ``N`` rows = train.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnspectra.errors import ConfigError


@dataclass(frozen=True)
class Blobs:
    """A standardised blob data set. Shapes: x_* (n, d) float64, y_* (n,) int64, centers (k, d)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    centers: np.ndarray

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, for :func:`nnspectra.pipeline.io.save_arrays`."""
        return {"x_train": self.x_train, "y_train": self.y_train, "x_test": self.x_test,
                "y_test": self.y_test, "centers": self.centers}


def make_blobs(n_samples: int, n_features: int, centers: int, cluster_std: float, seed: int,
               center_box: tuple[float, float] = (-10.0, 10.0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_samples`` points from ``centers`` isotropic Gaussian blobs (like sklearn's ``make_blobs``).

    Class sizes are equal up to one (the first ``n_samples % centers`` classes get one more) and the
    rows are shuffled. Returns (x (n, d), y (n,), centres (k, d)). Same seed -> identical arrays.
    """
    if centers < 1 or n_samples < centers or n_features < 1:
        raise ConfigError(f"blobs need 1 <= centers <= n_samples and n_features >= 1, got "
                          f"centers={centers}, n_samples={n_samples}, n_features={n_features}")
    if not cluster_std > 0:
        raise ConfigError(f"blob cluster_std must be > 0, got {cluster_std}")
    rng = np.random.default_rng(seed)
    mu = rng.uniform(center_box[0], center_box[1], size=(centers, n_features))
    sizes = np.full(centers, n_samples // centers)
    sizes[: n_samples % centers] += 1
    y = np.repeat(np.arange(centers), sizes)
    x = mu[y] + cluster_std * rng.standard_normal((n_samples, n_features))
    perm = rng.permutation(n_samples)
    return x[perm], y[perm].astype(np.int64), mu


def standardise(x: np.ndarray) -> np.ndarray:
    """Per-feature zero mean and unit variance (population std, as ``sklearn.preprocessing.scale``)."""
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - x.mean(axis=0)) / std


def blob_dataset(n_train: int, n_features: int, n_classes: int, cluster_std: float, seed: int) -> Blobs:
    """The paper's data: ``2 n_train`` blob samples, standardised together, first half = train."""
    x, y, mu = make_blobs(2 * n_train, n_features, n_classes, cluster_std, seed)
    x = standardise(x)
    return Blobs(x[:n_train], y[:n_train], x[n_train:], y[n_train:], mu)


def pca_spectrum(x: np.ndarray) -> np.ndarray:
    """Eigenvalues of the sample covariance of ``x`` (n, d), descending (seed Fig. 2 scree)."""
    xc = x - x.mean(axis=0)
    sv = np.linalg.svd(xc, compute_uv=False)
    return sv**2 / max(len(x) - 1, 1)
