"""Regression data for the spectral-evolution experiment (Wang et al. 2023; SPEC §3.1, §3.3).

* :func:`single_index_teacher` -- x ~ N(0, I_d), y = softplus(<beta, x>) + N(0, noise_std^2), ||beta|| = 1
  (the configuration of Kothapalli et al. 2024, SPEC §3.1 [DEF]).
* :func:`mnist_regression` -- a class-balanced MNIST subset, flattened and standardised with the
  training statistics, with a scalar target (parity: +1 odd / -1 even, or the centred digit value),
  so the same scalar-output two-layer network and its n x n kernels apply (SPEC §3.3 [DEF], ours).
  MNIST comes through :mod:`nnspectra.data.vision` (config ``data_dir`` > ``$NNSPECTRA_DATA`` >
  ``./data``, torchvision layout ``MNIST/raw/``).
* :func:`cifar10_regression` -- the CIFAR-10 analogue (SPEC §3.3 [DEF]: CIFAR-10, class-balanced, flattened
  and standardised, d = 3,072, n ≈ d): a scalar target (``vehicle``: +1 for the four vehicle classes, -1
  for the six animals; or ``parity`` of the class index, as for MNIST). Read with the restricted unpickler
  and the content checks of :mod:`nnspectra.data.vision` (re-packed copies accepted: their decoded arrays
  are checked against the official sha256 instead of the archive md5).

All data come back as float64 numpy arrays: inputs (n, d), targets (n,), plus a unit "signal
direction" beta (d,) used for weight-eigenvector alignment: the teacher's beta, or for MNIST the
normalised least-squares direction of the training targets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from nnspectra.data.vision import (
    balanced_subset,
    load_cifar10,
    load_mnist,
    resize,
    resolve_data_dir,
)
from nnspectra.errors import ConfigError

TARGETS = ("parity", "digit")
CIFAR_TARGETS = ("vehicle", "parity")
CIFAR_VEHICLES = (0, 1, 8, 9)  # airplane, automobile, ship, truck (batches.meta order)


@dataclass
class RegressionData:
    """Train/test split and the unit signal direction ``beta`` (d,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    beta: np.ndarray
    name: str

    @property
    def dim(self) -> int:
        return int(self.x_train.shape[1])


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def single_index_teacher(n_train: int, n_test: int, dim: int, noise_std: float = 0.3,
                         seed: int = 0) -> RegressionData:
    """Gaussian inputs with a softplus single-index teacher and Gaussian label noise.

    Returns inputs of shape (n, dim); beta is drawn uniformly on the unit sphere from ``seed``.
    """
    if min(n_train, n_test, dim) < 1:
        raise ConfigError(f"teacher sizes must be positive, got n_train={n_train}, n_test={n_test}, d={dim}")
    if noise_std < 0:
        raise ConfigError(f"teacher noise_std must be >= 0, got {noise_std}")
    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(dim)
    beta /= np.linalg.norm(beta)
    x_train = rng.standard_normal((n_train, dim))
    x_test = rng.standard_normal((n_test, dim))
    y_train = _softplus(x_train @ beta) + noise_std * rng.standard_normal(n_train)
    y_test = _softplus(x_test @ beta) + noise_std * rng.standard_normal(n_test)
    return RegressionData(x_train, y_train, x_test, y_test, beta, "single-index teacher")


@dataclass(frozen=True)
class TeacherSettings:
    """The single-index teacher draw of a Wang et al. section (SPEC §3.1): ``n_train`` / ``n_test`` samples in
    dimension ``dim`` with label noise ``noise_std``. ``evolution.datasets.<name>.data`` and
    ``evolution.ht_examples`` derive from it, so these keys and their defaults have one home."""

    n_train: int = 2000
    n_test: int = 2000
    dim: int = 1000
    noise_std: float = 0.3

    def teacher(self, seed: int, scale: float = 1.0) -> RegressionData:
        """:func:`single_index_teacher` of these settings and ``seed``, with n and d multiplied by ``scale``."""
        return single_index_teacher(round(self.n_train * scale), round(self.n_test * scale), round(self.dim * scale),
                                    float(self.noise_std), seed=int(seed))


def _balanced_per_class(labels: np.ndarray, n: int, seed: int, name: str = "MNIST") -> np.ndarray:
    """Indices of ``n`` examples, equally many of every class (n must divide evenly)."""
    n_classes = np.unique(labels).size
    if n < n_classes or n % n_classes:
        raise ConfigError(f"a class-balanced subset of {name} needs n divisible by {n_classes}, got n={n}")
    return balanced_subset(labels, n // n_classes, seed)


def _standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature standardisation with the training subset's mean and std (constant features keep std 1)."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_test - mean) / std


def _signal_direction(x_train: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Unit least-squares direction of the training targets (the data's "beta" for eigenvector alignment)."""
    beta = np.linalg.lstsq(x_train, y_train, rcond=None)[0]
    return beta / np.linalg.norm(beta)


def mnist_regression(n_train: int, n_test: int, data_dir: str | os.PathLike[str] | None = None,
                     target: str = "parity", seed: int = 0, download: bool = False) -> RegressionData:
    """Class-balanced MNIST subsets (n_train, n_test), flattened to d = 784 and standardised.

    Pixels are standardised with the training subset's per-pixel mean and std (constant pixels keep
    std 1). Targets: ``parity`` gives +1 for odd digits and -1 for even ones; ``digit`` the digit
    value minus 4.5.
    """
    if target not in TARGETS:
        raise ConfigError(f"MNIST regression target '{target}' is not one of {TARGETS}")
    root = resolve_data_dir(data_dir)
    parts = {}
    for offset, (train, n) in enumerate(((True, n_train), (False, n_test))):
        images, labels = load_mnist(root, train=train, download=download)
        idx = _balanced_per_class(labels.numpy(), n, seed + offset)
        # pixel values 0..255 as in the raw files; the standardisation below removes the scale
        parts[train] = (images[idx].reshape(len(idx), -1).double().mul(255.0).numpy(), labels[idx].numpy())
    x_train, l_train = parts[True]
    x_test, l_test = parts[False]
    x_train, x_test = _standardise(x_train, x_test)

    def encode(labels: np.ndarray) -> np.ndarray:
        return np.where(labels % 2 == 1, 1.0, -1.0) if target == "parity" else labels - 4.5

    y_train, y_test = encode(l_train), encode(l_test)
    return RegressionData(x_train, y_train, x_test, y_test, _signal_direction(x_train, y_train), f"MNIST {target}")


def cifar10_regression(n_train: int, n_test: int, data_dir: str | os.PathLike[str] | None = None,
                       target: str = "vehicle", seed: int = 0, image_size: int = 32,
                       download: bool = False) -> RegressionData:
    """Class-balanced CIFAR-10 subsets (n_train, n_test), flattened to d = 3 image_size^2 (3,072) and standardised.

    SPEC §3.3 [DEF]: n ≈ d = 3,072 makes the width linear in the data. Pixels (RGB planes, 0..255) are
    standardised per feature with the training subset's statistics. Targets: ``vehicle`` +1 for airplane,
    automobile, ship, truck and -1 for the six animal classes; ``parity`` +1 for odd class indices.
    ``image_size`` < 32 downsamples (antialiased) for the smoke preset only.
    """
    if target not in CIFAR_TARGETS:
        raise ConfigError(f"CIFAR-10 regression target '{target}' is not one of {CIFAR_TARGETS}")
    if not 1 <= image_size <= 32:
        raise ConfigError(f"CIFAR-10 image_size must be in 1..32 (32 = the original images), got {image_size}")
    root = resolve_data_dir(data_dir)
    parts = {}
    for offset, (train, n) in enumerate(((True, n_train), (False, n_test))):
        images, labels = load_cifar10(root, train=train, download=download, verify_archive=False)
        idx = _balanced_per_class(labels.numpy(), n, seed + offset, "CIFAR-10")
        chosen = resize(images[idx], image_size)
        parts[train] = (chosen.reshape(len(idx), -1).double().mul(255.0).numpy(), labels[idx].numpy())
    x_train, l_train = parts[True]
    x_test, l_test = parts[False]
    x_train, x_test = _standardise(x_train, x_test)

    def encode(labels: np.ndarray) -> np.ndarray:
        if target == "vehicle":
            return np.where(np.isin(labels, CIFAR_VEHICLES), 1.0, -1.0)
        return np.where(labels % 2 == 1, 1.0, -1.0)

    y_train, y_test = encode(l_train), encode(l_test)
    return RegressionData(x_train, y_train, x_test, y_test, _signal_direction(x_train, y_train),
                          f"CIFAR-10 {target}")
