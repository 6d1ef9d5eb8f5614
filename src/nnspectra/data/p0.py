"""Data of the predecessor paper (P0: Sagun, Bottou & LeCun 2016, "Singularity of the Hessian in Deep
Learning", arXiv 1611.07476v1; SPEC §1.12).

* :func:`two_blobs` -- the 2-D toy data of P0 Figs 3-8: two isotropic Gaussian blobs centred at (1, 1)
  (class 0) and (-1, -1) (class 1) with standard deviation ``std`` (Fig 3: 0.1; Fig 7: 0.2 ... 1.0),
  ~100 points per blob. Not standardised: P0 plots the raw coordinates.
* :func:`random_patterns` -- the "random inputs" of P0 Fig 2: i.i.d. pixels with random balanced labels,
  in the shape and scale of the normalised MNIST images they are compared with.
* :func:`mnist_examples` -- the class-balanced MNIST subset of P0 Figs 1-2 ([DEF] 1 000 examples, as in
  P1v3 §3.2), flattened, through :mod:`nnspectra.data.vision`.

Every generator takes an explicit seed and uses its own ``numpy.random.Generator``, so the same seed
gives identical arrays.
"""

from __future__ import annotations

import os

import numpy as np

from nnspectra.errors import ConfigError

BLOB_CENTRES: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 1.0), (-1.0, -1.0))
PATTERN_DISTRIBUTIONS = ("gaussian", "uniform")


def two_blobs(n_per_blob: int = 100, std: float = 0.1, seed: int = 0,
              centres: tuple[tuple[float, float], tuple[float, float]] = BLOB_CENTRES,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Two 2-D Gaussian blobs, one per class (P0 Fig 3): x (2 n_per_blob, 2) float64, y (2 n_per_blob,) int64.

    Point i of blob c is ``centres[c] + std * z`` with z ~ N(0, I_2). Rows are shuffled (so cyclic
    mini-batches mix both classes); blob c has label c.
    """
    if n_per_blob < 1:
        raise ConfigError(f"two_blobs needs n_per_blob >= 1, got {n_per_blob}")
    if not std > 0:
        raise ConfigError(f"two_blobs std must be > 0, got {std}")
    mu = np.asarray(centres, dtype=np.float64)
    if mu.shape != (2, 2):
        raise ConfigError(f"two_blobs centres must be two 2-D points, got shape {mu.shape}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(2, dtype=np.int64), n_per_blob)
    x = mu[y] + std * rng.standard_normal((y.size, 2))
    perm = rng.permutation(y.size)
    return x[perm], y[perm]


def random_patterns(n: int, n_features: int = 784, n_classes: int = 10, seed: int = 0,
                    distribution: str = "gaussian") -> tuple[np.ndarray, np.ndarray]:
    """``n`` i.i.d. random input patterns with random balanced labels (P0 Fig 2 "random inputs").

    ``distribution``: ``gaussian`` = every pixel N(0, 1), the overall pixel mean and variance of the
    normalised MNIST inputs (so the comparison isolates the *structure* of MNIST, not its scale);
    ``uniform`` = raw pixels U[0, 1] normalised like MNIST, (u - 0.1307) / 0.3081. Labels: ``n`` /
    ``n_classes`` of each class (n must be a multiple), shuffled. Returns x (n, n_features) float64,
    y (n,) int64.
    """
    if distribution not in PATTERN_DISTRIBUTIONS:
        raise ConfigError(f"random pattern distribution '{distribution}' is not one of {PATTERN_DISTRIBUTIONS}")
    if n < 1 or n_features < 1 or n_classes < 1 or n % n_classes:
        raise ConfigError(f"random_patterns needs n a positive multiple of n_classes and n_features >= 1, got "
                          f"n={n}, n_classes={n_classes}, n_features={n_features}")
    rng = np.random.default_rng(seed)
    if distribution == "gaussian":
        x = rng.standard_normal((n, n_features))
    else:
        from nnspectra.data.vision import MNIST_MEAN, MNIST_STD

        x = (rng.uniform(0.0, 1.0, (n, n_features)) - MNIST_MEAN[0]) / MNIST_STD[0]
    y = rng.permutation(np.repeat(np.arange(n_classes, dtype=np.int64), n // n_classes))
    return x, y


def mnist_examples(root: str | os.PathLike[str], per_class: int = 100, subset_seed: int = 0, image_size: int = 28,
                   download: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The class-balanced, normalised MNIST subset of :func:`nnspectra.data.vision.mnist_subset`, flattened.

    Returns x (10 per_class, image_size²) float64 and y (10 per_class,) int64. ``image_size`` < 28
    downsamples (antialiased; small presets only). Raises DataNotFoundError when the files are absent.
    """
    from nnspectra.data.vision import mnist_subset

    x, y = mnist_subset(root, download, per_class, subset_seed, image_size)
    return x.reshape(len(y), -1).double().numpy(), y.numpy().astype(np.int64)
