"""Data layer: dataset root resolution, MNIST / Fashion-MNIST / CIFAR-10 loaders, subsets, errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nnspectra.data import vision
from nnspectra.data.vision import (
    balanced_subset, load_cifar10, load_fashion_mnist, load_mnist, locate_data_dir, normalize, resize,
    resolve_data_dir,
)
from nnspectra.errors import ConfigError, DataNotFoundError

from fakedata import write_fake_cifar, write_fake_mnist

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HAS_MNIST = (SHARED / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
HAS_CIFAR = (SHARED / "cifar-10-batches-py" / "test_batch").is_file()


# ------------------------------------------------------------------------------------------- tests
def test_resolve_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSPECTRA_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(str(tmp_path / "cfg")) == tmp_path / "cfg"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("NNSPECTRA_DATA")
    monkeypatch.chdir(tmp_path)  # nothing beside or inside: ./data, where downloads go
    assert resolve_data_dir(None) == Path("data")
    assert resolve_data_dir("") == Path("data")


def test_data_lookup_order_finds_the_sibling_shared_data(monkeypatch, tmp_path):
    """config data_dir > $NNSPECTRA_DATA > ./data > ../shared/data (a fresh clone beside shared/, as CI has it)."""
    checkout, shared = tmp_path / "checkout", tmp_path / "shared" / "data"
    checkout.mkdir()
    monkeypatch.delenv("NNSPECTRA_DATA", raising=False)
    monkeypatch.chdir(checkout)
    assert locate_data_dir(None) == (Path("data"), "./data (nothing found; downloads go here)")
    shared.mkdir(parents=True)
    root, origin = locate_data_dir(None)
    assert root.resolve() == shared.resolve() and "../shared/data" in origin
    assert locate_data_dir(None, base=checkout)[0].resolve() == shared.resolve()  # explicit checkout, any cwd
    (checkout / "data").mkdir()
    assert locate_data_dir(None) == (Path("data"), "./data")
    monkeypatch.setenv("NNSPECTRA_DATA", str(tmp_path / "env"))
    assert locate_data_dir(None) == (tmp_path / "env", "$NNSPECTRA_DATA")
    assert locate_data_dir("cfg") == (Path("cfg"), "config 'data_dir'")


def test_fake_mnist_roundtrip(tmp_path):
    labels = write_fake_mnist(tmp_path)
    x, y = load_mnist(tmp_path, train=True)
    assert x.shape == (60, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert np.array_equal(y.numpy(), labels)
    xt, yt = load_mnist(tmp_path, train=False)
    assert xt.shape == (60, 1, 28, 28) and yt.dtype == torch.int64


def test_fake_fashion_mnist(tmp_path):
    labels = write_fake_mnist(tmp_path, folder="FashionMNIST", n_per_class=3, seed=4)
    x, y = load_fashion_mnist(tmp_path)
    assert x.shape == (30, 1, 28, 28)
    assert np.array_equal(y.numpy(), labels)


@pytest.mark.parametrize("loader,name", [(load_mnist, "MNIST"), (load_fashion_mnist, "FashionMNIST"),
                                         (load_cifar10, "CIFAR-10")])
def test_missing_data_error_is_one_clear_line(tmp_path, loader, name):
    with pytest.raises(DataNotFoundError) as info:
        loader(tmp_path / "nowhere", download=False)
    message = str(info.value)
    assert "\n" not in message
    assert name in message and "missing" in message
    assert str((tmp_path / "nowhere").resolve()) in message       # the directory searched
    assert "NNSPECTRA_DATA" in message and "download" in message  # how to provide them
    first = "train-images-idx3-ubyte" if name != "CIFAR-10" else "data_batch_1"
    assert first in message


def test_failed_download_becomes_data_not_found(tmp_path, monkeypatch):
    from urllib.error import URLError

    from torchvision import datasets

    def offline(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried mirror, got: " + str(URLError("no network")))

    monkeypatch.setattr(datasets.MNIST, "download", offline)
    with pytest.raises(DataNotFoundError) as info:
        load_mnist(tmp_path, download=True)
    message = str(info.value)
    assert "download failed" in message and "\n" not in message
    assert "no network" in message  # the reason, not only torchvision's first line
    assert str((tmp_path / "MNIST" / "raw").resolve()) in message and "copy them into that folder" in message
    assert "network is reachable" in message and "set 'download: true'" not in message  # it was on already


def test_fake_cifar_repacked(tmp_path):
    write_fake_cifar(tmp_path, n_per_class=2)
    x, y = load_cifar10(tmp_path, train=True, verify_archive=False)
    assert x.shape == (100, 3, 32, 32) and y.shape == (100,)
    assert np.array_equal(np.bincount(y.numpy()), np.full(10, 10))
    xt, _ = load_cifar10(tmp_path, train=False, verify_archive=False)
    assert xt.shape == (20, 3, 32, 32)
    # pixel layout: the first 1024 bytes of a row are the R plane
    raw = pickle.load(open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb"))["data"][0]
    assert torch.allclose(xt[0, 0].reshape(-1) * 255, torch.tensor(raw[:1024], dtype=torch.float32))


def test_cifar_md5_failure_names_the_option(tmp_path):
    write_fake_cifar(tmp_path)
    with pytest.raises(DataNotFoundError, match="realdata.cifar.data.skip_archive_md5"):
        load_cifar10(tmp_path, verify_archive=True)


def test_cifar_content_check_rejects_unbalanced(tmp_path):
    write_fake_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    entry = pickle.load(open(path, "rb"))
    entry["labels"] = [0] * len(entry["labels"])
    pickle.dump(entry, open(path, "wb"), protocol=2)
    with pytest.raises(DataNotFoundError, match="balanced"):
        load_cifar10(tmp_path, train=False, verify_archive=False)


def test_balanced_subset_is_balanced_and_seeded():
    labels = np.repeat(np.arange(10), 50)
    np.random.default_rng(1).shuffle(labels)
    idx = balanced_subset(labels, 7, seed=3)
    assert idx.size == 70 and np.all(np.diff(idx) > 0)
    assert np.array_equal(np.bincount(labels[idx]), np.full(10, 7))
    assert np.array_equal(idx, balanced_subset(labels, 7, seed=3))
    assert not np.array_equal(idx, balanced_subset(labels, 7, seed=4))
    with pytest.raises(ConfigError):
        balanced_subset(labels, 51, seed=0)


def test_normalize_and_resize():
    x = torch.rand(4, 1, 28, 28)
    z = normalize(x, (0.5,), (0.25,))
    assert torch.allclose(z, (x - 0.5) / 0.25)
    with pytest.raises(ConfigError):
        normalize(x, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0))
    small = resize(x, 14)
    assert small.shape == (4, 1, 14, 14)
    assert torch.allclose(small.mean(), x.mean(), atol=1e-2)  # antialiased downsampling keeps the mean
    assert resize(x, 28) is x


@pytest.mark.skipif(not HAS_MNIST, reason="shared real MNIST not present")
def test_real_mnist_statistics():
    x, y = load_mnist(SHARED, train=True)
    assert x.shape == (60000, 1, 28, 28)
    assert abs(float(x.mean()) - 0.130660) < 1e-5 and abs(float(x.std()) - 0.308108) < 1e-5
    idx = balanced_subset(y, 100, seed=0)
    assert np.array_equal(np.bincount(y.numpy()[idx]), np.full(10, 100))
    z = normalize(x[idx], vision.MNIST_MEAN, vision.MNIST_STD)
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1.0) < 0.1


@pytest.mark.skipif(not HAS_CIFAR, reason="shared real CIFAR-10 not present")
def test_real_cifar_repacked_loads_and_md5_check_rejects():
    x, y = load_cifar10(SHARED, train=False, verify_archive=False)
    assert x.shape == (10000, 3, 32, 32)
    assert np.array_equal(np.bincount(y.numpy()), np.full(10, 1000))
    # the copy is re-packed (no ``filenames``): the md5 check names it so, not "not found or corrupted"
    with pytest.raises(DataNotFoundError, match="re-packed copy; to use it set realdata.cifar.data.skip_archive_md5"):
        load_cifar10(SHARED, train=False, verify_archive=True)
