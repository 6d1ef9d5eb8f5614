"""The predecessor paper's experiments (P0: Sagun, Bottou & LeCun 2016, "Singularity of the Hessian in
Deep Learning", arXiv 1611.07476v1; SPEC §1.12, claims 20-23).

Every experiment trains small ReLU MLPs (softmax + mean NLL, biases) with full-batch GD at a constant
step until the gradient norm is small (P0: "at the order of 1e-4") and looks at the exact float64
Hessian of the mean training loss. One function per figure group, explicit arguments, arrays out:

* Figs 1-2 (MNIST vs random inputs): :mod:`nnspectra.experiments.sagun2016.predecessor_mnist`.
* :func:`blob_width_run` -- Figs 4-5: the 2-D two-blob data, two equal hidden layers of width n
  (P = n² + 6n + 2), final Hessian (matrix and spectrum) and its isolated eigenvalues.
* :func:`nnspectra.experiments.sagun2016.predecessor_sphere.sphere_lambda_max` -- Fig 6: many random inits on a sphere of fixed radius trained at once by
  :func:`nnspectra.training.batched.batched_gd` (vmapped over stacked parameters), final λ_max of each.
* :func:`blob_std_sweep` -- Fig 7: the same net and init on blobs of growing std, final λ_max.
* :func:`nnspectra.experiments.sagun2016.predecessor_training.interpolation_profiles` -- Fig 8: loss on the straight line between simultaneous iterates of
  GD and SGD (same init) and of two SGD runs (two inits), at every recorded step.

The claim metrics (``metrics/p0.json``) are computed in :mod:`nnspectra.experiments.sagun2016.predecessor_metrics`.

The networks, their settings and training (:func:`nnspectra.experiments.sagun2016.predecessor_training.train_gd`, the
project's trainer) are in :mod:`nnspectra.experiments.sagun2016.predecessor_training`; the dense Hessians here are
those of :func:`nnspectra.curvature.hessian`, :func:`nnspectra.curvature.eigvalsh_dense`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nnspectra.curvature import eigvalsh_dense, hessian
from nnspectra.models.flat import flat_parameters, loss_of_flat_params
from nnspectra.errors import ConfigError
from nnspectra.experiments.sagun2016.predecessor_training import (
    P0Blobs,
    P0Model,
    P0Train,
    as_tensors,
    blob_sizes,
    full_loss,
    train_gd,
)
from nnspectra.models.mlp import mlp_parameter_count
from nnspectra.spectra.outliers import count_gap, isolated_eigenvalues
from nnspectra.training.evaluate import cross_entropy  # softmax + mean NLL, P0's loss

log = logging.getLogger(__name__)

BLOB_WIDTHS = (2, 6, 10, 14, 18)  # P0 Fig 4: P = 18 / 74 / 162 / 282 / 434
BLOB_STDS = (0.2, 0.4, 0.6, 0.8, 1.0)  # P0 Fig 7 panel titles


@dataclass(frozen=True)
class P0Fig4:
    """Config ``predecessor.fig4``: the widths n of the 2-n-n-2 nets and those whose Hessian is drawn (Fig 5)."""

    widths: tuple[int, ...] = BLOB_WIDTHS
    heatmap_widths: tuple[int, ...] = (2, 6, 10)


@dataclass(frozen=True)
class P0Fig7:
    """Config ``predecessor.fig7``: the blob stds and the one width of the net trained on each."""

    stds: tuple[float, ...] = BLOB_STDS
    width: int = 14


# ------------------------------------------------------------------------------------- networks
def hidden_name(hidden: Sequence[int]) -> str:
    """File-name form of hidden widths: [10, 10] -> "10x10" (inverse of :func:`parse_hidden`)."""
    return "x".join(str(int(h)) for h in hidden)


def parse_hidden(name: str) -> list[int]:
    """Hidden widths from their file-name form: "10x10" -> [10, 10]."""
    try:
        widths = [int(part) for part in str(name).split("x")]
    except ValueError:
        raise ConfigError(f"hidden widths '{name}' must look like '10' or '10x10'") from None
    if not widths or min(widths) < 1:
        raise ConfigError(f"hidden widths '{name}' must be positive integers joined by 'x'")
    return widths


def full_grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Norm of the full-batch gradient of the mean loss at ``model``'s parameters."""
    f = loss_of_flat_params(model, cross_entropy, x, y)
    return float(torch.func.grad(f)(flat_parameters(model)).norm())


