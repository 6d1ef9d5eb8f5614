"""Real image datasets (MNIST, Fashion-MNIST, CIFAR-10), read and checked by us from torchvision's layout.

Data are read from a root directory in torchvision's layout (``MNIST/raw/``, ``FashionMNIST/raw/``,
``cifar-10-batches-py/``), found as config ``data_dir`` > environment ``NNSPECTRA_DATA`` > ``./data`` > ``../shared/data``
(:func:`locate_data_dir`).
With ``download=True`` torchvision fetches missing files (they are then read by the loaders here);
when that is off or fails the loader raises :class:`DataNotFoundError` with one line naming the
missing files, the directory searched and how to provide them.

Nothing from a data file is run or trusted unchecked (the readers and checks are in
:mod:`nnspectra.data.vision_files`):

* MNIST IDX files are parsed here (magic number, dimensions, exact byte length, label range); the
  official MNIST files (60,000 / 10,000 items) must also match their known sha256.
* CIFAR-10 python batches are unpickled with :func:`nnspectra.data.safe_pickle.restricted_loads`, which
  admits only numpy arrays, lists, strings and numbers: a pickle that asks for anything else (e.g.
  ``os.system``) is refused before anything is called. Each batch must hold ``data`` uint8 (N, 3072) and
  N labels in 0..9 (str or bytes keys, with or without ``filenames``), ``batches.meta`` the 10 class
  names; a batch of the official size (10,000 rows) must match the known sha256 of the official decoded
  arrays. ``verify_archive=True`` also requires torchvision's archive md5 of each file (original files);
  re-packed copies (same pixels, labels and order; e.g. no ``filenames``) load with ``verify_archive=False``.

A present but truncated, garbage or altered file raises :class:`DataDamagedError`: "file X is damaged
(expected …, found …); delete it and copy or download it again" — never "missing", never a download.

Images come back as float32 tensors in [0, 1] of shape (N, C, H, W) with int64 labels (N,);
:func:`normalize` applies the standard per-channel normalisation (Sagun et al. 2018 §4.2:
"standard pre-processing").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnspectra.data.vision_files import ENV_VAR, cifar_batch_digests, read_cifar10, read_mnist_like
from nnspectra.errors import ConfigError

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "DATA_LOOKUP", "ENV_VAR", "MNIST_MEAN", "MNIST_STD", "balanced_subset",
           "cifar_batch_digests", "cifar_sets", "load_cifar10", "load_fashion_mnist", "load_mnist", "locate_data_dir",
           "mnist_subset", "normalize", "resize", "resolve_data_dir"]

# Per-channel mean/std of the training sets on [0, 1] (standard values).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


# The places a dataset root is looked for, in order (README "Datasets", docs/architecture.md).
DATA_LOOKUP = ("config 'data_dir'", f"${ENV_VAR}", "./data", "../shared/data")


def locate_data_dir(config_value: str | os.PathLike[str] | None = None,
                    base: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """Dataset root and why it was chosen, in the order of :data:`DATA_LOOKUP`.

    The config's ``data_dir`` if set, else ``$NNSPECTRA_DATA`` if set, else ``<base>/data`` if it is a
    folder, else the sibling ``<base>/../shared/data`` of the checkout if it is a folder (where CI and a
    shared machine keep the datasets), else ``<base>/data`` (downloads go there). ``base`` is the working
    directory (the checkout, under Snakemake) unless given; relative results stay relative to it.
    """
    if config_value not in (None, ""):
        return Path(str(config_value)).expanduser(), "config 'data_dir'"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    here = Path(base) if base is not None else Path()
    local, sibling = here / "data", here / ".." / "shared" / "data"
    if local.is_dir():
        return local, "./data"
    if sibling.is_dir():
        return sibling, "../shared/data beside the checkout"
    return local, "./data (nothing found; downloads go here)"


def resolve_data_dir(config_value: str | os.PathLike[str] | None = None,
                     base: str | os.PathLike[str] | None = None) -> Path:
    """Dataset root: see :func:`locate_data_dir` (config ``data_dir`` > ``$NNSPECTRA_DATA`` > ``./data`` >
    ``../shared/data``)."""
    return locate_data_dir(config_value, base)[0]


def load_mnist(root: str | os.PathLike[str], train: bool = True, download: bool = False,
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images (N, 1, 28, 28) in [0, 1] and labels (N,) from ``root/MNIST/raw``."""
    return read_mnist_like("MNIST", Path(root), train, download)


