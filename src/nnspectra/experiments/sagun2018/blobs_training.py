"""Sagun et al. (2018) synthetic experiments, the training stage: the 100-30-30-k MLP on one blob data set.

Only what training needs lives here (config ``blobs.model`` and ``blobs.train``, the network, the run), so the
code hash of the training rule holds no spectra, counting or plotting code: editing an outlier rule reruns the
counts and tables, never training. The later stages are in :mod:`nnspectra.experiments.sagun2018.blobs`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nnspectra.errors import ConfigError
from nnspectra.experiments.settings import SeededSettings
from nnspectra.models.sizes import mlp_parameter_count
from nnspectra.training.settings import GuardedTrainSettings

if TYPE_CHECKING:
    import torch

    from nnspectra.training import TrainConfig


@dataclass(frozen=True)
class BlobModel(SeededSettings):
    """Config ``blobs.model``: hidden widths (paper 30, 30), init N(0, init_scale^2), init seed offset."""

    seed_offset: int = 1000
    hidden: tuple[int, ...] = (30, 30)
    init: str = "normal"
    init_scale: float = 0.1


@dataclass(frozen=True)
class BlobTrain(GuardedTrainSettings):
    """Config ``blobs.train``: the official code's GD / cyclic SGD (batch ``sgd_batch_size``), stopped at a
    gradient norm."""

    sgd_batch_size: int = 10
    schedule: str = "cyclic"
    max_iterations: int = 1_000_000
    grad_norm_tol: float | None = 1e-4
    log_every: int = 100


def layer_sizes(model: BlobModel, input_dim: int, k: int) -> list[int]:
    """Widths input-hidden...-k (paper: 100-30-30-k)."""
    return [int(input_dim), *[int(h) for h in model.hidden], int(k)]


def build_model(model: BlobModel, input_dim: int, k: int, act: str, seed: int) -> torch.nn.Sequential:
    """The float64 MLP at its initial point (config ``blobs.model``)."""
    import torch

    from nnspectra.models.mlp import make_mlp

    return make_mlp(layer_sizes(model, input_dim, k), act, init=model.init,
                    init_scale=float(model.init_scale), seed=model.seed_for(seed),
                    dtype=torch.float64)


def train_config(settings: BlobTrain, alg: str, seed: int, progress: bool = True) -> TrainConfig:
    """Shared :class:`TrainConfig` for ``alg`` in {gd, sgd} from config ``blobs.train``."""
    from nnspectra.training import TrainConfig

    if alg not in ("gd", "sgd"):
        raise ConfigError(f"blobs algorithm '{alg}' is not one of ['gd', 'sgd']")
    return TrainConfig.from_settings(settings, batch_size=None if alg == "gd" else settings.sgd_batch_size,
                                     seed=seed, progress=progress, config_key="blobs.train")


def train_run(data: Mapping[str, np.ndarray], model_cfg: BlobModel, train_cfg: BlobTrain,
              alg: str, act: str, seed: int, progress: bool = True
              ) -> tuple[torch.nn.Sequential, torch.nn.Sequential, pd.DataFrame, dict[str, Any]]:
    """Train one network on one blob data set; returns (initial model, final model, history, summary).

    History rows (every ``log_every`` steps): batch loss and gradient norm, full train/test loss and
    accuracy. The models are float64 :func:`make_mlp` networks.
    """
    import torch

    from nnspectra.training import train
    from nnspectra.training.evaluate import classification_evaluator, cross_entropy

    x = torch.as_tensor(np.asarray(data["x_train"], np.float64))
    y = torch.as_tensor(np.asarray(data["y_train"], np.int64))
    xt = torch.as_tensor(np.asarray(data["x_test"], np.float64))
    yt = torch.as_tensor(np.asarray(data["y_test"], np.int64))
    k = int(max(y.max(), yt.max()) + 1) if "centers" not in data else int(len(data["centers"]))
    init = build_model(model_cfg, x.shape[1], k, act, seed)
    final = copy.deepcopy(init)
    cfg = train_config(train_cfg, alg, seed, progress)
    evaluate = classification_evaluator({"train": (x, y), "test": (xt, yt)}, batch=max(len(y), len(yt)))
    result = train(final, cross_entropy, x, y, cfg, evaluate=evaluate, desc=f"{alg}/{act}/k{k}/seed{seed}")
    history = pd.DataFrame(result.history)
    last = result.history[-1]
    summary = {"alg": alg, "act": act, "k": k, "seed": int(seed), "iterations": result.iterations,
               "converged": result.converged, "final_grad_norm": result.final_grad_norm,
               "n_params": mlp_parameter_count(layer_sizes(model_cfg, x.shape[1], k)),
               **{key: last[key] for key in ("train_loss", "train_acc", "test_loss", "test_acc")}}
    return init, final, history, summary
