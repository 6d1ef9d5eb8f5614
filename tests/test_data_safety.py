"""No code runs from data files; damaged data files are named as damaged (issue 12, items 3 and 5).

Planted payload pickles (``os.system("touch <marker>")``) as CIFAR-10 batches, ``batches.meta``, model
files and training checkpoints must be refused before anything runs, in one line naming the file.
Truncated or garbage MNIST / CIFAR-10 files must be reported as "damaged", never as "missing" and never
through a download attempt; the real data must load and match the official content's digests.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nnspectra.data import known_hashes
from nnspectra.data.safe_pickle import PickleRefusedError, load_torch_file, restricted_loads
from nnspectra.data.vision import cifar_batch_digests, load_cifar10, load_fashion_mnist, load_mnist
from nnspectra.errors import DataDamagedError, DataNotFoundError

from fakedata import (
    Payload, write_fake_cifar, write_fake_mnist, write_original_format_cifar, write_payload_pickle,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HAS_MNIST = (SHARED / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
HAS_CIFAR = (SHARED / "cifar-10-batches-py" / "test_batch").is_file()
CIFAR_NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
MNIST_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture
def no_download(monkeypatch):  # type: ignore[no-untyped-def]
    """Any download attempt fails the test: damaged files must never lead to the network."""
    from torchvision import datasets
    from torchvision.datasets import utils

    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(utils, "download_and_extract_archive", refuse)
    monkeypatch.setattr(utils, "download_url", refuse)
    for cls in (datasets.MNIST, datasets.FashionMNIST, datasets.CIFAR10):
        monkeypatch.setattr(cls, "download", refuse)


def _one_line_damaged(err: BaseException, path: Path) -> str:
    message = str(err)
    assert "\n" not in message
    assert str(path.resolve()) in message, message
    assert "damaged" in message and "delete it and copy or download it again" in message, message
    assert "missing" not in message and "urlopen" not in message and "download failed" not in message, message
    return message


# ------------------------------------------------------------------------------------- restricted unpickler
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_unpickler_reads_arrays_lists_strings_at_every_protocol(protocol):
    obj = {"data": np.arange(12, dtype=np.uint8).reshape(3, 4), "labels": [1, 2, 3], b"raw": b"xy",
           "name": "batch", "empty": b""}
    back = restricted_loads(pickle.dumps(obj, protocol=protocol))
    assert back.keys() == obj.keys()
    assert back["data"].dtype == np.uint8 and np.array_equal(back["data"], obj["data"])
    assert back["labels"] == [1, 2, 3] and back[b"raw"] == b"xy" and back["name"] == "batch" and back["empty"] == b""


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_restricted_unpickler_refuses_every_other_global(tmp_path, protocol):
    marker = tmp_path / "pwned"
    for bad in (Payload(f"touch {marker}"), {"data": [Payload(f"touch {marker}")]}, eval, getattr,
                os.system, np.load):
        raw = pickle.dumps(bad, protocol=protocol)
        with pytest.raises(PickleRefusedError):
            restricted_loads(raw)
    assert not marker.exists()
    # the refusal names what was asked for
    with pytest.raises(PickleRefusedError, match=r"(posix|os|nt)\.system"):
        restricted_loads(pickle.dumps(Payload("true"), protocol=protocol))


def test_restricted_unpickler_refuses_non_latin1_codecs_and_trailing_bytes():
    crafted = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00rot_13\x86R."
    with pytest.raises(PickleRefusedError, match="_codecs.encode"):
        restricted_loads(crafted)
    with pytest.raises(pickle.UnpicklingError, match="after the end"):
        restricted_loads(pickle.dumps([1, 2], protocol=2) + b"junk")


# ---------------------------------------------------------------------------------------- CIFAR-10 payloads
@pytest.mark.parametrize("name", ["data_batch_1", "test_batch", "batches.meta"])
@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("verify_archive", [False, True])
def test_cifar_payload_runs_nothing_and_names_the_file(tmp_path, name, nested, verify_archive):
    write_fake_cifar(tmp_path)
    marker = tmp_path / "pwned"
    path = tmp_path / "cifar-10-batches-py" / name
    write_payload_pickle(path, marker, nested=nested)
    with pytest.raises(DataDamagedError) as info:
        load_cifar10(tmp_path, train=name != "test_batch", verify_archive=verify_archive)
    assert not marker.exists(), "the planted pickle ran"
    message = _one_line_damaged(info.value, path)
    assert "system" in message and "refused without running it" in message


def test_plain_pickle_of_the_payload_really_runs(tmp_path):
    """Control: the planted file is a working exploit for an unrestricted ``pickle.load``."""
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    write_payload_pickle(path, marker)
    with open(path, "rb") as handle:
        pickle.load(handle)
    assert marker.exists()


# --------------------------------------------------------------------------------------- CIFAR-10 damage
def _truncate(path: Path, keep: float = 0.5) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


def _garbage(path: Path, first: bytes = b"") -> None:
    size = max(path.stat().st_size, 64)
    path.write_bytes(first + np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("name", ["data_batch_1", "data_batch_5", "test_batch", "batches.meta"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "garbage_with_pickle_byte", "empty"])
@pytest.mark.parametrize("download", [False, True])
def test_damaged_cifar_file_is_named_as_damaged(tmp_path, no_download, name, damage, download):
    write_fake_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / name
    if damage == "truncated":
        _truncate(path)
    elif damage == "garbage":
        _garbage(path)
    elif damage == "garbage_with_pickle_byte":  # passed the old "first byte is 0x80" test
        _garbage(path, first=b"\x80\x02")
    else:
        path.write_bytes(b"")
    with pytest.raises(DataDamagedError) as info:
        load_cifar10(tmp_path, train=name != "test_batch", download=download, verify_archive=False)
    _one_line_damaged(info.value, path)


@pytest.mark.parametrize("change,found", [
    ("no_labels", "keys"), ("float_data", "float64"), ("wide_data", "(20, 3000)"), ("label_10", "0..10"),
    ("short_labels", "labels of shape (19,)"), ("str_labels", "labels of shape"), ("not_dict", "list"),
])
def test_cifar_content_checks(tmp_path, change, found):
    write_fake_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    entry = pickle.loads(path.read_bytes())
    if change == "no_labels":
        del entry["labels"]
    elif change == "float_data":
        entry["data"] = entry["data"].astype(np.float64)
    elif change == "wide_data":
        entry["data"] = entry["data"][:, :3000]
    elif change == "label_10":
        entry["labels"][0] = 10
    elif change == "short_labels":
        entry["labels"] = entry["labels"][:-1]
    elif change == "str_labels":
        entry["labels"] = [str(v) for v in entry["labels"]]
    else:
        entry = [entry]
    path.write_bytes(pickle.dumps(entry, protocol=2))
    with pytest.raises(DataDamagedError) as info:
        load_cifar10(tmp_path, train=False, verify_archive=False)
    assert found in _one_line_damaged(info.value, path)


def test_cifar_meta_must_list_the_ten_classes(tmp_path):
    write_fake_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "batches.meta"
    path.write_bytes(pickle.dumps({"label_names": ["a", "b"]}, protocol=2))
    with pytest.raises(DataDamagedError) as info:
        load_cifar10(tmp_path, verify_archive=False)
    assert "label_names" in _one_line_damaged(info.value, path)


def test_cifar_batch_of_official_size_must_be_official_content(tmp_path):
    """A 10,000-row batch (the official size) with other pixels is "damaged or not the official CIFAR-10"."""
    write_fake_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    labels = np.repeat(np.arange(10), 1000)
    data = np.random.default_rng(1).integers(0, 256, size=(10000, 3072), dtype=np.uint8)
    path.write_bytes(pickle.dumps({"data": data, "labels": labels.tolist()}, protocol=2))
    with pytest.raises(DataDamagedError) as info:
        load_cifar10(tmp_path, train=False, verify_archive=False)
    message = _one_line_damaged(info.value, path)
    assert "not the official CIFAR-10" in message
    assert known_hashes.CIFAR10_DECODED_SHA256["test_batch"][0][:16] in message
    assert cifar_batch_digests(data, labels)[0][:16] in message


def test_missing_cifar_file_is_still_missing(tmp_path):
    write_fake_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataNotFoundError) as info:
        load_cifar10(tmp_path, verify_archive=False)
    assert not isinstance(info.value, DataDamagedError)
    assert "missing" in str(info.value) and "data_batch_3" in str(info.value)


@pytest.mark.parametrize("python2", [True, False])
def test_original_format_cifar_loads(tmp_path, python2):
    """Batches as in the official archive (batch_label, labels, data, filenames; Python 2 strings, or
    Python 3 bytes keys b'data', b'labels') load, with the right pixel layout."""
    write_original_format_cifar(tmp_path, n_per_class=2, seed=3, python2=python2)
    raw = (tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes()
    assert b"filenames" in raw
    assert b"data" in pickle.loads(raw, encoding="bytes")  # bytes-keyed as the originals read with 'bytes'
    x, y = load_cifar10(tmp_path, train=True, verify_archive=False)
    assert x.shape == (100, 3, 32, 32) and np.array_equal(np.bincount(y.numpy()), np.full(10, 10))
    xt, yt = load_cifar10(tmp_path, train=False, verify_archive=False)
    entry = pickle.loads(raw, encoding="bytes")
    assert np.array_equal(yt.numpy(), np.asarray(entry[b"labels"]))
    expected = torch.from_numpy(entry[b"data"].reshape(-1, 3, 32, 32).astype(np.float32)) / 255.0
    assert torch.equal(xt, expected)  # rows are R, G, B planes of 32x32 images
    # torchvision's archive md5 does not hold for these tiny files: named as damaged or re-packed
    with pytest.raises(DataDamagedError, match="skip_archive_md5"):
        load_cifar10(tmp_path, train=False, verify_archive=True)


# ------------------------------------------------------------------------------------------ MNIST damage
@pytest.mark.parametrize("name,damage,found", [
    ("train-images-idx3-ubyte", "truncated", "expected 47056 bytes for an array of shape (60, 28, 28)"),
    ("train-labels-idx1-ubyte", "truncated", "expected 68 bytes"),
    ("train-images-idx3-ubyte", "garbage", "IDX magic number 2051"),
    ("train-labels-idx1-ubyte", "garbage", "IDX magic number 2049"),
    ("t10k-images-idx3-ubyte", "header", "an IDX header of 16 bytes"),
    ("t10k-labels-idx1-ubyte", "empty", "an IDX header of 8 bytes"),
    ("train-labels-idx1-ubyte", "label_11", "labels in 0..9"),
    ("train-labels-idx1-ubyte", "fewer_labels", "60 labels"),
])
@pytest.mark.parametrize("download", [False, True])
def test_damaged_mnist_file_is_named_as_damaged(tmp_path, no_download, name, damage, found, download):
    write_fake_mnist(tmp_path)
    path = tmp_path / "MNIST" / "raw" / name
    raw = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(raw[: len(raw) - 10])
    elif damage == "garbage":
        _garbage(path)
    elif damage == "header":
        path.write_bytes(raw[:10])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "label_11":
        path.write_bytes(raw[:8] + bytes([11]) + raw[9:])
    else:  # a consistent labels file with one label fewer than the images file
        path.write_bytes((59).to_bytes(4, "big").join([raw[:4], raw[8:-1]]))
    with pytest.raises(DataDamagedError) as info:
        load_mnist(tmp_path, train=name.startswith("train"), download=download)
    assert found in _one_line_damaged(info.value, path)


def test_damaged_fashion_mnist_file_is_named_as_damaged(tmp_path, no_download):
    write_fake_mnist(tmp_path, folder="FashionMNIST")
    path = tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    _truncate(path)
    with pytest.raises(DataDamagedError) as info:
        load_fashion_mnist(tmp_path, download=True)
    assert "FashionMNIST" in _one_line_damaged(info.value, path)


def test_missing_mnist_file_is_still_missing(tmp_path):
    write_fake_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DataNotFoundError) as info:
        load_mnist(tmp_path)
    assert not isinstance(info.value, DataDamagedError)
    assert "missing" in str(info.value) and "train-labels-idx1-ubyte" in str(info.value)


# ------------------------------------------------------------------------------------------- real data
def _copy_with_flip(src_folder: Path, dst_folder: Path, names: list[str], flip: str, offset: int) -> Path:
    """Links to the real files in ``dst_folder`` except ``flip``, copied with one byte inverted at ``offset``."""
    dst_folder.mkdir(parents=True)
    for name in names:
        if name != flip:
            (dst_folder / name).symlink_to(src_folder / name)
    raw = bytearray((src_folder / flip).read_bytes())
    raw[offset] ^= 0xFF
    (dst_folder / flip).write_bytes(bytes(raw))
    return dst_folder / flip


@pytest.mark.skipif(not HAS_CIFAR, reason="shared real CIFAR-10 not present")
def test_real_cifar_matches_the_official_decoded_digests():
    folder = SHARED / "cifar-10-batches-py"
    for name, expected in known_hashes.CIFAR10_DECODED_SHA256.items():
        entry = restricted_loads((folder / name).read_bytes())
        assert cifar_batch_digests(entry["data"], np.asarray(entry["labels"])) == expected, name
    x, y = load_cifar10(SHARED, train=True, verify_archive=False)  # the loader's own check passes
    assert x.shape == (50000, 3, 32, 32) and np.array_equal(np.bincount(y.numpy()), np.full(10, 5000))
    means = x.double().mean(dim=(0, 2, 3))
    assert torch.allclose(means, torch.tensor([0.49139968, 0.48215841, 0.44653091], dtype=torch.float64), atol=1e-7)


@pytest.mark.skipif(not HAS_CIFAR, reason="shared real CIFAR-10 not present")
def test_real_cifar_with_one_flipped_pixel_byte_is_damaged(tmp_path):
    src = SHARED / "cifar-10-batches-py"
    size = (src / "test_batch").stat().st_size
    path = _copy_with_flip(src, tmp_path / "cifar-10-batches-py", CIFAR_NAMES, "test_batch", size // 2)
    with pytest.raises(DataDamagedError) as info:
        load_cifar10(tmp_path, train=False, verify_archive=False)
    assert "not the official CIFAR-10" in _one_line_damaged(info.value, path)


@pytest.mark.skipif(not HAS_MNIST, reason="shared real MNIST not present")
def test_real_mnist_matches_known_sha256_and_a_flipped_byte_is_damaged(tmp_path):
    src = SHARED / "MNIST" / "raw"
    for name, (_, digest) in known_hashes.MNIST_FILE_SHA256.items():
        assert hashlib.sha256((src / name).read_bytes()).hexdigest() == digest, name
    x, y = load_mnist(SHARED, train=False)
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    path = _copy_with_flip(src, tmp_path / "MNIST" / "raw", MNIST_NAMES, "t10k-images-idx3-ubyte", 16 + 28 * 14 + 14)
    with pytest.raises(DataDamagedError) as info:
        load_mnist(tmp_path, train=False)
    assert "not the official MNIST" in _one_line_damaged(info.value, path)


# ----------------------------------------------------------------------- torch files: models, checkpoints
def _payload_torch_file(path: Path, marker: Path) -> None:
    torch.save({"state_dict": {"0.weight": torch.zeros(2, 2)}, "seed": Payload(f"touch {marker}")}, path)


def test_model_file_with_payload_is_refused(tmp_path):
    from nnspectra.pipeline.io import load_model

    marker, path = tmp_path / "pwned", tmp_path / "model.pt"
    _payload_torch_file(path, marker)
    for load in (lambda: load_torch_file(path), lambda: load_model(torch.nn.Sequential(torch.nn.Linear(2, 2)), path)):
        with pytest.raises(DataDamagedError) as info:
            load()
        message = str(info.value)
        assert "\n" not in message and str(path) in message and "unsafe" in message
    assert not marker.exists(), "the planted torch file ran"
    # control: the file is a working exploit for torch.load(weights_only=False)
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_model_file_roundtrip_through_the_safe_loader(tmp_path):
    from nnspectra.pipeline.io import load_model, save_model

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    save_model(model, tmp_path / "m.pt", width=4, seed=1, regime="lb")
    other = load_model(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)),
                       tmp_path / "m.pt")
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_with_payload_is_refused_and_training_starts_over(tmp_path):
    from nnspectra.training import TrainConfig, train

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=gen)

    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(4, 3)).double()

    ckpt, marker = tmp_path / "train.ckpt", tmp_path / "pwned"
    cfg = TrainConfig(lr=0.1, batch_size=8, schedule="shuffle", max_iterations=30, grad_norm_tol=None, log_every=10,
                      seed=1, checkpoint_every=10, checkpoint_path=str(ckpt), progress=False)
    reference = model()
    train(reference, torch.nn.functional.cross_entropy, x, y, cfg)
    _payload_torch_file(ckpt, marker)
    planted = model()
    train(planted, torch.nn.functional.cross_entropy, x, y, cfg)
    assert not marker.exists(), "the planted checkpoint ran"
    assert not ckpt.exists()  # discarded, then the finished run cleaned up
    for a, b in zip(reference.parameters(), planted.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_is_loadable_with_weights_only(tmp_path):
    """Our own checkpoints hold tensors and plain values only (numpy scalars in the history included)."""
    from nnspectra.training import TrainConfig, train

    class _Stop(Exception):
        pass

    def stop_at_20(step: int, _m: torch.nn.Module) -> None:
        if step == 20:
            raise _Stop

    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(1))
    ckpt = tmp_path / "train.ckpt"
    cfg = TrainConfig(lr=0.1, batch_size=4, schedule="shuffle", max_iterations=40, grad_norm_tol=None, log_every=10,
                      seed=0, checkpoint_every=10, checkpoint_path=str(ckpt), progress=False)
    with pytest.raises(_Stop):
        train(torch.nn.Linear(3, 2), torch.nn.functional.cross_entropy, x, y, cfg,
              evaluate=lambda m: {"acc": np.float64(0.5)}, on_log=stop_at_20)
    state = torch.load(ckpt, weights_only=True)
    assert state["step"] == 10 and isinstance(state["sampler"]["rng"], torch.Tensor)
    assert all(type(v) in (int, float) for row in state["history"] for v in row.values())
