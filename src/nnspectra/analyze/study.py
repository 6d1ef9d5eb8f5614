"""What a study analyses: its model, data, loss and layer modes, built from one validated config entry.

A study (config ``analyze.studies.<name>``) names a model by ``torchvision:<arch>`` or by any importable
factory ``module:<package.path>:<function>`` (plus keyword arguments and an optional checkpoint state
dict), a classification dataset (scikit-learn's ``digits`` ships offline; ``mnist``, ``fashion_mnist`` and
``cifar10`` come from the project's data layer :mod:`nnspectra.data.vision`), a class-balanced subset, the
loss and how batch norm / dropout behave. Every bad input is one :class:`ConfigError` line naming the key
and the fix; checkpoints are read with ``weights_only=True`` and recorded by sha256.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnspectra.errors import ConfigError, NnspectraError

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "imagefolder")
LOSSES = ("cross_entropy", "mse")
LAYER_MODES = ("eval", "train")


def _did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- models ------------------------------------------------------------------------------------------

def torchvision_architectures() -> list[str]:
    """Classification architectures torchvision can build by name (``torchvision.models.list_models``)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def _factory(spec: str, key: str) -> Callable[..., Any]:
    """The callable named by ``module:<package.path>:<function>`` (one line when it does not import)."""
    parts = spec.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ConfigError(f"config key '{key}' = '{spec}' must read module:<package.path>:<function>, "
                          "e.g. module:mypkg.models:make_net")
    _, module_name, attr = parts
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or any error raised while the user's module runs
        raise ConfigError(f"config key '{key}': module '{module_name}' does not import ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''}); put its package on PYTHONPATH or "
                          "pip install it") from None
    if not hasattr(module, attr):
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise ConfigError(f"config key '{key}': module '{module_name}' has no function '{attr}'"
                          f"{_did_you_mean(attr, names)}")
    fn = getattr(module, attr)
    if not callable(fn):
        raise ConfigError(f"config key '{key}': '{module_name}:{attr}' is not callable")
    return fn


def build_model(name: str, kwargs: Mapping[str, Any] | None = None, seed: int = 0,
                key: str = "model.name") -> torch.nn.Module:
    """The model named ``torchvision:<arch>`` (random init, never downloaded weights) or
    ``module:<package.path>:<function>``, called with ``kwargs`` under ``torch.manual_seed(seed)``."""
    kwargs = dict(kwargs or {})
    kind, _, rest = name.partition(":")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        if kind == "torchvision":
            import torchvision

            archs = torchvision_architectures()
            if rest not in archs:
                raise ConfigError(f"config key '{key}': torchvision has no architecture '{rest}'"
                                  f"{_did_you_mean(rest, archs)} (torchvision.models.list_models() lists them)")
            builder: Callable[..., Any] = lambda **kw: torchvision.models.get_model(rest, weights=None, **kw)  # noqa: E731
        elif kind == "module":
            builder = _factory(name, key)
        else:
            raise ConfigError(f"config key '{key}' = '{name}' must start with 'torchvision:' or 'module:'"
                              f"{_did_you_mean(kind, ['torchvision', 'module'])}")
        try:
            model = builder(**kwargs)
        except TypeError as err:
            raise ConfigError(f"config key '{key}': '{name}' does not accept the kwargs {sorted(kwargs)}: {err}") from None
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"config key '{key}': '{name}' returned a {type(model).__name__}, not a torch.nn.Module")
    if not any(True for _ in model.parameters()):
        raise ConfigError(f"config key '{key}': '{name}' has no parameters to analyse")
    return model


