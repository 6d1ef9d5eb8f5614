"""Sagun et al. (2018) §3.2, seed Figs. 4-6, the training stage: the 784-n-10 MLP trained by full-batch GD.

Only what training needs lives here (config ``realdata.<section>.data``, ``realdata.mnist.model`` and
``realdata.mnist.train``), so the training rule's code hash holds no spectra or counting code; the spectra
and claims are in :mod:`nnspectra.experiments.sagun2018.mnist`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnspectra.data.vision import MnistSubset
from nnspectra.training.settings import GuardedTrainSettings

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn


#: config ``realdata.<section>.data`` (``mnist``, ``lbsb``): the class-balanced MNIST subset
MnistData = MnistSubset


@dataclass(frozen=True)
class MlpModel:
    """Config ``realdata.mnist.model``: hidden widths n, activation and N(0, init_scale^2) init."""

    widths: tuple[int, ...] = (10, 30, 50, 70)
    activation: str = "relu"
    init: str = "normal"
    init_scale: float = 0.1


@dataclass(frozen=True)
class GDTrain(GuardedTrainSettings):
    """Config ``realdata.mnist.train``: full-batch GD (``batch_size`` None) for a fixed number of steps."""

    iterations: int = 20_000
    batch_size: int | None = None
    grad_norm_tol: float | None = None
    log_every: int = 500


def build_mlp(input_dim: int, width: int, model: MlpModel, seed: int) -> nn.Sequential:
    """784-n-10 MLP (single hidden layer; P = 795 n + 10 at 28x28), SPEC §1.5."""
    from nnspectra.models.mlp import make_mlp

    return make_mlp([input_dim, int(width), 10], activation=model.activation, init=model.init,
                    init_scale=float(model.init_scale), seed=seed)


def train_mnist_mlp(x: torch.Tensor, y: torch.Tensor, width: int, model: MlpModel, settings: GDTrain, seed: int,
                    device: torch.device | str = "cpu") -> tuple[nn.Module, pd.DataFrame]:
    """Train the 784-n-10 MLP with full-batch GD for a fixed number of iterations (seed §3.2).

    Returns the trained model (on CPU) and its history (batch loss, gradient norm, train loss/accuracy).
    """
    import pandas as pd

    from nnspectra.training import TrainConfig, train
    from nnspectra.training.evaluate import classification_evaluator, cross_entropy

    x = x.reshape(len(x), -1).to(device)
    y = y.to(device)
    net = build_mlp(x.shape[1], width, model, seed).to(device)
    cfg = TrainConfig.from_settings(settings, seed=seed, config_key="realdata.mnist.train")
    result = train(net, cross_entropy, x, y, cfg, evaluate=classification_evaluator({"train": (x, y)}),
                   desc=f"mnist n={width}")
    return net.cpu(), pd.DataFrame(result.history)
