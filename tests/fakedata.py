"""Tiny files in the formats of the real MNIST IDX files and CIFAR-10 python batches, for tests."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def write_fake_mnist(root: Path, folder: str = "MNIST", n_per_class: int = 6, seed: int = 0) -> np.ndarray:
    """Tiny IDX files (the format of the originals, uncompressed) for train and test; returns train labels."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    train_labels = None
    for prefix in ("train", "t10k"):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n_per_class)
        rng.shuffle(labels)
        images = rng.integers(0, 256, size=(labels.size, 28, 28), dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, labels.size, 28, 28)
                                                           + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, labels.size) + labels.tobytes())
        if prefix == "train":
            train_labels = labels
    return train_labels


def write_fake_cifar(root: Path, n_per_class: int = 2, seed: int = 0) -> None:
    """Tiny CIFAR-10 python batches (protocol-2 pickles with data/labels, no filenames) plus meta."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = np.repeat(np.arange(10), n_per_class)
        data = rng.integers(0, 256, size=(labels.size, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as handle:
            pickle.dump({"data": data, "labels": labels.tolist()}, handle, protocol=2)
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": classes}, handle, protocol=2)


_CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class _Python2StylePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python 2 ``str`` opcodes (SHORT_BINSTRING/BINSTRING) and numpy's reconstruct function
    under its numpy 1.x name, as the pickles of the official ``cifar-10-python.tar.gz`` are written."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str

    def save_global(self, obj, name=None):  # type: ignore[no-untyped-def]
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def write_original_format_cifar(root: Path, n_per_class: int = 2, seed: int = 0, python2: bool = True) -> None:
    """Tiny CIFAR-10 batches in the original archive's format: keys batch_label/labels/data/filenames.

    ``python2=True``: Python 2 style pickles (bytes written as py2 ``str``; read with ``encoding='bytes'``
    the keys are b'data', b'labels'; with ``'latin1'`` they are str). ``python2=False``: Python 3
    protocol-2 pickles whose keys and strings are ``bytes`` (b'data', b'labels', ...).
    """
    import io

    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        labels = np.repeat(np.arange(10), n_per_class)
        rng.shuffle(labels)
        data = rng.integers(0, 256, size=(labels.size, 3072), dtype=np.uint8)
        entry = {b"batch_label": f"batch {k + 1}".encode(), b"labels": labels.tolist(), b"data": data,
                 b"filenames": [f"img_{k}_{i}.png".encode() for i in range(labels.size)]}
        buf = io.BytesIO()
        (_Python2StylePickler(buf, protocol=2) if python2 else pickle.Pickler(buf, protocol=2)).dump(entry)
        (folder / name).write_bytes(buf.getvalue())
    meta = {b"num_cases_per_batch": 10 * n_per_class, b"label_names": [c.encode() for c in _CIFAR_CLASSES],
            b"num_vis": 3072}
    buf = io.BytesIO()
    (_Python2StylePickler(buf, protocol=2) if python2 else pickle.Pickler(buf, protocol=2)).dump(meta)
    (folder / "batches.meta").write_bytes(buf.getvalue())


class Payload:
    """Pickles to a call of ``os.system(command)``: what a crafted data file would run when unpickled."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.system, (self.command,))


def write_payload_pickle(path: Path, marker: Path, nested: bool = False) -> None:
    """A pickle that runs ``touch marker`` when loaded by ``pickle.load``; ``nested`` hides the call inside
    an otherwise valid CIFAR-10 batch dict (as its ``batch_label``)."""
    payload = Payload(f"touch {marker}")
    if nested:
        labels = np.repeat(np.arange(10), 2)
        obj = {"batch_label": payload, "labels": labels.tolist(),
               "data": np.zeros((labels.size, 3072), dtype=np.uint8)}
    else:
        obj = payload
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2))