def load_fashion_mnist(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images (N, 1, 28, 28) in [0, 1] and labels (N,) from ``root/FashionMNIST/raw``."""
    return read_mnist_like("FashionMNIST", Path(root), train, download)


def load_cifar10(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                 verify_archive: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images (N, 3, 32, 32) in [0, 1] and labels (N,) from ``root/cifar-10-batches-py``.

    Every file is read with the restricted unpickler and its content checked (see the module docstring);
    ``verify_archive=True`` also requires torchvision's md5 of the original files, ``False`` accepts
    re-packed copies (their decoded content is checked against the official sha256 instead).
    """
    return read_cifar10(root, train, download, verify_archive)


def normalize(images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Per-channel (x - mean) / std of images (N, C, H, W)."""
    if images.shape[1] != len(mean) or len(mean) != len(std):
        raise ConfigError(f"normalisation has {len(mean)} channels but images have {images.shape[1]}")
    m = torch.tensor(mean, dtype=images.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - m) / s


def balanced_subset(labels: torch.Tensor | np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of a class-balanced random subset: ``per_class`` examples of every class, sorted.

    The draw depends only on ``seed`` (its own numpy generator), so the same seed gives the same set.
    """
    labels = np.asarray(labels)
    if per_class < 1:
        raise ConfigError(f"per_class must be >= 1, got {per_class}")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        pool = np.flatnonzero(labels == c)
        if pool.size < per_class:
            raise ConfigError(f"class {int(c)} has {pool.size} examples, fewer than per_class={per_class}")
        chosen.append(rng.choice(pool, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images (N, C, H, W) resized to (N, C, size, size) with antialiasing (no-op at the same size)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                                           align_corners=False)


# -- the class-balanced subsets of Sagun et al. (2018) §4 ---------------------------------------------

@dataclass(frozen=True)
class MnistSubset:
    """The class-balanced MNIST training subset (:func:`mnist_subset`): ``per_class`` images of each digit drawn
    with ``subset_seed``, at ``image_size`` pixels a side. ``realdata.<section>.data`` and ``predecessor.mnist``
    derive from it, so these keys and their defaults have one home."""

    per_class: int = 100
    subset_seed: int = 0
    image_size: int = 28


def mnist_subset(root: str | os.PathLike[str], download: bool, per_class: int, subset_seed: int,
                 image_size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-balanced MNIST training subset (10 * per_class, 1, s, s), normalised with MNIST mean/std.

    ``image_size`` < 28 downsamples (antialiased) for the smoke preset only.
    """
    images, labels = load_mnist(root, train=True, download=download)
    idx = torch.from_numpy(balanced_subset(labels, per_class, subset_seed))
    x = normalize(resize(images[idx], image_size), MNIST_MEAN, MNIST_STD)
    return x.contiguous(), labels[idx].clone()


def cifar_sets(root: str | os.PathLike[str], download: bool, verify_archive: bool, n_train: int | None,
               n_test: int | None, subset_seed: int) -> dict[str, torch.Tensor]:
    """CIFAR-10 train/test tensors (``x_train``, ``y_train``, ``x_test``, ``y_test``), per-channel
    normalised; ``n_train``/``n_test`` (multiples of 10) draw class-balanced subsets."""
    out: dict[str, torch.Tensor] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load_cifar10(root, train=split == "train", download=download, verify_archive=verify_archive)
        if n is not None and n < len(labels):
            if n % 10:
                raise ConfigError(f"CIFAR-10 subset size {n} must be a multiple of 10 (class-balanced)")
            idx = torch.from_numpy(balanced_subset(labels, n // 10, subset_seed + (split == "test")))
            images, labels = images[idx], labels[idx]
        out[f"x_{split}"] = normalize(images, CIFAR10_MEAN, CIFAR10_STD).contiguous()
        out[f"y_{split}"] = labels.clone()
    return out