def factory_source(name: str, missing_ok: bool = False) -> dict[str, str] | None:
    """For ``module:<package.path>:<function>``: the file defining the factory and its sha256 (recorded, so a
    study's record says which version of the user's code built the model); None for torchvision models, and
    with ``missing_ok`` for a module that does not import (building the model reports that in one line)."""
    import inspect

    kind, _, rest = name.partition(":")
    if kind != "module":
        return None
    try:
        module = importlib.import_module(rest.split(":")[0])
    except Exception:
        if missing_ok:
            return None
        raise
    try:
        path = inspect.getsourcefile(module)
    except TypeError:
        path = None
    return {"file": str(path), "sha256": sha256_of(path)} if path else None


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike[str], key: str = "model.checkpoint") -> str:
    """Load a state dict (``weights_only=True``) into ``model`` and return the file's sha256.

    Every tensor must match by name and shape; the first mismatch stops with one line naming it.
    """
    from nnspectra.pipeline.io import load_state_dict

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config key '{key}': checkpoint {path} does not exist; give the path of a saved state dict")
    try:
        state = load_state_dict(path)
    except NnspectraError:
        raise
    except Exception as err:
        raise ConfigError(f"config key '{key}': checkpoint {path} is not a torch state dict readable with "
                          f"weights_only=True ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"config key '{key}': checkpoint {path} must hold a state dict of tensors")
    own = model.state_dict()
    for name, tensor in own.items():
        if name not in state:
            raise ConfigError(f"config key '{key}': checkpoint {path} has no entry '{name}' that the model needs"
                              f"{_did_you_mean(name, list(state))}")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise ConfigError(f"config key '{key}': checkpoint {path} does not fit the model: parameter '{name}' has "
                              f"shape {tuple(state[name].shape)} in the file but {tuple(tensor.shape)} in the model")
    extra = sorted(set(state) - set(own))
    if extra:
        raise ConfigError(f"config key '{key}': checkpoint {path} has entries the model lacks, e.g. '{extra[0]}'; "
                          "is it the checkpoint of another architecture or kwargs?")
    model.load_state_dict(state)
    return sha256_of(path)


def set_layer_mode(model: torch.nn.Module, mode: str) -> dict[str, Any]:
    """Put batch norm and dropout in ``mode`` for the analysis and say what that means (recorded).

    ``eval``: batch norm uses its running statistics, dropout is off (the loss is a deterministic function
    of the parameters, one sample at a time). ``train``: batch norm uses the statistics of the analysed
    batch itself; refused when the model has dropout, which would make the loss random.
    """
    if mode not in LAYER_MODES:
        raise ConfigError(f"layer mode '{mode}' is not one of {LAYER_MODES}")
    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    drops = [n for n, m in model.named_modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if mode == "train" and drops:
        raise ConfigError(f"layer mode 'train' with dropout ('{drops[0]}') makes the loss random, so it has no "
                          "Hessian; use bn_dropout: eval")
    model.train(mode == "train")
    if mode == "train":  # batch statistics, running buffers left alone: the loss stays a pure function
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.track_running_stats = False
    return {"mode": mode, "batch_norm_layers": len(norms), "dropout_layers": len(drops),
            "meaning": ("batch norm uses running statistics, dropout off" if mode == "eval"
                        else "batch norm uses the statistics of the analysed batch")}


# -- data --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StudyData:
    """Inputs (N, ...) float, integer labels (N,), the number of classes and where the data came from."""

    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    source: str


def _digits() -> tuple[torch.Tensor, torch.Tensor, str]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ConfigError("dataset 'digits' needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    images = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32) / 16.0).unsqueeze(1)  # (1797, 1, 8, 8)
    return images, torch.from_numpy(np.asarray(bunch.target, dtype=np.int64)), "scikit-learn load_digits (8x8, /16)"


def _image_folder(path: str | os.PathLike[str] | None, n_samples: int, seed: int, image_size: int | None,
                  key: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The class-balanced subset of an ImageFolder tree (one folder per class), read as RGB in [0, 1]."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import functional as tvf

    from nnspectra.data.vision import balanced_subset

    if not path or not Path(path).is_dir():
        raise ConfigError(f"config key '{key}.path' = {path!r} is not a directory; dataset 'imagefolder' needs a folder "
                          "holding one sub-folder of images per class")
    try:
        folder = ImageFolder(str(path))
    except (FileNotFoundError, RuntimeError) as err:
        raise ConfigError(f"config key '{key}.path': {str(err).splitlines()[0]}") from None
    labels = torch.as_tensor(folder.targets, dtype=torch.int64)
    n_classes = len(folder.classes)
    if n_samples % n_classes:
        raise ConfigError(f"config key '{key}.n_samples' = {n_samples} must be a multiple of the {n_classes} classes "
                          "(the subset is class-balanced)")
    idx = balanced_subset(labels, n_samples // n_classes, seed)
    images = []
    for i in idx:
        img = folder.loader(folder.samples[int(i)][0]).convert("RGB")
        if image_size is not None:
            img = tvf.resize(img, [int(image_size), int(image_size)], antialias=True)
        images.append(tvf.to_tensor(img))
    shapes = {tuple(t.shape) for t in images}
    if len(shapes) > 1:
        raise ConfigError(f"config key '{key}.image_size': the images of {path} have different sizes {sorted(shapes)[:2]}; "
                          "set image_size to resize them")
    x = torch.stack(images)
    return x, labels[torch.from_numpy(idx)], f"ImageFolder {path} ({n_classes} classes: {', '.join(folder.classes[:5])})"


def load_study_data(name: str, n_samples: int, seed: int, data_dir: str | os.PathLike[str] | None = None,
                    download: bool = False, flatten: bool = False, image_size: int | None = None,
                    key: str = "dataset", path: str | os.PathLike[str] | None = None) -> StudyData:
    """A class-balanced subset of ``n_samples`` training examples (``n_samples / C`` per class, drawn by
    ``seed``), normalised; ``flatten`` gives (N, D) for MLPs, ``image_size`` resizes (antialiased).
    ``imagefolder`` reads the tree at ``path`` (one sub-folder per class), normalised per channel over the subset."""
    from nnspectra.data import vision

    if name not in DATASETS:
        raise ConfigError(f"config key '{key}.name': unknown dataset '{name}'{_did_you_mean(name, DATASETS)} "
                          f"(available: {', '.join(DATASETS)})")
    if name == "imagefolder":
        x, y, source = _image_folder(path, n_samples, seed, image_size, key)
        mean = tuple(float(v) for v in x.mean((0, 2, 3)))
        std = tuple(max(float(v), 1e-8) for v in x.std((0, 2, 3)))
        x = vision.normalize(x, mean, std)
        x = x.reshape(len(x), -1) if flatten else x
        return StudyData(x=x.contiguous(), y=y, n_classes=int(y.max()) + 1, source=source)
    if name == "digits":
        images, labels, source = _digits()
        mean, std = (float(images.mean()),), (float(images.std()),)
    else:
        root = vision.resolve_data_dir(data_dir)
        if name == "cifar10":
            images, labels = vision.load_cifar10(root, train=True, download=download, verify_archive=False)
            mean, std = vision.CIFAR10_MEAN, vision.CIFAR10_STD
        elif name == "mnist":
            images, labels = vision.load_mnist(root, train=True, download=download)
            mean, std = vision.MNIST_MEAN, vision.MNIST_STD
        else:
            images, labels = vision.load_fashion_mnist(root, train=True, download=download)
            mean, std = vision.FASHION_MNIST_MEAN, vision.FASHION_MNIST_STD
        source = f"{name} training set under {root}"
    n_classes = int(labels.max()) + 1
    if n_samples % n_classes:
        raise ConfigError(f"config key '{key}.n_samples' = {n_samples} must be a multiple of the {n_classes} classes "
                          "(the subset is class-balanced)")
    idx = torch.from_numpy(vision.balanced_subset(labels, n_samples // n_classes, seed))
    x = vision.normalize(images[idx], mean, std)
    if image_size is not None:
        x = vision.resize(x, int(image_size))
    if flatten:
        x = x.reshape(len(x), -1)
    return StudyData(x=x.contiguous(), y=labels[idx].clone(), n_classes=n_classes, source=source)


# -- device ----------------------------------------------------------------------------------------

def resolve_study_device(requested: str | None, run_device: str | torch.device = "auto",
                         key: str = "device") -> tuple[torch.device, dict[str, str]]:
    """(the device, what was asked and used) for a study's ``device`` (cpu | cuda | auto; null = the run's).

    A study asking for ``cuda`` where torch sees no GPU runs on the CPU, with one logged warning line and the
    fallback recorded (a whole run's ``device: cuda`` stops instead: that is the run's contract)."""
    import logging

    from nnspectra.pipeline.runtime import DEVICE_CHOICES, resolve_device

    if isinstance(run_device, torch.device):
        run_device = run_device.type
    wanted = requested or str(run_device)
    if wanted not in DEVICE_CHOICES:
        raise ConfigError(f"config key '{key}' = {wanted!r} is not one of {DEVICE_CHOICES}{_did_you_mean(wanted, DEVICE_CHOICES)}")
    note = {"requested": wanted, "from": key if requested else "device (the run's)", "fallback": ""}
    if wanted == "cuda" and not torch.cuda.is_available():
        note["fallback"] = "CUDA is not available (torch sees no GPU): ran on the CPU"
        logging.getLogger(__name__).warning("config key '%s' asks for cuda but torch sees no GPU; running on the CPU",
                                            key)
        device = torch.device("cpu")
    else:
        device = resolve_device(wanted)
    note["used"] = str(device)
    return device, note


# -- losses ------------------------------------------------------------------------------------------

def mse_one_hot(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over samples of 1/2 ||f(x) - e_y||^2 (square loss on one-hot targets; a mean of per-sample terms)."""
    one_hot = torch.nn.functional.one_hot(targets, outputs.shape[1]).to(outputs.dtype)
    return 0.5 * ((outputs - one_hot) ** 2).sum(1).mean()


def loss_function(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The mean loss named ``cross_entropy`` (the project's) or ``mse`` (:func:`mse_one_hot`)."""
    from nnspectra.training.evaluate import cross_entropy

    if name == "cross_entropy":
        return cross_entropy
    if name == "mse":
        return mse_one_hot
    raise ConfigError(f"loss '{name}' is not one of {LOSSES}{_did_you_mean(name, LOSSES)}")
