"""Reading and checking the MNIST and CIFAR-10 files themselves (see :mod:`nnspectra.data.vision`).

IDX files are parsed here; CIFAR-10 pickles go through the restricted unpickler; every content check,
the official sha256 digests and the torchvision downloads live here. Errors name the file: missing
(with the how-to) or damaged (with what was expected and found).
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
from nnspectra.errors import DataDamagedError, DataNotFoundError

ENV_VAR = "NNSPECTRA_DATA"
MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR_FILES = {True: tuple(f"data_batch_{i}" for i in range(1, 6)), False: ("test_batch",)}
CIFAR_FOLDER = "cifar-10-batches-py"
_HOWTO = (f"copy them into that folder, or set config 'data_dir' or the environment variable {ENV_VAR} to a "
          "directory in torchvision's layout (looked up: config 'data_dir' > $NNSPECTRA_DATA > ./data > "
          "../shared/data)")
_DOWNLOAD_HINT = ", or set 'download: true' on a machine with a network"


def _missing(folder: Path, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def _not_found(dataset: str, folder: Path, missing: list[str], reason: str = "") -> DataNotFoundError:
    why = f" ({reason})" if reason else ""
    tried = "download" in reason and reason != "download is off"  # on and failed: the network is the fix
    return DataNotFoundError(f"{dataset} files missing from {folder.resolve()}: {', '.join(missing)}{why}; {_HOWTO}"
                             + (", or run where the network is reachable" if tried else _DOWNLOAD_HINT))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _reason(err: BaseException, limit: int = 300) -> str:
    """The error's whole message on one line (torchvision puts the cause after a first line ending in ':')."""
    text = " ".join(str(err).split())
    text = text or type(err).__name__
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
                         f"download failed: {_reason(err)}") from None
    still = _missing(folder, names)
    if still:
        raise _not_found(cls_name, folder, still, "the download did not provide them")


def read_mnist_like(cls_name: str, root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    folder = root / cls_name / "raw"
    names = MNIST_FILES[train]
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
                         f"download failed: {_reason(err)}") from None
    still = _missing(folder, needed)
    if still:
        raise _not_found("CIFAR-10", folder, still, "the downloaded archive did not provide them")


def read_cifar10(root: str | os.PathLike[str], train: bool = True, download: bool = False,
                 verify_archive: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images (N, 3, 32, 32) in [0, 1] and labels (N,) from ``root/cifar-10-batches-py``.

    Every file is read with the restricted unpickler and its content checked (see the module docstring);
    ``verify_archive=True`` also requires torchvision's md5 of the original files, ``False`` accepts
    re-packed copies (their decoded content is checked against the official sha256 instead).
    """
    root = Path(root)
    folder = root / CIFAR_FOLDER
    needed = CIFAR_FILES[True] + CIFAR_FILES[False] + ("batches.meta",)
    missing = _missing(folder, needed)
    if missing:
        if not download:
            raise _not_found("CIFAR-10", folder, missing, "download is off")
        _download_cifar10(root, folder, needed)
    # every file is read safely and its content checked first, so damage or a refused pickle is named
    # as such; the archive md5 (original files only) comes last
    raws = {"batches.meta": (_check_cifar_meta(folder / "batches.meta"), False)}
    datas, labels = [], []
    for name in CIFAR_FILES[train]:
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
