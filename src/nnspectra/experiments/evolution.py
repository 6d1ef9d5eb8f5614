"""Spectral invariance and evolution of weights, CK and NTK (Wang et al. 2023; SPEC §3, claims 33–42).

One *run* trains the two-layer net ``f(x) = a^T tanh(W x / sqrt(d)) / sqrt(h)`` (SPEC §3.0) on one
dataset with one optimiser setting and analyses checkpoints t ∈ {0, 1, 10, 100, final}: the ESDs of
``W^T W / h`` (d), the CK and the NTK (n x n, closed forms of :mod:`nnspectra.curvature.kernels`), their
Kolmogorov distances to t = 0 and (for W) to Marchenko–Pastur, outliers beyond the bulk edge and
the alignment of their eigenvectors with the signal direction beta (W) and with the labels
(kernels), power-law tail exponents, ``||W_t - W_0||`` in operator and Frobenius norm, the kernels'
relative distance from init, and train/test MSE.

Which choices are ours (SPEC §3 is partly a reconstruction) is listed in
``workflow/schemas/sections/evolution.schema.yaml`` and in the README.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nnspectra.data.teacher import RegressionData, cifar10_regression, mnist_regression, single_index_teacher
from nnspectra.errors import ConfigError
from nnspectra.curvature.kernels import (
    conjugate_kernel,
    direction_alignment,
    label_alignment,
    network_output,
    ntk,
    weight_gram,
)
from nnspectra.models.two_layer import TwoLayer
from nnspectra.spectra.mp import ks_distance, ks_distance_to_mp, mp_edges
from nnspectra.spectra.powerlaw import fit_power_law, hill_alpha
from nnspectra.training import TrainConfig, train

log = logging.getLogger(__name__)

MATRICES = ("w", "ck", "ntk")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class EvoData:
    """Config ``evolution.datasets.<name>.data``: ``teacher`` (x ~ N(0, I_d), y = softplus(<beta, x>) + noise),
    ``mnist`` or ``cifar10`` (class-balanced, flattened, standardised, scalar ``target``; SPEC §3.3)."""

    kind: str
    n_train: int = 2000
    n_test: int = 2000
    dim: int = 1000
    noise_std: float = 0.3
    target: str = "parity"
    image_size: int = 32


@dataclass(frozen=True)
class EvoModel:
    """Config ``evolution.model``: the student f(x) = a^T act(W x / sqrt(d)) / sqrt(h) (SPEC §3.1)."""

    width: int = 1500
    activation: str = "tanh"
    init_std: float = 1.0
    dtype: str = "float32"


@dataclass(frozen=True)
class EvoRun:
    """Config ``evolution.runs.<name>``: optimiser, lr (a number or ``eta_star``), steps (SPEC §3.1 table)."""

    regime: str
    optimizer: str
    lr: float | str
    steps: int
    lr_factor: float = 1.0
    batch_size: int | None = None
    train_a: bool = False
    divergence_factor: float | None = 10.0
    divergence_steps: int = 6


@dataclass(frozen=True)
class EvoAnalysis:
    """Config ``evolution.analysis``: checkpoints t, outlier factor over the bulk edge, power-law tail size."""

    checkpoints: tuple[int, ...] = (0, 1, 10, 100)
    outlier_factor: float = 1.2
    min_tail: int = 10


# -- data and model -----------------------------------------------------------------------------
def make_dataset(data: EvoData, seed: int, data_dir: str | None = None, scale: float = 1.0,
                 download: bool = False) -> RegressionData:
    """The dataset of one config entry (``kind: teacher | mnist | cifar10``); ``scale`` multiplies n and d;
    ``download`` lets torchvision fetch missing MNIST/CIFAR-10 files (config ``download``)."""
    n_train = int(round(data.n_train * scale))
    n_test = int(round(data.n_test * scale))
    if data.kind == "teacher":
        dim = int(round(data.dim * scale))
        return single_index_teacher(n_train, n_test, dim, data.noise_std, seed=seed)
    if data.kind in ("mnist", "cifar10") and scale != 1.0:
        raise ConfigError(f"the {data.kind} variant has a fixed input dimension and cannot be rescaled")
    if data.kind == "mnist":
        return mnist_regression(n_train, n_test, data_dir=data_dir, target=data.target, seed=seed, download=download)
    if data.kind == "cifar10":
        return cifar10_regression(n_train, n_test, data_dir=data_dir, target=data.target, seed=seed, download=download,
                                  image_size=int(data.image_size))
    raise ConfigError(f"evolution dataset kind '{data.kind}' is not one of ['teacher', 'mnist', 'cifar10']")


def mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Loss of SPEC §3.1: ``(1/2n) sum_i (f(x_i) - y_i)^2``."""
    return 0.5 * torch.mean((model(x) - y) ** 2)


