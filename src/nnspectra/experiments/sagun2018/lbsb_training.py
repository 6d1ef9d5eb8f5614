"""Sagun et al. (2018) §4.1, seed Figs. 7-8, the training stage: the small MNIST convnet trained by SGD with
a large (LB) or a small (SB) batch from the same init.

Only what training needs lives here (config ``realdata.lbsb.model`` and ``realdata.lbsb.train``), so the
training rule's code hash holds no spectra or counting code; the Hessian edges and claims are in
:mod:`nnspectra.experiments.sagun2018.lbsb`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnspectra.training.settings import REGIMES, BatchRegimeSettings

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn

__all__ = ["REGIMES", "ConvnetModel", "LbsbTrain", "build_convnet", "train_lbsb_convnet"]


@dataclass(frozen=True)
class ConvnetModel:
    """Config ``realdata.lbsb.model``: channels of the two conv layers, kernel size, hidden FC width."""

    channels: tuple[int, int] = (8, 16)
    kernel: int = 5
    hidden: int = 32


@dataclass(frozen=True)
class LbsbTrain(BatchRegimeSettings):
    """Config ``realdata.lbsb.train``: one lr and iteration count for both batch sizes (two runs from one init)."""

    lr: float = 0.05
    iterations: int = 10_000
    log_every: int = 500


def build_convnet(image_size: int, model: ConvnetModel, seed: int) -> nn.Sequential:
    """The 2-conv + 2-FC MNIST convnet of SPEC §1.7."""
    from nnspectra.models.convnets import make_small_convnet

    return make_small_convnet(1, image_size, tuple(model.channels), int(model.kernel), int(model.hidden), 10,
                              seed=seed)


def train_lbsb_convnet(x: torch.Tensor, y: torch.Tensor, batch_size: int, model: ConvnetModel, settings: LbsbTrain,
                       seed: int, device: torch.device | str = "cpu") -> tuple[nn.Module, pd.DataFrame]:
    """SGD on the convnet with one batch size; lr, iterations and init are shared by LB and SB (SPEC §1.7)."""
    import pandas as pd

    from nnspectra.training import TrainConfig, train
    from nnspectra.training.evaluate import classification_evaluator, cross_entropy

    x, y = x.to(device), y.to(device)
    net = build_convnet(x.shape[-1], model, seed).to(device)
    cfg = TrainConfig.from_settings(settings, batch_size=batch_size, grad_norm_tol=None, seed=seed,
                                    config_key="realdata.lbsb.train")
    result = train(net, cross_entropy, x, y, cfg, evaluate=classification_evaluator({"train": (x, y)}),
                   desc=f"convnet bs={batch_size}")
    return net.cpu(), pd.DataFrame(result.history)