def hessian_matrix(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """Exact dense float64 Hessian (P, P) of the mean training loss (:func:`nnspectra.curvature.hessian`)."""
    return hessian(model, cross_entropy, x, y, dtype=torch.float64, device=device)


def spectrum(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device | str | None = None,
             ) -> np.ndarray:
    """All Hessian eigenvalues (P,), ascending, float64."""
    return eigvalsh_dense(hessian_matrix(model, x, y, device))


# --------------------------------------------------------------------------------- Figs 4 and 5
def blob_width_run(x: np.ndarray, y: np.ndarray, width: int, train_settings: P0Train, model: P0Model, seed: int,
                   *, hidden_layers: int = 2) -> dict[str, Any]:
    """P0 Figs 4-5: train the 2-n-n-2 net on the blobs by GD to ``train_settings.grad_norm_tol``; exact final Hessian.

    The net of run seed ``seed`` starts from init ``model.seed_for(seed)`` (scheme ``model.init``) and GD runs
    with ``train_settings`` (lr, tolerance, step cap). Returns ``hessian_final`` (P, P), ``eig_init``/``eig_final``
    (P,) ascending, the isolated-eigenvalue reading of claim 20 (``n_isolated``, ``rest_within``,
    ``isolated_pair``), the largest-gap count (:func:`nnspectra.spectra.outliers.count_gap`, a cross-check) and
    the training facts.
    """
    sizes = blob_sizes(width, hidden_layers)
    xt, yt = as_tensors(x, y)
    net = model.net(sizes, seed)
    eig_init = spectrum(net, xt, yt)
    result = train_gd(net, xt, yt, train_settings, seed=model.seed_for(seed), desc=f"p0 blobs n={width}")
    h = hessian_matrix(net, xt, yt)
    eig = eigvalsh_dense(h)
    iso = isolated_eigenvalues(eig)
    return {"width": int(width), "n_params": mlp_parameter_count(sizes), "hessian_final": h.numpy(),
            "eig_init": eig_init, "eig_final": eig, "n_isolated": iso.count, "rest_within": iso.rest_within,
            "isolated_pair": iso.is_isolated_pair, "gap_count": count_gap(eig, top=min(120, eig.size)).count,
            "lambda_max": iso.lambda_max, "iterations": result.iterations, "converged": result.converged,
            "final_grad_norm": full_grad_norm(net, xt, yt), "loss_final": full_loss(net, xt, yt)}


# ---------------------------------------------------------------------------------------- Fig 6
# ---------------------------------------------------------------------------------------- Fig 7
def blob_std_sweep(data: P0Blobs, fig7: P0Fig7, train_settings: P0Train, model: P0Model, seed: int,
                   *, hidden_layers: int = 2) -> dict[str, np.ndarray]:
    """P0 Fig 7: the same net and init trained by GD on two blobs of each std; final Hessian spectra.

    For each of ``fig7.stds`` (in place of ``data.std``): ``data.n_per_blob`` points per blob drawn with
    ``data.seed_for(seed)`` (the same standard-normal draws for every std, scaled by it), then
    :func:`blob_width_run` of width ``fig7.width`` and run seed ``seed``. Returns ``stds`` (S,), ``eig_final``
    (S, P) ascending, ``lambda_max``, ``iterations``, ``converged``, ``final_grad_norm``, ``loss_final`` (S,).
    """
    rows: dict[str, list[Any]] = {k: [] for k in ("eig_final", "lambda_max", "iterations", "converged",
                                                  "final_grad_norm", "loss_final")}
    stds = [float(s) for s in fig7.stds]
    for std in stds:
        x, y = data.draw(seed, std)
        run = blob_width_run(x, y, int(fig7.width), train_settings, model, seed, hidden_layers=hidden_layers)
        for key, values in rows.items():
            values.append(run[key])
    return {"stds": np.asarray(stds, dtype=np.float64), **{k: np.asarray(v) for k, v in rows.items()}}