def eta_star(model: TwoLayer, x: torch.Tensor, y: torch.Tensor) -> float:
    """``||W_0||_op / ||grad_W L(W_0)||_op`` (SPEC §3.1): the lr whose first GD step is as large as W."""
    w = model.W.detach().double().clone().requires_grad_(True)
    feats = model.sigma(x.double() @ w.T / math.sqrt(model.dim))
    out = feats @ model.a.detach().double() / math.sqrt(model.width)
    loss = 0.5 * torch.mean((out - y.double()) ** 2)
    (grad,) = torch.autograd.grad(loss, w)
    return float(torch.linalg.matrix_norm(w.detach(), ord=2) / torch.linalg.matrix_norm(grad, ord=2))


def resolve_lr(run: EvoRun, model: TwoLayer, x: torch.Tensor, y: torch.Tensor) -> float:
    """The run's learning rate: a number, or ``eta_star`` times ``lr_factor``."""
    if run.lr == "eta_star":
        return float(run.lr_factor) * eta_star(model, x, y)
    return float(run.lr)


# -- spectra at one checkpoint ------------------------------------------------------------------
def _tail_fits(eigs: np.ndarray, min_tail: int) -> dict[str, float | int]:
    """CSN and Hill exponents; ``alpha_ntail`` (eigenvalues >= xmin) and ``alpha_npos`` (positive eigenvalues
    the fit saw) let a figure draw the fitted CCDF ``(n_tail/n_pos) (x/xmin)^(1-alpha)`` without refitting."""
    fit, hill = fit_power_law(eigs, min_tail=min_tail), hill_alpha(eigs)
    return {"alpha": fit.alpha, "alpha_xmin": fit.xmin, "alpha_ks": fit.ks, "alpha_hill": hill.alpha,
            "alpha_ntail": fit.n_tail, "alpha_npos": int(np.sum(np.asarray(eigs) > 0))}


def matrices_at(weight: np.ndarray, head: np.ndarray, data: RegressionData, activation: str,
                ntk_params: str) -> dict[str, np.ndarray]:
    """``W^T W / h`` (d, d), CK and NTK (n, n) on the training inputs, float64."""
    x = data.x_train
    return {"w": weight_gram(weight), "ck": conjugate_kernel(weight, x, activation),
            "ntk": ntk(weight, head, x, activation, params=ntk_params)}


