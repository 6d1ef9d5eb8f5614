"""Spectral invariance and evolution of weights, CK and NTK (Wang et al. 2023; SPEC §3, claims 33–42).

One *run* trains the two-layer net ``f(x) = a^T tanh(W x / sqrt(d)) / sqrt(h)`` (SPEC §3.0) on one
dataset with one optimiser setting and analyses checkpoints t ∈ {0, 1, 10, 100, final}: the ESDs of
``W^T W / h`` (d), the CK and the NTK (n x n, closed forms of :mod:`nnspectra.kernels`), their
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
from typing import Any

import numpy as np
import torch

from nnspectra.data.teacher import RegressionData, mnist_regression, single_index_teacher
from nnspectra.errors import ConfigError
from nnspectra.kernels import (
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


# -- data and model -----------------------------------------------------------------------------
def make_dataset(data_cfg: Mapping[str, Any], seed: int, data_dir: str | None = None,
                 scale: float = 1.0) -> RegressionData:
    """The dataset of one config entry (``kind: teacher | mnist``); ``scale`` multiplies n and d."""
    kind = data_cfg["kind"]
    n_train = int(round(data_cfg["n_train"] * scale))
    n_test = int(round(data_cfg["n_test"] * scale))
    if kind == "teacher":
        dim = int(round(data_cfg["dim"] * scale))
        return single_index_teacher(n_train, n_test, dim, data_cfg["noise_std"], seed=seed)
    if kind == "mnist":
        if scale != 1.0:
            raise ConfigError("the MNIST variant has a fixed input dimension (784) and cannot be rescaled")
        return mnist_regression(n_train, n_test, data_dir=data_dir, target=data_cfg["target"], seed=seed)
    raise ConfigError(f"evolution dataset kind '{kind}' is not one of ['teacher', 'mnist']")


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


def resolve_lr(run_cfg: Mapping[str, Any], model: TwoLayer, x: torch.Tensor, y: torch.Tensor) -> float:
    """The run's learning rate: a number, or ``eta_star`` times ``lr_factor``."""
    lr = run_cfg["lr"]
    if lr == "eta_star":
        return float(run_cfg.get("lr_factor", 1.0)) * eta_star(model, x, y)
    return float(lr)


# -- spectra at one checkpoint ------------------------------------------------------------------
def _tail_fits(eigs: np.ndarray, min_tail: int) -> dict[str, float]:
    fit, hill = fit_power_law(eigs, min_tail=min_tail), hill_alpha(eigs)
    return {"alpha": fit.alpha, "alpha_xmin": fit.xmin, "alpha_ks": fit.ks, "alpha_hill": hill.alpha}


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
                       activation: str, ntk_params: str, init_std: float, analysis: Mapping[str, Any],
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
    factor = float(analysis["outlier_factor"])
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
        row.update({f"{name}_{k}": v for k, v in _tail_fits(vals, int(analysis["min_tail"])).items()})
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
def train_with_checkpoints(data: RegressionData, model_cfg: Mapping[str, Any], run_cfg: Mapping[str, Any],
                           checkpoints: Sequence[int], seed: int, width: int | None = None,
                           ) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], float, list[dict[str, float]]]:
    """Train one run; return float64 copies ``{t: (W_t, a_t)}`` at the checkpoints, the lr and history."""
    dtype = DTYPES[model_cfg["dtype"]]
    width = int(width or model_cfg["width"])
    model = TwoLayer(data.dim, width, activation=model_cfg["activation"], train_a=bool(run_cfg["train_a"]),
                     init_std=float(model_cfg["init_std"]), seed=10_000 + seed, dtype=dtype)
    x = torch.as_tensor(data.x_train, dtype=dtype)
    y = torch.as_tensor(data.y_train, dtype=dtype)
    lr = resolve_lr(run_cfg, model, x, y)
    steps = int(run_cfg["steps"])
    wanted = {t for t in checkpoints if t <= steps} | {steps}
    saved: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def keep(step: int, net: torch.nn.Module) -> None:
        if step in wanted:
            saved[step] = (net.W.detach().double().numpy().copy(), net.a.detach().double().numpy().copy())

    optimizer = {"gd": "sgd", "sgd": "sgd", "adam": "adam"}[run_cfg["optimizer"]]
    batch = None if run_cfg["optimizer"] == "gd" else run_cfg.get("batch_size")
    if run_cfg["optimizer"] == "sgd" and batch is None:
        raise ConfigError("an 'sgd' run needs a batch_size (full-batch training is optimizer 'gd')")
    cfg = TrainConfig(lr=lr, optimizer=optimizer, batch_size=batch, schedule="shuffle", max_iterations=steps,
                      grad_norm_tol=None, log_every=1, seed=20_000 + seed, progress=False)
    result = train(model, lambda out, target: 0.5 * torch.mean((out - target) ** 2), x, y, cfg,
                   on_log=keep, desc=f"{run_cfg['optimizer']} lr={lr:.3g}")
    history = [{"step": r["step"], "batch_loss": r["batch_loss"]} for r in result.history]
    return saved, lr, history


