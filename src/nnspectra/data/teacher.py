"""Regression data for the spectral-evolution experiment (Wang et al. 2023; SPEC §3.1, §3.3).

* :func:`single_index_teacher` -- x ~ N(0, I_d), y = softplus(<beta, x>) + N(0, noise_std^2), ||beta|| = 1
  (the configuration of Kothapalli et al. 2024, SPEC §3.1 [DEF]).
* :func:`mnist_regression` -- a class-balanced MNIST subset, flattened and standardised with the
  training statistics, with a scalar target (parity: +1 odd / -1 even, or the centred digit value),
  so the same scalar-output two-layer network and its n x n kernels apply (SPEC §3.3 [DEF], ours).
  It reads the raw IDX files from ``<data_dir>/MNIST/raw/`` itself (no download), found as config
  ``data_dir`` > ``$NNSPECTRA_DATA`` > ``./data``.

All data come back as float64 numpy arrays: inputs (n, d), targets (n,), plus a unit "signal
direction" beta (d,) used for weight-eigenvector alignment: the teacher's beta, or for MNIST the
normalised least-squares direction of the training targets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnspectra.errors import ConfigError, DataNotFoundError

ENV_VAR = "NNSPECTRA_DATA"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
TARGETS = ("parity", "digit")


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


def resolve_data_dir(config_value: str | os.PathLike[str] | None = None) -> Path:
    """Dataset root: config ``data_dir`` if set, else ``$NNSPECTRA_DATA``, else ``./data``."""
    if config_value not in (None, ""):
        return Path(str(config_value)).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path("data")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (MNIST's format: magic 0x0000 0x08 ndim, big-endian int32 sizes, uint8 data)."""
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataNotFoundError(f"{path} is not an unsigned-byte IDX file; replace it with the original MNIST file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataNotFoundError(f"{path} is truncated ({data.size} bytes of data for shape {shape}); re-copy it")
    return data.reshape(shape)


def _balanced_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(labels)
    per_class = n // classes.size
    if per_class < 1 or n % classes.size:
        raise ConfigError(f"a class-balanced subset of MNIST needs n divisible by {classes.size}, got n={n}")
    chosen = []
    for c in classes:
        pool = np.flatnonzero(labels == c)
        if pool.size < per_class:
            raise ConfigError(f"MNIST has only {pool.size} images of class {c}; ask for at most "
                              f"{pool.size * classes.size} examples")
        chosen.append(rng.choice(pool, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def mnist_regression(n_train: int, n_test: int, data_dir: str | os.PathLike[str] | None = None,
                     target: str = "parity", seed: int = 0) -> RegressionData:
    """Class-balanced MNIST subsets (n_train, n_test), flattened to d = 784 and standardised.

    Pixels are standardised with the training subset's per-pixel mean and std (constant pixels keep
    std 1). Targets: ``parity`` gives +1 for odd digits and -1 for even ones; ``digit`` the digit
    value minus 4.5.
    """
    if target not in TARGETS:
        raise ConfigError(f"MNIST regression target '{target}' is not one of {TARGETS}")
    folder = resolve_data_dir(data_dir) / "MNIST" / "raw"
    missing = [name for pair in MNIST_FILES.values() for name in pair if not (folder / name).is_file()]
    if missing:
        raise DataNotFoundError(
            f"MNIST files {', '.join(missing)} not found in {folder}; copy the raw IDX files there or set "
            f"config 'data_dir' / ${ENV_VAR} to a directory containing MNIST/raw/")
    rng = np.random.default_rng(seed)
    parts = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = read_idx(folder / MNIST_FILES[split][0])
        labels = read_idx(folder / MNIST_FILES[split][1]).astype(np.int64)
        if images.shape[0] != labels.shape[0]:
            raise DataNotFoundError(f"MNIST {split} images and labels in {folder} disagree in length; re-copy them")
        idx = _balanced_indices(labels, n, rng)
        parts[split] = (images[idx].reshape(len(idx), -1).astype(np.float64), labels[idx])
    x_train, l_train = parts["train"]
    x_test, l_test = parts["test"]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std

    def encode(labels: np.ndarray) -> np.ndarray:
        return np.where(labels % 2 == 1, 1.0, -1.0) if target == "parity" else labels - 4.5

    y_train, y_test = encode(l_train), encode(l_test)
    beta = np.linalg.lstsq(x_train, y_train, rcond=None)[0]
    beta /= np.linalg.norm(beta)
    return RegressionData(x_train, y_train, x_test, y_test, beta, f"MNIST {target}")