def spectra_of(mats: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Eigenvalues (ascending) and the top eigenvector of each matrix."""
    out = {}
    for name, mat in mats.items():
        vals, vecs = np.linalg.eigh(mat)
        out[name] = (vals, vecs[:, -1])
    return out


def analyse_checkpoint(weight: np.ndarray, head: np.ndarray, init: Mapping[str, Any], data: RegressionData,
                       activation: str, ntk_params: str, init_std: float, analysis: EvoAnalysis,
                       ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Scalars and eigenvalue arrays of one checkpoint, compared with the init checkpoint ``init``.

    ``init`` holds ``weight`` (W_0), ``mats`` (:func:`matrices_at` at t = 0) and ``spectra``
    (:func:`spectra_of` of those). Bulk edges: MP edge ``init_std^2 (1 + sqrt(d/h))^2`` for W, the
    init's top eigenvalue for CK and NTK (SPEC §3.0); outliers exceed ``outlier_factor`` x edge.
    """
    h, d = weight.shape
    ratio = d / h
    mats = matrices_at(weight, head, data, activation, ntk_params)
    spec = spectra_of(mats)
    edge = mp_edges(ratio, init_std**2)[1]
    factor = float(analysis.outlier_factor)
    row: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    for name in MATRICES:
        vals, top = spec[name]
        vals0 = init["spectra"][name][0]
        arrays[name] = vals
        bulk_edge = edge if name == "w" else float(vals0[-1])
        row[f"{name}_lmax"] = float(vals[-1])
        row[f"{name}_lmax_ratio"] = float(vals[-1] / vals0[-1])
        row[f"{name}_ks_init"] = ks_distance(vals, vals0)
        row[f"{name}_outliers"] = int(np.sum(vals > factor * bulk_edge))
        row.update({f"{name}_{k}": v for k, v in _tail_fits(vals, int(analysis.min_tail)).items()})
        if name == "w":
            row["w_ks_mp"] = ks_distance_to_mp(vals, ratio, init_std**2)
            row["w_ks_mp_fitted"] = ks_distance_to_mp(vals, ratio, float(np.mean(vals)))
            row["w_mp_edge"] = edge
            row["w_align_beta"] = direction_alignment(top, data.beta)
        else:
            row[f"{name}_align_y"] = label_alignment(top, data.y_train)
            row[f"{name}_dist_init"] = float(np.linalg.norm(mats[name] - init["mats"][name])
                                             / np.linalg.norm(init["mats"][name]))
    row["dW_op"] = float(np.linalg.norm(weight - init["weight"], ord=2))
    row["dW_fro"] = float(np.linalg.norm(weight - init["weight"]))
    row["W_op"] = float(np.linalg.norm(weight, ord=2))
    row["W0_op"] = float(np.linalg.norm(init["weight"], ord=2))
    row["W0_fro"] = float(np.linalg.norm(init["weight"]))
    return row, arrays


# -- one run ----------------------------------------------------------------------------------------
def train_with_checkpoints(data: RegressionData, model_cfg: EvoModel, run: EvoRun,
                           checkpoints: Sequence[int], seed: int, width: int | None = None, run_key: str = "",
                           ) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], float, list[dict[str, float]]]:
    """Train one run; return float64 copies ``{t: (W_t, a_t)}`` at the checkpoints, the lr and history."""
    dtype = DTYPES[model_cfg.dtype]
    width = int(width or model_cfg.width)
    model = TwoLayer(data.dim, width, activation=model_cfg.activation, train_a=bool(run.train_a),
                     init_std=float(model_cfg.init_std), seed=10_000 + seed, dtype=dtype)
    x = torch.as_tensor(data.x_train, dtype=dtype)
    y = torch.as_tensor(data.y_train, dtype=dtype)
    lr = resolve_lr(run, model, x, y)
    steps = int(run.steps)
    wanted = {t for t in checkpoints if t <= steps} | {steps}
    saved: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def keep(step: int, net: torch.nn.Module) -> None:
        if step in wanted:
            saved[step] = (net.W.detach().double().numpy().copy(), net.a.detach().double().numpy().copy())

    optimizer = {"gd": "sgd", "sgd": "sgd", "adam": "adam"}[run.optimizer]
    batch = None if run.optimizer == "gd" else run.batch_size
    if run.optimizer == "sgd" and batch is None:
        raise ConfigError("an 'sgd' run needs a batch_size (full-batch training is optimizer 'gd')")
    cfg = TrainConfig(lr=lr, optimizer=optimizer, batch_size=batch, schedule="shuffle", max_iterations=steps,
                      grad_norm_tol=None, log_every=1, seed=20_000 + seed, progress=False,
                      divergence_factor=run.divergence_factor, divergence_steps=int(run.divergence_steps),
                      config_key=run_key)
    result = train(model, lambda out, target: 0.5 * torch.mean((out - target) ** 2), x, y, cfg,
                   on_log=keep, desc=f"{run.optimizer} lr={lr:.3g}")
    history = [{"step": r["step"], "batch_loss": r["batch_loss"]} for r in result.history]
    return saved, lr, history


