"""Real image datasets (MNIST, Fashion-MNIST, CIFAR-10), read and checked by us from torchvision's layout.

Data are read from a root directory in torchvision's layout (``MNIST/raw/``, ``FashionMNIST/raw/``,
``cifar-10-batches-py/``), found as config ``data_dir`` > environment ``NNSPECTRA_DATA`` > ``./data``.
With ``download=True`` torchvision fetches missing files (they are then read by the loaders here);
when that is off or fails the loader raises :class:`DataNotFoundError` with one line naming the
missing files, the directory searched and how to provide them.

Nothing from a data file is run or trusted unchecked:

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

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import torch

from nnspectra.data import known_hashes
from nnspectra.data.safe_pickle import PickleRefusedError, restricted_loads
from nnspectra.errors import ConfigError, DataDamagedError, DataNotFoundError

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


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _damaged(dataset: str, path: Path, expected: str, found: str) -> DataDamagedError:
    return DataDamagedError(f"{dataset} file {path.resolve()} is damaged (expected {expected}, found {found}); "
                            "delete it and copy or download it again")


def _read_bytes(dataset: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise DataNotFoundError(f"{dataset} file {path.resolve()} could not be read ({err.strerror or err}); "
                                "check its permissions or copy it again") from None


def _read_idx(dataset: str, path: Path, ndim: int) -> tuple[np.ndarray, bytes]:
    """uint8 array of an IDX file (magic 0x0800 + ndim, ``ndim`` big-endian uint32 sizes, then the
    bytes) and the file's bytes; a short header, wrong magic or wrong length is reported as damaged."""
    raw = _read_bytes(dataset, path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise _damaged(dataset, path, f"an IDX header of {header} bytes", f"a file of {len(raw)} bytes")
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x800 + ndim:
        raise _damaged(dataset, path, f"IDX magic number {0x800 + ndim} (unsigned bytes, {ndim} dimensions)",
                       f"{magic}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise _damaged(dataset, path, f"{expected} bytes for an array of shape {dims}", f"{len(raw)} bytes")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims), raw


def _download_mnist_like(cls_name: str, root: Path, folder: Path, names: tuple[str, ...]) -> None:
    """Fetch the raw files with torchvision's own mirrors and checksums (no dataset object is built)."""
    from torchvision import datasets

    cls = getattr(datasets, cls_name)
    fetcher = cls.__new__(cls)  # only download(): the files are read by _read_idx afterwards
    fetcher.root = str(root)
    try:
        fetcher.download()
    except (RuntimeError, OSError) as err:  # torchvision raises RuntimeError/URLError when offline
        raise _not_found(cls_name, folder, _missing(folder, names) or list(names),
                         f"download failed: {_first_line(err)}") from None
    still = _missing(folder, names)
    if still:
        raise _not_found(cls_name, folder, still, "the download did not provide them")


def _load_mnist_like(cls_name: str, root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    folder = root / cls_name / "raw"
    names = _MNIST_FILES[train]
    missing = _missing(folder, names)
    if missing:
        if not download:
            raise _not_found(cls_name, folder, missing, "download is off")
        _download_mnist_like(cls_name, root, folder, names)
    image_path, label_path = folder / names[0], folder / names[1]
    images, image_bytes = _read_idx(cls_name, image_path, 3)
    labels, label_bytes = _read_idx(cls_name, label_path, 1)
    if images.shape[1:] != (28, 28):
        raise _damaged(cls_name, image_path, "28x28 images", f"images of {images.shape[1]}x{images.shape[2]}")
    if labels.shape[0] != images.shape[0]:
        raise _damaged(cls_name, label_path, f"{images.shape[0]} labels (one per image of {names[0]})",
                       f"{labels.shape[0]} labels")
    if labels.size and int(labels.max()) > 9:
        raise _damaged(cls_name, label_path, "labels in 0..9", f"a label {int(labels.max())}")
    if cls_name == "MNIST":
        for path, raw, n in ((image_path, image_bytes, images.shape[0]), (label_path, label_bytes, labels.shape[0])):
            count, digest = known_hashes.MNIST_FILE_SHA256[path.name]
            if n == count:  # the official file's size: its bytes must be the official ones
                found = hashlib.sha256(raw).hexdigest()
                if found != digest:
                    raise DataDamagedError(
                        f"MNIST file {path.resolve()} is damaged or not the official MNIST (expected sha256 "
                        f"{digest[:16]}…, found {found[:16]}…); delete it and copy or download it again")
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_mnist(root: str | os.PathLike[str], train: bool = True, download: bool = False,
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images (N, 1, 28, 28) in [0, 1] and labels (N,) from ``root/MNIST/raw``."""
    return _load_mnist_like("MNIST", Path(root), train, download)


def load_fashion_mnist(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images (N, 1, 28, 28) in [0, 1] and labels (N,) from ``root/FashionMNIST/raw``."""
    return _load_mnist_like("FashionMNIST", Path(root), train, download)


def cifar_batch_digests(data: np.ndarray, labels: np.ndarray) -> tuple[str, str]:
    """sha256 of a decoded CIFAR-10 batch: ``data`` as uint8 (N, 3072) C-order bytes, ``labels`` as <i8."""
    data_bytes = np.ascontiguousarray(data, dtype=np.uint8).tobytes()
    label_bytes = np.ascontiguousarray(labels, dtype="<i8").tobytes()
    return hashlib.sha256(data_bytes).hexdigest(), hashlib.sha256(label_bytes).hexdigest()


def _read_cifar_pickle(path: Path) -> tuple[dict[object, object], bytes]:
    """A CIFAR-10 python file as a dict with str keys (bytes keys decoded), via the restricted unpickler."""
    raw = _read_bytes("CIFAR-10", path)
    try:
        entry = restricted_loads(raw)
    except PickleRefusedError as err:
        raise _damaged("CIFAR-10", path, "a pickle of numpy arrays, lists, strings and numbers only",
                       f"a call to {err.global_name}, refused without running it") from None
    except Exception as err:  # noqa: BLE001 - truncated or garbage bytes fail in many ways
        raise _damaged("CIFAR-10", path, "a CIFAR-10 python pickle",
                       f"{type(err).__name__}: {_first_line(err)[:120]}") from None
    if not isinstance(entry, dict):
        raise _damaged("CIFAR-10", path, "a dict", type(entry).__name__)
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in entry.items()}, raw


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray, bytes]:
    """``data`` uint8 (N, 3072) and labels int64 (N,) of one batch file, checked; official size -> known sha256."""
    entry, raw = _read_cifar_pickle(path)
    if "data" not in entry or "labels" not in entry:
        raise _damaged("CIFAR-10", path, "keys 'data' and 'labels'", f"keys {sorted(map(str, entry))}")
    data = entry["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = (f"{data.dtype} of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__)
        raise _damaged("CIFAR-10", path, "'data' uint8 of shape (N, 3072)", found)
    try:
        labels = np.asarray(entry["labels"])
    except (ValueError, TypeError) as err:
        raise _damaged("CIFAR-10", path, "a list of integer labels", _first_line(err)) from None
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or labels.dtype.kind not in "iu":
        raise _damaged("CIFAR-10", path, f"{data.shape[0]} integer labels",
                       f"{labels.dtype} labels of shape {labels.shape}")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) > 9):
        raise _damaged("CIFAR-10", path, "labels in 0..9", f"labels in {int(labels.min())}..{int(labels.max())}")
    labels = labels.astype(np.int64)
    if data.shape[0] == known_hashes.CIFAR10_ROWS_PER_BATCH:  # the official size: must be the official content
        expected = known_hashes.CIFAR10_DECODED_SHA256[path.name]
        found = cifar_batch_digests(data, labels)
        if found != expected:
            raise DataDamagedError(
                f"CIFAR-10 file {path.resolve()} is damaged or not the official CIFAR-10 (expected decoded sha256 "
                f"data {expected[0][:16]}… labels {expected[1][:16]}…, found {found[0][:16]}… {found[1][:16]}…); "
                "delete it and copy or download it again")
    return data, labels, raw


