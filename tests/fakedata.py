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