def run_evolution(data_cfg: EvoData, model_cfg: EvoModel, run: EvoRun, analysis: EvoAnalysis, seed: int,
                  data_dir: str | None = None, run_key: str = "evolution.runs.<run>", download: bool = False,
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one (dataset, run, seed) and analyse every checkpoint.

    Returns a JSON-able summary (``rows``: one dict of scalars per checkpoint, plus ``lr``, sizes and
    the loss history) and arrays ``<matrix>_t<step>`` of eigenvalues (ascending) per checkpoint.
    """
    data = make_dataset(data_cfg, seed, data_dir, download=download)
    saved, lr, history = train_with_checkpoints(data, model_cfg, run, analysis.checkpoints, seed, run_key=run_key)
    activation, init_std = model_cfg.activation, float(model_cfg.init_std)
    ntk_params = "both" if run.train_a else "W"
    w0, a0 = saved[0]
    mats0 = matrices_at(w0, a0, data, activation, ntk_params)
    init = {"weight": w0, "mats": mats0, "spectra": spectra_of(mats0)}
    rows, arrays = [], {}
    for step in sorted(saved):
        weight, head = saved[step]
        row, eigs = analyse_checkpoint(weight, head, init, data, activation, ntk_params, init_std, analysis)
        row["step"] = step
        row["train_mse"] = float(np.mean((network_output(weight, head, data.x_train, activation) - data.y_train) ** 2))
        row["test_mse"] = float(np.mean((network_output(weight, head, data.x_test, activation) - data.y_test) ** 2))
        rows.append(row)
        for name, vals in eigs.items():
            arrays[f"{name}_t{step}"] = vals
        log.info("t=%d: test mse %.4f, KS(W) %.4f, alpha(W) %.2f, lmax(W)/edge %.3f, |<u1,beta>| %.3f",
                 step, row["test_mse"], row["w_ks_init"], row["w_alpha"], row["w_lmax"] / row["w_mp_edge"],
                 row["w_align_beta"])
    n, d = data.x_train.shape
    summary = {"dataset": data.name, "kind": data_cfg.kind, "n_train": n, "dim": d, "width": int(w0.shape[0]), "lr": lr,
               "steps": int(run.steps), "optimizer": run.optimizer, "regime": run.regime,
               "train_a": bool(run.train_a), "ntk_params": ntk_params, "seed": seed,
               "null_alignment_beta": 1.0 / math.sqrt(d), "null_alignment_y": 1.0 / n,
               "rows": rows, "history": history}
    return summary, arrays


def run_scaling(data_cfg: EvoData, model_cfg: EvoModel, run: EvoRun, scale: float, seed: int,
                run_key: str = "evolution.runs.<run>") -> dict[str, Any]:
    """Claim 34: ``||W_T - W_0||`` (op, F) and ``||W_0||_op`` for (n, d, h) multiplied by ``scale``."""
    data = make_dataset(data_cfg, seed, scale=scale)
    width = int(round(model_cfg.width * scale))
    steps = int(run.steps)
    saved, lr, _ = train_with_checkpoints(data, model_cfg, run, [0], seed, width=width, run_key=run_key)
    w0, wt = saved[0][0], saved[steps][0]
    n, d = data.x_train.shape
    return {"scale": scale, "n_train": n, "dim": d, "width": width, "lr": lr, "steps": steps, "seed": seed,
            "dW_op": float(np.linalg.norm(wt - w0, ord=2)), "dW_fro": float(np.linalg.norm(wt - w0)),
            "W0_op": float(np.linalg.norm(w0, ord=2)), "W0_fro": float(np.linalg.norm(w0))}