def run_evolution(data_cfg: Mapping[str, Any], model_cfg: Mapping[str, Any], run_cfg: Mapping[str, Any],
                  analysis: Mapping[str, Any], seed: int, data_dir: str | None = None,
                  ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Train one (dataset, run, seed) and analyse every checkpoint.

    Returns a JSON-able summary (``rows``: one dict of scalars per checkpoint, plus ``lr``, sizes and
    the loss history) and arrays ``<matrix>_t<step>`` of eigenvalues (ascending) per checkpoint.
    """
    data = make_dataset(data_cfg, seed, data_dir)
    saved, lr, history = train_with_checkpoints(data, model_cfg, run_cfg, analysis["checkpoints"], seed)
    activation, init_std = model_cfg["activation"], float(model_cfg["init_std"])
    ntk_params = "both" if run_cfg["train_a"] else "W"
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
    summary = {"dataset": data.name, "n_train": n, "dim": d, "width": int(w0.shape[0]), "lr": lr,
               "steps": int(run_cfg["steps"]), "optimizer": run_cfg["optimizer"], "regime": run_cfg["regime"],
               "train_a": bool(run_cfg["train_a"]), "ntk_params": ntk_params, "seed": seed,
               "null_alignment_beta": 1.0 / math.sqrt(d), "null_alignment_y": 1.0 / n,
               "rows": rows, "history": history}
    return summary, arrays


def run_scaling(data_cfg: Mapping[str, Any], model_cfg: Mapping[str, Any], run_cfg: Mapping[str, Any],
                scale: float, seed: int) -> dict[str, Any]:
    """Claim 34: ``||W_T - W_0||`` (op, F) and ``||W_0||_op`` for (n, d, h) multiplied by ``scale``."""
    data = make_dataset(data_cfg, seed, scale=scale)
    width = int(round(model_cfg["width"] * scale))
    steps = int(run_cfg["steps"])
    saved, lr, _ = train_with_checkpoints(data, model_cfg, run_cfg, [0], seed, width=width)
    w0, wt = saved[0][0], saved[steps][0]
    n, d = data.x_train.shape
    return {"scale": scale, "n_train": n, "dim": d, "width": width, "lr": lr, "steps": steps, "seed": seed,
            "dW_op": float(np.linalg.norm(wt - w0, ord=2)), "dW_fro": float(np.linalg.norm(wt - w0)),
            "W0_op": float(np.linalg.norm(w0, ord=2)), "W0_fro": float(np.linalg.norm(w0))}


# -- claims 33-42 -----------------------------------------------------------------------------------
def _final(summary: Mapping[str, Any]) -> dict[str, float]:
    return summary["rows"][-1]


def _first(summary: Mapping[str, Any]) -> dict[str, float]:
    return summary["rows"][0]


def _metric(values: Sequence[float], seeds: Sequence[int], unit: str, description: str) -> dict[str, Any]:
    return {"values": [float(v) for v in values], "seeds": list(seeds), "unit": unit, "description": description}


def claim_metrics(runs: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]],
                  scaling: Mapping[float, Sequence[Mapping[str, Any]]],
                  claims_cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-seed metrics for SPEC §4 claims 33-42 (``results/metrics/evolution.json``).

    ``runs[dataset][run]`` is the list of per-seed summaries of :func:`run_evolution` (same seed
    order everywhere); ``scaling[factor]`` the per-seed records of :func:`run_scaling`.
    """
    ds = runs[claims_cfg["dataset"]]
    gd, sgd = ds[claims_cfg["gd_small"]], ds[claims_cfg["sgd_small"]]
    large, adam = ds[claims_cfg["gd_large"]], ds[claims_cfg["adam"]]
    seeds = [s["seed"] for s in gd]
    for name, group in (("sgd_small", sgd), ("gd_large", large), ("adam", adam)):
        if [s["seed"] for s in group] != seeds:
            raise ConfigError(f"evolution claims: run '{claims_cfg[name]}' has seeds {[s['seed'] for s in group]}, "
                              f"expected {seeds}")
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, values: Sequence[float], unit: str, description: str, seed_list: Sequence[int] = seeds) -> None:
        out[name] = _metric(values, seed_list, unit, description)

    add("c33_ks_w_gd", [_final(s)["w_ks_init"] for s in gd], "KS distance",
        "Kolmogorov distance between the ESDs of W^T W/h at the end of small-lr GD and at init")
    add("c33_lmax_ratio_w_gd", [_final(s)["w_lmax_ratio"] for s in gd], "ratio",
        "lambda_max(W^T W/h) final / init under small-lr GD")
    add("c33_ks_mp_w_gd", [_final(s)["w_ks_mp"] for s in gd], "KS distance",
        "Kolmogorov distance between the final W^T W/h ESD and the MP law (ratio d/h, init variance)")
    add("c34_dW_op_gd", [_final(s)["dW_op"] for s in gd], "operator norm", "||W_T - W_0||_op, small-lr GD")
    add("c34_dW_fro_gd", [_final(s)["dW_fro"] for s in gd], "Frobenius norm", "||W_T - W_0||_F, small-lr GD")
    factors = sorted(scaling)
    if len(factors) >= 2:
        lo, hi = factors[0], factors[-1]
        sc_seeds = [r["seed"] for r in scaling[lo]]
        pairs = list(zip(scaling[lo], scaling[hi]))
        for key, label in (("dW_op", "||W_T - W_0||_op"), ("dW_fro", "||W_T - W_0||_F"), ("W0_op", "||W_0||_op")):
            add(f"c34_{key}_size_ratio", [b[key] / a[key] for a, b in pairs], "ratio",
                f"{label} at sizes x{hi} over x{lo} (n, d, h scaled together; GD, same lr and steps)", sc_seeds)
    add("c35_ks_ck_gd", [_final(s)["ck_ks_init"] for s in gd], "KS distance", "KS(CK final, CK init), small-lr GD")
    add("c35_ks_ntk_gd", [_final(s)["ntk_ks_init"] for s in gd], "KS distance", "KS(NTK final, NTK init), small-lr GD")
    add("c35_ks_max_kernels_gd", [max(_final(s)["ck_ks_init"], _final(s)["ntk_ks_init"]) for s in gd],
        "KS distance", "max over CK and NTK of KS(final, init), small-lr GD")
    for name in MATRICES:
        add(f"c36_ks_{name}_sgd", [_final(s)[f"{name}_ks_init"] for s in sgd], "KS distance",
            f"KS({name} final, {name} init), small-lr SGD batch 32")
    add("c36_ks_max_sgd", [max(_final(s)[f"{m}_ks_init"] for m in MATRICES) for s in sgd], "KS distance",
        "max over W, CK, NTK of KS(final, init), small-lr SGD")
    add("c37_outliers_w_large", [_final(s)["w_outliers"] for s in large], "count",
        "eigenvalues of W^T W/h above outlier_factor x the MP edge after large-lr GD")
    add("c37_outliers_w_init", [_first(s)["w_outliers"] for s in large], "count",
        "eigenvalues of W^T W/h above outlier_factor x the MP edge at init")
    add("c37_outlier_emerged", [float(_final(s)["w_outliers"] >= 1 and _first(s)["w_outliers"] == 0) for s in large],
        "indicator", "1 if >= 1 outlier of W^T W/h after large-lr GD and none at init")
    add("c37_lmax_over_edge_large", [_final(s)["w_lmax"] / _final(s)["w_mp_edge"] for s in large], "ratio",
        "lambda_max(W^T W/h) after large-lr GD / MP edge")
    add("c38_align_beta_large", [_final(s)["w_align_beta"] for s in large], "|cosine|",
        "|<u_1, beta>| of the top eigenvector of W^T W/h after large-lr GD (random: 1/sqrt(d))")
    add("c38_align_y_ck_large", [_final(s)["ck_align_y"] for s in large], "squared cosine",
        "<v_1, y>^2/||y||^2 of the top CK eigenvector after large-lr GD (random: 1/n)")
    after_one = [next((r for r in s["rows"] if r["step"] == 1), _final(s)) for s in large]
    add("c38_align_beta_large_t1", [r["w_align_beta"] for r in after_one], "|cosine|",
        "diagnostic: |<u_1, beta>| after the first large-lr GD step")
    add("c38_align_y_ck_large_t1", [r["ck_align_y"] for r in after_one], "squared cosine",
        "diagnostic: <v_1, y>^2/||y||^2 of the top CK eigenvector after the first large-lr GD step")
    add("c38_lmax_over_edge_large_t1", [r["w_lmax"] / r["w_mp_edge"] for r in after_one], "ratio",
        "diagnostic: lambda_max(W^T W/h) / MP edge after the first large-lr GD step")
    for name in MATRICES:
        add(f"c39_alpha_{name}_adam", [_final(s)[f"{name}_alpha"] for s in adam], "PL exponent",
            f"CSN power-law alpha of the {name} ESD after Adam")
        add(f"c39_alpha_{name}_gd", [_final(s)[f"{name}_alpha"] for s in gd], "PL exponent",
            f"CSN power-law alpha of the {name} ESD after small-lr GD")
        add(f"c39_alpha_drop_{name}", [_final(g)[f"{name}_alpha"] - _final(a)[f"{name}_alpha"]
                                        for g, a in zip(gd, adam)], "PL exponent",
            f"alpha(GD small) - alpha(Adam) for the {name} ESD")
    add("c39_alpha_w_hill_adam", [_final(s)["w_alpha_hill"] for s in adam], "PL exponent",
        "Hill alpha (xmin = median) of the W^T W/h ESD after Adam")
    add("c40_test_mse_gd", [_final(s)["test_mse"] for s in gd], "MSE", "test MSE after small-lr GD")
    add("c40_test_mse_adam", [_final(s)["test_mse"] for s in adam], "MSE", "test MSE after Adam")
    add("c40_test_mse_rel_gain", [1.0 - _final(a)["test_mse"] / _final(g)["test_mse"] for g, a in zip(gd, adam)],
        "fraction", "1 - MSE(Adam)/MSE(GD small): relative test-error reduction by Adam")
    add("c40_align_gain", [_final(a)["w_align_beta"] - _final(g)["w_align_beta"] for g, a in zip(gd, adam)],
        "|cosine|", "|<u_1, beta>|(Adam) - |<u_1, beta>|(GD small)")
    for name in ("ck", "ntk"):
        dists = [(_final(g)[f"{name}_dist_init"], _final(lg)[f"{name}_dist_init"], _final(a)[f"{name}_dist_init"])
                 for g, lg, a in zip(gd, large, adam)]
        add(f"c41_{name}_dist_gd", [d[0] for d in dists], "relative Frobenius", f"||K-K0||_F/||K0||_F ({name}), GD small")
        add(f"c41_{name}_dist_large", [d[1] for d in dists], "relative Frobenius", f"||K-K0||_F/||K0||_F ({name}), GD large")
        add(f"c41_{name}_dist_adam", [d[2] for d in dists], "relative Frobenius", f"||K-K0||_F/||K0||_F ({name}), Adam")
        add(f"c41_{name}_ordered", [float(d[0] < d[1] < d[2]) for d in dists], "indicator",
            f"1 if the {name} distance from init orders GD small < GD large < Adam")
    real = claims_cfg.get("real_dataset")
    if real and real in runs:
        rds = runs[real]
        r_gd, r_large, r_adam = rds[claims_cfg["gd_small"]], rds[claims_cfg["gd_large"]], rds[claims_cfg["adam"]]
        r_seeds = [s["seed"] for s in r_gd]
        add("c42_ks_w_gd", [_final(s)["w_ks_init"] for s in r_gd], "KS distance",
            "real data: KS(W^T W/h final, init), small-lr GD", r_seeds)
        add("c42_outliers_w_large", [_final(s)["w_outliers"] for s in r_large], "count",
            "real data: outliers of W^T W/h above outlier_factor x MP edge after large-lr GD", r_seeds)
        add("c42_alpha_w_adam", [_final(s)["w_alpha"] for s in r_adam], "PL exponent",
            "real data: alpha of the W^T W/h ESD after Adam", r_seeds)
        ok = []
        for g, lg, a in zip(r_gd, r_large, r_adam):
            c33 = _final(g)["w_ks_init"] <= 0.05 and 0.95 <= _final(g)["w_lmax_ratio"] <= 1.05
            c37 = _final(lg)["w_outliers"] >= 1 and _first(lg)["w_outliers"] == 0
            c39 = _final(a)["w_alpha"] <= 4.0 and _final(g)["w_alpha"] - _final(a)["w_alpha"] >= 1.5
            ok.append(float(c33 and c37 and c39))
        add("c42_regimes_reproduce", ok, "indicator",
            "real data: 1 if claims 33, 37 and 39 (W) all hold with their thresholds", r_seeds)
    return out


