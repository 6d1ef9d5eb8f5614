"""Real image datasets (MNIST, Fashion-MNIST, CIFAR-10) through torchvision's dataset classes.

Data are read from a root directory in torchvision's layout (``MNIST/raw/``, ``FashionMNIST/raw/``,
``cifar-10-batches-py/``), found as config ``data_dir`` > environment ``NNSPECTRA_DATA`` > ``./data``.
With ``download=True`` torchvision fetches missing files; when that is off or fails the loader raises
:class:`DataNotFoundError` with one line naming the missing files, the directory searched and how
to provide them.

Re-packed CIFAR-10 copies (same pixels and labels, but batch files without the ``filenames`` key, so
their md5 differs from torchvision's list) load with ``verify_archive=False``: the archive md5 check
is replaced by a content check (shapes, label range, class balance).

Images come back as float32 tensors in [0, 1] of shape (N, C, H, W) with int64 labels (N,);
:func:`normalize` applies the standard per-channel normalisation (Sagun et al. 2018 §4.2:
"standard pre-processing").
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch

from nnspectra.errors import ConfigError, DataNotFoundError

ENV_VAR = "NNSPECTRA_DATA"

# Per-channel mean/std of the training sets on [0, 1] (standard values).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)

_MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_CIFAR_FILES = {True: tuple(f"data_batch_{i}" for i in range(1, 6)), False: ("test_batch",)}
_CIFAR_FOLDER = "cifar-10-batches-py"
_HOWTO = (f"set config 'data_dir' or the environment variable {ENV_VAR} to a directory in torchvision's "
          "layout, or set 'download: true' on a machine with a network")


def resolve_data_dir(config_value: str | os.PathLike[str] | None = None) -> Path:
    """Dataset root: the config's ``data_dir`` if set, else ``$NNSPECTRA_DATA``, else ``./data``."""
    if config_value not in (None, ""):
        return Path(str(config_value)).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path("data")


def _missing(folder: Path, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def _not_found(dataset: str, folder: Path, missing: list[str], reason: str = "") -> DataNotFoundError:
    why = f" ({reason})" if reason else ""
    return DataNotFoundError(
        f"{dataset} files missing from {folder.resolve()}: {', '.join(missing)}{why}; {_HOWTO}")


def _load_mnist_like(cls_name: str, root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import datasets

    cls = getattr(datasets, cls_name)
    folder = root / cls_name / "raw"
    missing = _missing(folder, _MNIST_FILES[train])
    if missing and not download:
        raise _not_found(cls_name, folder, missing, "download is off")
    try:
        ds = cls(str(root), train=train, download=download)
    except (RuntimeError, OSError) as err:  # torchvision raises RuntimeError/URLError when offline
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _not_found(cls_name, folder, _missing(folder, _MNIST_FILES[train]) or list(_MNIST_FILES[train]),
                         f"download failed: {first}") from None
    images = ds.data.to(torch.float32).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    return images, ds.targets.to(torch.int64)


def load_mnist(root: str | os.PathLike[str], train: bool = True, download: bool = False,
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images (N, 1, 28, 28) in [0, 1] and labels (N,) from ``root/MNIST/raw``."""
    return _load_mnist_like("MNIST", Path(root), train, download)


def load_fashion_mnist(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images (N, 1, 28, 28) in [0, 1] and labels (N,) from ``root/FashionMNIST/raw``."""
    return _load_mnist_like("FashionMNIST", Path(root), train, download)


def _cifar_class(verify_archive: bool) -> type:
    from torchvision.datasets import CIFAR10

    if verify_archive:
        return CIFAR10

    class RepackedCIFAR10(CIFAR10):
        """CIFAR-10 whose batch files were re-packed (no ``filenames``): md5 replaced by a content check."""

        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            for name, _ in self.train_list + self.test_list:
                path = folder / name
                if not path.is_file():
                    return False
                with open(path, "rb") as handle:  # a pickle starts with the PROTO opcode 0x80
                    if handle.read(1) != b"\x80":
                        return False
            return True

        def _load_meta(self) -> None:
            path = Path(self.root) / self.base_folder / self.meta["filename"]
            with open(path, "rb") as handle:
                meta = pickle.load(handle, encoding="latin1")
            classes = meta.get(self.meta["key"]) if isinstance(meta, dict) else None
            if not isinstance(classes, list) or len(classes) != 10:
                raise RuntimeError(f"{path.name} does not list the 10 CIFAR-10 class names")
            self.classes = classes
            self.class_to_idx = {name: i for i, name in enumerate(classes)}

    return RepackedCIFAR10


def _check_cifar_content(data: np.ndarray, labels: np.ndarray, train: bool) -> None:
    """Content check replacing the archive md5: image shape, label range and equal class counts."""
    split = "train" if train else "test"
    if data.ndim != 4 or data.shape[1:] != (32, 32, 3) or labels.shape != (data.shape[0],):
        raise DataNotFoundError(f"CIFAR-10 {split} set has shape {data.shape} / {labels.shape}, expected "
                                "(N, 32, 32, 3) / (N,); the files are damaged, replace them")
    counts = np.bincount(labels, minlength=10)
    if labels.min() < 0 or counts.size != 10 or not np.all(counts == counts[0]):
        raise DataNotFoundError(f"CIFAR-10 {split} labels are not 10 balanced classes (counts {counts.tolist()}); "
                                "the files are damaged, replace them")


def load_cifar10(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                 verify_archive: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images (N, 3, 32, 32) in [0, 1] and labels (N,) from ``root/cifar-10-batches-py``.

    ``verify_archive=False`` accepts re-packed batch files whose md5 differs from torchvision's list
    and checks their content instead (32x32x3 images, 10 equally frequent classes).
    """
    root = Path(root)
    folder = root / _CIFAR_FOLDER
    needed = _CIFAR_FILES[True] + _CIFAR_FILES[False] + ("batches.meta",)
    missing = _missing(folder, needed)
    if missing and not download:
        raise _not_found("CIFAR-10", folder, missing, "download is off")
    cls = _cifar_class(verify_archive)
    try:
        ds = cls(str(root), train=train, download=download)
    except (RuntimeError, OSError, pickle.UnpicklingError, EOFError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        missing = _missing(folder, needed)
        if not missing:
            hint = ("; for a re-packed copy set realdata.cifar.data.skip_archive_md5: true" if verify_archive else "")
            raise DataNotFoundError(f"CIFAR-10 files in {folder.resolve()} failed to load ({first}){hint}") from None
        raise _not_found("CIFAR-10", folder, missing, f"download failed: {first}") from None
    data = np.asarray(ds.data)
    labels = np.asarray(ds.targets, dtype=np.int64)
    if not verify_archive:
        _check_cifar_content(data, labels, train)
    images = torch.from_numpy(data).permute(0, 3, 1, 2).to(torch.float32).div_(255.0).contiguous()
    return images, torch.from_numpy(labels)


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
