"""Spectral invariance and evolution of weights, CK and NTK (Wang et al. 2023; SPEC §3, claims 33–42).

One *run* trains the two-layer net ``f(x) = a^T tanh(W x / sqrt(d)) / sqrt(h)`` (SPEC §3.0), or its
L-hidden-layer variant (SPEC §3.3: ``hidden_layers = 2`` is the "3-layer MLP"), on one dataset with one
optimiser setting and analyses checkpoints t ∈ {0, 1, 10, 100, final}: the ESDs of ``W_l^T W_l / h`` of every
hidden layer (matrices ``w``, ``w2``, ...), the CK of the last hidden layer and the NTK (n x n, closed forms
of :mod:`nnspectra.curvature.kernels` and, for L >= 2, :mod:`nnspectra.curvature.deep_kernels`), their
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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from nnspectra.data.teacher import RegressionData, TeacherSettings, cifar10_regression, mnist_regression
from nnspectra.errors import ConfigError, DivergenceError, NnspectraError
from nnspectra.experiments.wang2023.evolution_spectra import MATRICES, EvoAnalysis, analyse_checkpoint, matrices_at, outputs, spectra_of
from nnspectra.models.linear_width import LinearWidthMLP
from nnspectra.training import TrainConfig, train

__all__ = ["DTYPES", "MATRICES", "EvoAnalysis", "EvoData", "EvoModel", "EvoRun", "build_model", "eta_star",
           "make_dataset", "run_evolution", "run_scaling", "train_with_checkpoints"]

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class EvoData(TeacherSettings):
    """Config ``evolution.datasets.<name>.data``: ``teacher`` (x ~ N(0, I_d), y = softplus(<beta, x>) + noise),
    ``mnist`` or ``cifar10`` (class-balanced, flattened, standardised, scalar ``target``; SPEC §3.3); the
    sizes and the teacher's ``dim`` and ``noise_std`` are the :class:`TeacherSettings` fragment."""

    kind: str = field(kw_only=True)
    target: str = "parity"
    image_size: int = 32


