"""Sagun et al. (2018) §4.1, seed Figs. 7-8 (v3 Figs. 4, 6): large batch (LB) vs small batch (SB) SGD.

The small MNIST convnet of SPEC §1.7 is trained from the same init with batch 512 (LB) or 10 (SB), the
same lr and number of iterations (:func:`train_lbsb_convnet`); the Hessian edges at the end points
come from :func:`nnspectra.curvature.spectrum.hessian_spectrum`; :func:`lbsb_metrics` gives claims 11-13
(LB finds larger outliers, the same number of them, and a negligible negative edge).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from nnspectra.spectra.outliers import count_outliers

if TYPE_CHECKING:  # torch is imported where a model is built: analysis jobs skip its ~2 s import
    import pandas as pd
    import torch
    from torch import nn

REGIMES = ("lb", "sb")


@dataclass(frozen=True)
class ConvnetModel:
    """Config ``realdata.lbsb.model``: channels of the two conv layers, kernel size, hidden FC width."""

    channels: tuple[int, int] = (8, 16)
    kernel: int = 5
    hidden: int = 32


@dataclass(frozen=True)
class LbsbTrain:
    """Config ``realdata.lbsb.train``: one lr and iteration count for both batch sizes."""

    lr: float = 0.05
    iterations: int = 10_000
    batch_lb: int = 512
    batch_sb: int = 10
    schedule: str = "shuffle"
    log_every: int = 500
    divergence_factor: float | None = 10.0
    divergence_steps: int = 20

    def batch_size(self, regime: str) -> int:
        """The batch size of ``regime`` (``lb`` or ``sb``)."""
        return int(self.batch_lb if regime == "lb" else self.batch_sb)


@dataclass(frozen=True)
class LbsbAnalysis:
    """Config ``realdata.lbsb.analysis``: the outlier rule and its window of top eigenvalues."""

    count_rule: str = "elbow"
    window: int = 40


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
    cfg = TrainConfig(lr=float(settings.lr), batch_size=int(batch_size), schedule=settings.schedule,
                      max_iterations=int(settings.iterations), grad_norm_tol=None, log_every=int(settings.log_every),
                      seed=seed, progress=True, divergence_factor=settings.divergence_factor,
                      divergence_steps=int(settings.divergence_steps), config_key="realdata.lbsb.train")
    result = train(net, cross_entropy, x, y, cfg, evaluate=classification_evaluator({"train": (x, y)}),
                   desc=f"convnet bs={batch_size}")
    return net.cpu(), pd.DataFrame(result.history)


def heuristic_count(top: np.ndarray, rule: str, window: int) -> tuple[int, float]:
    """Outliers above the heuristic threshold of seed Fig. 7: (count, cutoff) of ``rule`` on the top window."""
    res = count_outliers(np.asarray(top), rule=rule, top=min(window, np.asarray(top).size))
    return int(res.count), float(res.cutoff)


def lbsb_metrics(lb: Mapping[str, np.ndarray], sb: Mapping[str, np.ndarray], rule: str, window: int,
                 ) -> dict[str, float]:
    """Claims 11-13 for one seed from the LB and SB spectrum records (``top``, ``bottom``); the counts and
    cutoffs of the heuristic threshold are kept for seed Fig. 7."""
    lmax_lb, lmax_sb = float(lb["top"][0]), float(sb["top"][0])
    c_lb, cut_lb = heuristic_count(lb["top"], rule, window)
    c_sb, cut_sb = heuristic_count(sb["top"], rule, window)
    neg_lb = abs(min(float(lb["bottom"][0]), 0.0))
    neg_sb = abs(min(float(sb["bottom"][0]), 0.0))
    return {"lambda_max_lb": lmax_lb, "lambda_max_sb": lmax_sb, "lambda_max_ratio_lb_sb": lmax_lb / lmax_sb,
            "count_lb": c_lb, "count_sb": c_sb, "cutoff_lb": cut_lb, "cutoff_sb": cut_sb, "count_diff": abs(c_lb - c_sb),
            "count_min": min(c_lb, c_sb), "count_max": max(c_lb, c_sb),
            "lambda_min_lb": float(lb["bottom"][0]), "lambda_min_sb": float(sb["bottom"][0]),
            "pos_neg_ratio_min": min(lmax_lb / neg_lb if neg_lb > 0 else math.inf,
                                     lmax_sb / neg_sb if neg_sb > 0 else math.inf)}