def group_summaries(summaries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """``{dataset: {run: [summary per seed, sorted by seed]}}`` from summaries carrying their ``path``
    (``.../<dataset>/<run>/seed<k>/summary.json``)."""
    from pathlib import Path

    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for summary in summaries:
        parts = Path(summary["path"]).parts
        grouped.setdefault(parts[-4], {}).setdefault(parts[-3], []).append(summary)
    for runs in grouped.values():
        for seeds in runs.values():
            seeds.sort(key=lambda s: s["seed"])
    return grouped


TABLE_COLUMNS = {
    "w_ks_init": "KS(W_T, W_0)", "ck_ks_init": "KS(CK_T, CK_0)", "ntk_ks_init": "KS(NTK_T, NTK_0)",
    "w_lmax_ratio": "λmax(W) T/0", "w_outliers": "W outliers", "w_align_beta": "|<u1,β>|",
    "ck_align_y": "CK <v1,y>²/|y|²", "w_alpha": "α(W)", "ck_alpha": "α(CK)", "ntk_alpha": "α(NTK)",
    "dW_op": "‖ΔW‖op", "dW_fro": "‖ΔW‖F", "ck_dist_init": "CK rel. dist", "ntk_dist_init": "NTK rel. dist",
    "test_mse": "test MSE",
}


def summary_table(summaries: Sequence[Mapping[str, Any]]) -> "Any":
    """DataFrame: one row per (dataset, run), medians over seeds of the final-step measures."""
    import pandas as pd

    rows = []
    for dataset, runs in group_summaries(summaries).items():
        for run, seeds in runs.items():
            finals = [s["rows"][-1] for s in seeds]
            row: dict[str, Any] = {"dataset": dataset, "run": run, "regime": seeds[0]["regime"],
                                   "optimizer": seeds[0]["optimizer"], "lr (median)": float(np.median([s["lr"] for s in seeds])),
                                   "steps": seeds[0]["steps"], "seeds": len(seeds),
                                   "test MSE at init": float(np.median([s["rows"][0]["test_mse"] for s in seeds])),
                                   "α(W) at init": float(np.median([s["rows"][0]["w_alpha"] for s in seeds]))}
            for key, label in TABLE_COLUMNS.items():
                row[label] = float(np.median([f[key] for f in finals]))
            rows.append(row)
    order = {"invariant": 0, "sgd": 1, "spike": 2, "heavy_tail": 3}
    table = pd.DataFrame(rows)
    table["_order"] = table["regime"].map(order)
    return table.sort_values(["dataset", "_order", "run"]).drop(columns="_order").round(4).reset_index(drop=True)