@dataclass(frozen=True)
class EvoModel:
    """Config ``evolution.model`` (with ``evolution.datasets.<name>.model`` merged over it): the student
    f(x) = a^T act(W x / sqrt(d)) / sqrt(h) (SPEC §3.1), ``hidden_layers`` deep (SPEC §3.3: 2, the "3-layer
    MLP"); ``ntk_points``: the NTK's training inputs (SPEC §3.3: 1,000; None = all n)."""

    width: int = 1500
    activation: str = "tanh"
    init_std: float = 1.0
    dtype: str = "float32"
    hidden_layers: int = 1
    ntk_points: int | None = None

    def override(self, values: Mapping[str, Any]) -> "EvoModel":
        """This model with the keys of ``evolution.datasets.<name>.model`` replaced."""
        unknown = sorted(set(values) - set(self.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"evolution.datasets.<name>.model keys {unknown} are not model settings; "
                              f"allowed: {sorted(self.__dataclass_fields__)}")
        return replace(self, **values)


@dataclass(frozen=True)
class EvoRun:
    """Config ``evolution.runs.<name>``: optimiser, lr (a number or ``eta_star``), steps (SPEC §3.1 table);
    ``on_divergence``: ``stop`` the job (DivergenceError) or ``record`` it in the summary (a claim then fails)."""

    regime: str
    optimizer: str
    lr: float | str
    steps: int
    lr_factor: float = 1.0
    batch_size: int | None = None
    train_a: bool = False
    divergence_factor: float | None = 10.0
    divergence_steps: int = 6
    on_divergence: str = "stop"


# -- data and model -----------------------------------------------------------------------------
def make_dataset(data: EvoData, seed: int, data_dir: str | None = None, scale: float = 1.0,
                 download: bool = False) -> RegressionData:
    """The dataset of one config entry (``kind: teacher | mnist | cifar10``); ``scale`` multiplies n and d;
    ``download`` lets torchvision fetch missing MNIST/CIFAR-10 files (config ``download``)."""
    if data.kind == "teacher":
        return data.teacher(seed, scale)
    if data.kind in ("mnist", "cifar10") and scale != 1.0:
        raise ConfigError(f"the {data.kind} variant has a fixed input dimension and cannot be rescaled")
    n_train, n_test = int(data.n_train), int(data.n_test)
    if data.kind == "mnist":
        return mnist_regression(n_train, n_test, data_dir=data_dir, target=data.target, seed=seed, download=download)
    if data.kind == "cifar10":
        return cifar10_regression(n_train, n_test, data_dir=data_dir, target=data.target, seed=seed, download=download,
                                  image_size=int(data.image_size))
    raise ConfigError(f"evolution dataset kind '{data.kind}' is not one of ['teacher', 'mnist', 'cifar10']")


def mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Loss of SPEC §3.1: ``(1/2n) sum_i (f(x_i) - y_i)^2``."""
    return 0.5 * torch.mean((model(x) - y) ** 2)


def build_model(dim: int, model_cfg: EvoModel, train_a: bool, seed: int, width: int | None = None) -> LinearWidthMLP:
    """The student: :class:`LinearWidthMLP` (``hidden_layers = 1``: the two-layer net of SPEC §3.1)."""
    return LinearWidthMLP(dim, int(width or model_cfg.width), hidden_layers=int(model_cfg.hidden_layers),
                          activation=model_cfg.activation, train_a=train_a, init_std=float(model_cfg.init_std),
                          seed=10_000 + seed, dtype=DTYPES[model_cfg.dtype])


def eta_star(model: LinearWidthMLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """``||W_0||_op / ||grad_W L(W_0)||_op`` (SPEC §3.1) of the first layer W = W_1: the lr whose first GD step
    is as large as W_1."""
    weights = [w.detach().double().clone().requires_grad_(True) for w in model.hidden_weights()]
    feats = x.double()
    for w in weights:
        feats = model.sigma(feats @ w.T / math.sqrt(w.shape[1]))
    out = feats @ model.a.detach().double() / math.sqrt(model.width)
    loss = 0.5 * torch.mean((out - y.double()) ** 2)
    (grad,) = torch.autograd.grad(loss, weights[0])
    return float(torch.linalg.matrix_norm(weights[0].detach(), ord=2) / torch.linalg.matrix_norm(grad, ord=2))


def resolve_lr(run: EvoRun, model: LinearWidthMLP, x: torch.Tensor, y: torch.Tensor) -> float:
    """The run's learning rate: a number, or ``eta_star`` times ``lr_factor``."""
    if run.lr == "eta_star":
        return float(run.lr_factor) * eta_star(model, x, y)
    return float(run.lr)


# -- one run ----------------------------------------------------------------------------------------
def train_with_checkpoints(data: RegressionData, model_cfg: EvoModel, run: EvoRun,
                           checkpoints: Sequence[int], seed: int, width: int | None = None, run_key: str = "",
                           ) -> tuple[dict[int, tuple[list[np.ndarray], np.ndarray]], float, list[dict[str, float]],
                                      str | None]:
    """Train one run; return float64 copies ``{t: ([W_1..W_L]_t, a_t)}`` at the checkpoints, the lr, the loss
    history and, for ``on_divergence: record``, the divergence message (None when it did not diverge)."""
    model = build_model(data.dim, model_cfg, bool(run.train_a), seed, width)
    dtype = DTYPES[model_cfg.dtype]
    x = torch.as_tensor(data.x_train, dtype=dtype)
    y = torch.as_tensor(data.y_train, dtype=dtype)
    lr = resolve_lr(run, model, x, y)
    steps = int(run.steps)
    wanted = {t for t in checkpoints if t <= steps} | {steps}
    saved: dict[int, tuple[list[np.ndarray], np.ndarray]] = {}

    def keep(step: int, net: torch.nn.Module) -> None:
        if step in wanted:
            saved[step] = ([w.detach().double().numpy().copy() for w in net.hidden_weights()],
                           net.a.detach().double().numpy().copy())

    optimizer = {"gd": "sgd", "sgd": "sgd", "adam": "adam"}[run.optimizer]
    batch = None if run.optimizer == "gd" else run.batch_size
    if run.optimizer == "sgd" and batch is None:
        raise ConfigError("an 'sgd' run needs a batch_size (full-batch training is optimizer 'gd')")
    if run.on_divergence not in ("stop", "record"):
        raise ConfigError(f"{run_key}.on_divergence is '{run.on_divergence}'; use stop or record")
    cfg = TrainConfig.from_settings(run, lr=lr, optimizer=optimizer, batch_size=batch, schedule="shuffle",
                                    grad_norm_tol=None, log_every=1, seed=20_000 + seed, config_key=run_key)
    try:
        result = train(model, lambda out, target: 0.5 * torch.mean((out - target) ** 2), x, y, cfg,
                       on_log=keep, desc=f"{run.optimizer} lr={lr:.3g}")
    except DivergenceError as err:
        if run.on_divergence == "stop":
            raise
        log.warning("recorded, not stopped (on_divergence: record): %s", err)
        return saved, lr, [], str(err).splitlines()[0]
    history = [{"step": r["step"], "batch_loss": r["batch_loss"]} for r in result.history]
    return saved, lr, history, None


def run_evolution(data_cfg: EvoData, model_cfg: EvoModel, run: EvoRun, analysis: EvoAnalysis, seed: int,
                  data_dir: str | None = None, run_key: str = "evolution.runs.<run>", download: bool = False,
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one (dataset, run, seed) and analyse every checkpoint.

    Returns a JSON-able summary (``rows``: one dict of scalars per checkpoint, plus ``lr``, sizes and
    the loss history) and arrays ``<matrix>_t<step>`` of eigenvalues (ascending) per checkpoint. A deep
    net's summary also records ``hidden_layers``, ``activation`` and ``ntk_points`` (absent: the two-layer
    net); a recorded divergence, ``diverged`` (its message; the rows stop at the last analysable checkpoint).
    """
    data = make_dataset(data_cfg, seed, data_dir, download=download)
    saved, lr, history, diverged = train_with_checkpoints(data, model_cfg, run, analysis.checkpoints, seed,
                                                          run_key=run_key)
    activation, init_std = model_cfg.activation, float(model_cfg.init_std)
    ntk_params = "both" if run.train_a else "W"
    points = model_cfg.ntk_points
    w0, a0 = saved[0]
    mats0 = matrices_at(w0, a0, data, activation, ntk_params, points)
    init = {"weights": w0, "mats": mats0, "spectra": spectra_of(mats0)}
    rows, arrays = [], {}
    for step in sorted(saved):
        weights, head = saved[step]
        try:
            row, eigs = analyse_checkpoint(weights, head, init, data, activation, ntk_params, init_std, analysis,
                                           points)
        except NnspectraError as err:
            if diverged is None:
                raise
            log.warning("t=%d of the diverged run is not analysable (%s); its rows stop before it", step, err)
            break
        row["step"] = step
        row["train_mse"] = float(np.mean((outputs(weights, head, data.x_train, activation) - data.y_train) ** 2))
        row["test_mse"] = float(np.mean((outputs(weights, head, data.x_test, activation) - data.y_test) ** 2))
        rows.append(row)
        for name, vals in eigs.items():
            arrays[f"{name}_t{step}"] = vals
        log.info("t=%d: test mse %.4f, KS(W) %.4f, alpha(W) %.2f, lmax(W)/edge %.3f, |<u1,beta>| %.3f",
                 step, row["test_mse"], row["w_ks_init"], row["w_alpha"], row["w_lmax"] / row["w_mp_edge"],
                 row["w_align_beta"])
    n, d = data.x_train.shape
    summary = {"dataset": data.name, "kind": data_cfg.kind, "n_train": n, "dim": d, "width": int(w0[0].shape[0]), "lr": lr,
               "steps": int(run.steps), "optimizer": run.optimizer, "regime": run.regime,
               "train_a": bool(run.train_a), "ntk_params": ntk_params, "seed": seed,
               "null_alignment_beta": 1.0 / math.sqrt(d), "null_alignment_y": 1.0 / n,
               "rows": rows, "history": history}
    if len(w0) > 1:
        summary.update(hidden_layers=len(w0), activation=activation, ntk_points=int(arrays["ntk_t0"].size))
    if diverged is not None:
        summary["diverged"] = diverged
    return summary, arrays


def run_scaling(data_cfg: EvoData, model_cfg: EvoModel, run: EvoRun, scale: float, seed: int,
                run_key: str = "evolution.runs.<run>") -> dict[str, Any]:
    """Claim 34: ``||W_T - W_0||`` (op, F) and ``||W_0||_op`` of W_1 for (n, d, h) multiplied by ``scale``."""
    data = make_dataset(data_cfg, seed, scale=scale)
    width = int(round(model_cfg.width * scale))
    steps = int(run.steps)
    saved, lr, _, diverged = train_with_checkpoints(data, model_cfg, run, [0], seed, width=width, run_key=run_key)
    if diverged is not None:
        raise DivergenceError(diverged)
    w0, wt = saved[0][0][0], saved[steps][0][0]
    n, d = data.x_train.shape
    return {"scale": scale, "n_train": n, "dim": d, "width": width, "lr": lr, "steps": steps, "seed": seed,
            "dW_op": float(np.linalg.norm(wt - w0, ord=2)), "dW_fro": float(np.linalg.norm(wt - w0)),
            "W0_op": float(np.linalg.norm(w0, ord=2)), "W0_fro": float(np.linalg.norm(w0))}