def _check_cifar_meta(path: Path) -> bytes:
    entry, raw = _read_cifar_pickle(path)
    names = entry.get("label_names")
    if isinstance(names, list):
        names = [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
    if names != list(known_hashes.CIFAR10_CLASSES):
        raise _damaged("CIFAR-10", path, "'label_names' listing the 10 CIFAR-10 classes", repr(names)[:120])
    return raw


def _check_archive_md5(path: Path, raw: bytes, official_content: bool) -> None:
    """torchvision's md5 of the original file; a mismatch names the re-packed-copy option.

    ``official_content``: the decoded arrays already matched the official sha256, so a mismatch can
    only mean a re-packed copy.
    """
    from torchvision.datasets import CIFAR10

    md5s = dict(CIFAR10.train_list + CIFAR10.test_list)
    md5s[CIFAR10.meta["filename"]] = CIFAR10.meta["md5"]
    found = hashlib.md5(raw).hexdigest()
    if found == md5s[path.name]:
        return
    where = f"CIFAR-10 file {path.resolve()} does not match torchvision's archive md5 (expected {md5s[path.name]}, "
    if official_content:
        raise DataDamagedError(where + f"found {found}) although its decoded content is the official CIFAR-10: it is "
                               "a re-packed copy; to use it set realdata.cifar.data.skip_archive_md5: true")
    raise DataDamagedError(where + f"found {found}): it is damaged or a re-packed copy; delete it and copy or download "
                           "it again, or for a re-packed copy (content checked instead) set "
                           "realdata.cifar.data.skip_archive_md5: true")


def _check_cifar_balance(labels: np.ndarray, folder: Path, train: bool) -> None:
    """Every class equally frequent (true of CIFAR-10 and of the test stand-ins)."""
    counts = np.bincount(labels, minlength=10)
    if not np.all(counts == counts[0]):
        split = "train" if train else "test"
        raise DataDamagedError(f"CIFAR-10 {split} files in {folder.resolve()} are damaged (expected 10 balanced "
                               f"classes, found counts {counts.tolist()}); delete them and copy or download them again")


def _download_cifar10(root: Path, folder: Path, needed: tuple[str, ...]) -> None:
    """Fetch and extract torchvision's CIFAR-10 archive (md5-checked by torchvision); nothing is unpickled."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
    except (RuntimeError, OSError) as err:  # URLError is an OSError
        raise _not_found("CIFAR-10", folder, _missing(folder, needed) or list(needed),
                         f"download failed: {_first_line(err)}") from None
    still = _missing(folder, needed)
    if still:
        raise _not_found("CIFAR-10", folder, still, "the downloaded archive did not provide them")


def load_cifar10(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                 verify_archive: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images (N, 3, 32, 32) in [0, 1] and labels (N,) from ``root/cifar-10-batches-py``.

    Every file is read with the restricted unpickler and its content checked (see the module docstring);
    ``verify_archive=True`` also requires torchvision's md5 of the original files, ``False`` accepts
    re-packed copies (their decoded content is checked against the official sha256 instead).
    """
    root = Path(root)
    folder = root / _CIFAR_FOLDER
    needed = _CIFAR_FILES[True] + _CIFAR_FILES[False] + ("batches.meta",)
    missing = _missing(folder, needed)
    if missing:
        if not download:
            raise _not_found("CIFAR-10", folder, missing, "download is off")
        _download_cifar10(root, folder, needed)
    # every file is read safely and its content checked first, so damage or a refused pickle is named
    # as such; the archive md5 (original files only) comes last
    raws = {"batches.meta": (_check_cifar_meta(folder / "batches.meta"), False)}
    datas, labels = [], []
    for name in _CIFAR_FILES[train]:
        data, lab, raw = _cifar_batch(folder / name)
        raws[name] = (raw, data.shape[0] == known_hashes.CIFAR10_ROWS_PER_BATCH)
        datas.append(data)
        labels.append(lab)
    if verify_archive:
        for name, (raw, official_content) in raws.items():
            _check_archive_md5(folder / name, raw, official_content)
    y = np.concatenate(labels)
    _check_cifar_balance(y, folder, train)
    # rows are the R, G, B planes of 32x32 images: (N, 3072) -> (N, 3, 32, 32)
    x = np.concatenate(datas).reshape(-1, 3, 32, 32)
    images = torch.from_numpy(x).to(torch.float32).div_(255.0)
    return images, torch.from_numpy(y)


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
