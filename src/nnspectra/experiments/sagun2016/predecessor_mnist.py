"""The predecessor paper's MNIST experiments (P0 Figs 1-2; claim 23): Hessian spectra of MNIST-shaped nets on
MNIST and on random i.i.d. inputs, at the random init and after GD. The 2-D blob experiments (Figs 4-8) and the
shared network helpers are in :mod:`nnspectra.experiments.sagun2016.predecessor_training`."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from nnspectra.curvature import eigvalsh_dense
from nnspectra.data.vision import MnistSubset
from nnspectra.errors import ConfigError
from nnspectra.experiments.settings import offset_seed
from nnspectra.experiments.sagun2016.predecessor import full_grad_norm, hessian_matrix, spectrum
from nnspectra.experiments.sagun2016.predecessor_training import (
    P0Model,
    P0Train,
    as_tensors,
    full_loss,
    train_gd,
)
from nnspectra.models.mlp import mlp_parameter_count


@dataclass(frozen=True)
class P0Mnist(MnistSubset):
    """Config ``predecessor.mnist``: the MNIST subset (:class:`MnistSubset`: per class, seed, side), the random
    inputs that replace it, the GD cap of Figs 1-2, the heatmap side, and the nets of Fig 1 and Fig 2 (read by
    the workflow's rules)."""

    random_distribution: str = "gaussian"
    random_seed_offset: int = 500
    max_iterations: int = 100_000
    heatmap_side: int = 400
    fig1: Mapping[str, Any] = field(default_factory=lambda: {"widths": [10, 30, 50, 70], "hidden_layers": [1, 2]})
    fig2: Mapping[str, Any] = field(default_factory=lambda: {"hidden": [10, 10]})

    def train_settings(self, train: P0Train) -> P0Train:
        """``predecessor.train`` with this section's GD cap ``max_iterations`` (the blob nets' cap is not Figs 1-2's)."""
        return replace(train, max_iterations=self.max_iterations)

    def random_seed(self, seed: int) -> int:
        """The seed of the random inputs of run seed ``seed`` (``random_seed_offset`` + seed)."""
        return offset_seed(self.random_seed_offset, seed)


def coarse_grain(mat: np.ndarray | torch.Tensor, max_side: int = 400) -> np.ndarray:
    """Block means of a square matrix so that its side is at most ``max_side`` (heatmaps of large Hessians).

    The side is cut to a multiple of the block size (at most block - 1 trailing rows/columns dropped).
    """
    a = mat.detach().cpu().numpy() if isinstance(mat, torch.Tensor) else np.asarray(mat)
    block = max(1, math.ceil(a.shape[0] / max_side))
    if block == 1:
        return a.astype(np.float64)
    m = (a.shape[0] // block) * block
    return a[:m, :m].reshape(m // block, block, m // block, block).mean(axis=(1, 3))


def trained_spectra(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, sizes: Sequence[int],
                    train_settings: P0Train, model: P0Model, seed: int, *, heatmap_side: int = 0, train: bool = True,
                    device: torch.device | str | None = None) -> dict[str, Any]:
    """Hessian spectrum of one net at its random init and after GD to ``train_settings.grad_norm_tol`` (P0 Figs 1-2).

    The net of run seed ``seed`` starts from init ``model.seed_for(seed)`` (scheme ``model.init``); GD runs with
    ``train_settings`` (Figs 1-2 cap it by :meth:`P0Mnist.train_settings`). Returns ``eig_init``, ``eig_final``
    (P,) ascending, training facts (iterations, converged, final loss and gradient norm) and, with
    ``heatmap_side`` > 0, ``heatmap_final``: the final Hessian block-averaged to at most that side (P0 Fig 1 left
    panel). ``train=False`` stops after the init spectrum (claim 23 needs only that). Training and Hessians run on
    ``device`` (default CPU).
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    xt, yt = (t.to(dev) for t in as_tensors(x, y))
    net = model.net(sizes, seed).to(dev)
    eig_init = spectrum(net, xt, yt)
    loss_init = full_loss(net, xt, yt)
    if not train:
        return {"eig_init": eig_init, "n_params": mlp_parameter_count(sizes), "sizes": np.asarray(sizes),
                "loss_init": loss_init}
    t0 = time.perf_counter()
    result = train_gd(net, xt, yt, train_settings, seed=model.seed_for(seed), desc=f"p0 {sizes}")
    train_s = time.perf_counter() - t0
    h = hessian_matrix(net, xt, yt)
    out: dict[str, Any] = {
        "eig_init": eig_init, "eig_final": eigvalsh_dense(h), "n_params": mlp_parameter_count(sizes),
        "sizes": np.asarray(sizes), "iterations": result.iterations, "converged": result.converged,
        "final_grad_norm": full_grad_norm(net, xt, yt), "loss_init": loss_init,
        "loss_final": full_loss(net, xt, yt), "train_seconds": train_s,
    }
    if heatmap_side:
        out["heatmap_final"] = coarse_grain(h, heatmap_side)
    return out


def mnist_random_spectra(x_mnist: np.ndarray, y_mnist: np.ndarray, x_random: np.ndarray, y_random: np.ndarray,
                         hidden: Sequence[int], train_settings: P0Train, model: P0Model, seed: int, *,
                         n_classes: int = 10, **kw: Any) -> dict[str, dict[str, Any]]:
    """P0 Fig 2: the same net and the SAME init trained on MNIST and on random inputs.

    ``hidden`` are the hidden widths (P0 says "two hidden layers" but its MNIST parameter counts fit
    one; SPEC §1.12 runs both readings). Returns {"mnist": ..., "random": ...}, each as
    :func:`trained_spectra` (``kw``: its keyword arguments). Claim 23 compares the two ``eig_init`` spectra.
    """
    if x_mnist.shape[1] != x_random.shape[1]:
        raise ConfigError(f"MNIST inputs have {x_mnist.shape[1]} features but the random inputs "
                          f"{x_random.shape[1]}; generate random_patterns with n_features={x_mnist.shape[1]}")
    sizes = [int(x_mnist.shape[1]), *[int(h) for h in hidden], int(n_classes)]
    return {"mnist": trained_spectra(x_mnist, y_mnist, sizes, train_settings, model, seed, **kw),
            "random": trained_spectra(x_random, y_random, sizes, train_settings, model, seed, **kw)}


def spectral_width(eigs: np.ndarray) -> float:
    """λ_max - λ_min of a spectrum (claim 23's width)."""
    lam = np.asarray(eigs, dtype=np.float64)
    return float(lam.max() - lam.min())
