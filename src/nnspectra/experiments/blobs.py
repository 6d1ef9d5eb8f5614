"""Sagun et al. (2018) synthetic experiments: Gaussian blobs, 100-30-30-k MLP, exact Hessian spectra.

Stages (one workflow rule each): data (:func:`nnspectra.data.blobs.blob_dataset`) -> :func:`train_run`
-> :func:`spectrum_of_model` -> counts (:func:`nnspectra.spectra.outliers.spectrum_counts`) -> aggregation
(:func:`table1`, :func:`blobs_metrics`). The paper's Table 1
(Appendix A) is kept here as data (:data:`PAPER_TABLE1`) so the table can print our counts beside it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from nnspectra.errors import ConfigError, DivergenceError
from nnspectra.models.mlp import NumpyMLP, make_mlp, mlp_parameter_count
from nnspectra.spectra.outliers import RULES
from nnspectra.training import BatchSampler, TrainConfig, TrainResult

log = logging.getLogger(__name__)

# Sagun et al. (2018) Table 1, verbatim (SPEC §1.4): alg, act, size, cov, nc, gap, ratio, heur, cutoff.
PAPER_TABLE1: list[tuple[str, str, int, float, int, int, int, int | None, float | None]] = [
    ("gd", "tanh", 4022, 1.0, 2, 2, 3, None, None),
    ("gd", "tanh", 4115, 1.0, 5, 2, 17, None, None),
    ("gd", "tanh", 4270, 1.0, 10, 2, 4, None, None),
    ("gd", "tanh", 4580, 1.0, 20, 3, 4, None, None),
    ("gd", "relu", 4022, 1.0, 2, 3, 4, 2, 0.003),
    ("gd", "relu", 4115, 1.0, 5, 6, 7, 5, 0.003),
    ("gd", "relu", 4270, 1.0, 10, 11, 12, 10, 0.003),
    ("gd", "relu", 4580, 1.0, 20, 4, 21, 21, 0.003),
    ("gd", "relu", 5510, 1.0, 50, 50, 51, 49, 0.003),
    ("sgd", "relu", 4022, 1.0, 2, 3, 4, 2, 0.002),
    ("sgd", "relu", 4115, 1.0, 5, 6, 7, 7, 0.002),
    ("sgd", "relu", 4270, 1.0, 10, 2, 14, 15, 0.002),
    ("sgd", "relu", 4580, 1.0, 20, 2, 3, 21, 0.002),
    ("sgd", "relu", 5510, 1.0, 50, 50, 51, 49, 0.002),
    ("sgd", "relu", 4022, 10.0, 2, 2, 4, 2, 0.015),
    ("sgd", "relu", 4115, 10.0, 5, 5, 6, 5, 0.015),
    ("sgd", "relu", 4270, 10.0, 10, 2, 11, 9, 0.015),
    ("sgd", "relu", 4580, 10.0, 20, 20, 21, 19, 0.015),
    ("sgd", "relu", 5510, 10.0, 50, 50, 51, 49, 0.005),
]
PAPER_COLUMNS = ["alg", "act", "size", "cov", "nc", "gap", "ratio", "heur", "cutoff"]


def paper_table1() -> pd.DataFrame:
    """The published Table 1 as a DataFrame (``row`` = 0-based row number, used as a run id)."""
    df = pd.DataFrame(PAPER_TABLE1, columns=PAPER_COLUMNS)
    df.insert(0, "row", range(len(df)))
    return df


def run_name(alg: str, act: str, k: int, cov: float) -> str:
    """Directory name of one configuration, e.g. ``sgd_relu_k10_cov1``."""
    return f"{alg}_{act}_k{int(k)}_cov{cov:g}"


def selected_runs(rows: Sequence[int] | str) -> list[dict[str, Any]]:
    """Configurations of the chosen Table 1 rows (``"all"`` or a list of row numbers)."""
    table = paper_table1()
    if rows == "all":
        rows = list(table["row"])
    bad = [r for r in rows if not 0 <= int(r) < len(table)]
    if bad:
        raise ConfigError(f"blobs.table1.rows has unknown row numbers {bad}; Table 1 has rows 0..{len(table) - 1}")
    out = []
    for r in rows:
        rec = table.iloc[int(r)]
        out.append({"row": int(r), "alg": rec.alg, "act": rec.act, "k": int(rec.nc), "cov": float(rec["cov"]),
                    "name": run_name(rec.alg, rec.act, int(rec.nc), float(rec["cov"]))})
    return out


# -- model and training -----------------------------------------------------------------------------
def layer_sizes(model_cfg: Mapping[str, Any], input_dim: int, k: int) -> list[int]:
    """Widths input-hidden...-k (paper: 100-30-30-k)."""
    return [int(input_dim), *[int(h) for h in model_cfg["hidden"]], int(k)]


def build_model(model_cfg: Mapping[str, Any], input_dim: int, k: int, act: str, seed: int) -> torch.nn.Sequential:
    """The float64 MLP at its initial point (config ``blobs.model``)."""
    return make_mlp(layer_sizes(model_cfg, input_dim, k), act, init=model_cfg["init"],
                    init_scale=float(model_cfg["init_scale"]), seed=int(model_cfg["seed_offset"]) + int(seed),
                    dtype=torch.float64)


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == y))


def _mean_ce(logits: np.ndarray, y: np.ndarray) -> float:
    z = logits - logits.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def train_numpy(net: NumpyMLP, x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                evaluate: Callable[[NumpyMLP], dict[str, float]] | None = None, desc: str = "train") -> TrainResult:
    """Plain GD/SGD on a :class:`NumpyMLP`, with exactly the semantics of :func:`nnspectra.training.train`.

    Same batch schedule (the shared :class:`BatchSampler` with the same seeded generator), same stop
    rule (the current batch's gradient norm <= ``grad_norm_tol`` ends training *before* the update),
    same history rows and the same :class:`DivergenceError` on a non-finite loss. Only plain SGD
    without momentum or weight decay is supported (the paper's update ``w <- w - lr g``).
    """
    if cfg.optimizer != "sgd" or cfg.momentum or cfg.weight_decay:
        raise ConfigError("the numpy trainer supports plain SGD/GD only (no momentum, weight decay or Adam)")
    gen = torch.Generator().manual_seed(int(cfg.seed))
    sampler = BatchSampler(len(x), cfg.batch_size, cfg.schedule, gen)
    result = TrainResult()

    def record(step: int, loss: float, gnorm: float) -> None:
        row = {"step": step, "batch_loss": loss, "batch_grad_norm": gnorm}
        if evaluate is not None:
            row.update(evaluate(net))
        result.history.append(row)

    if cfg.log_every:
        record(0, _mean_ce(net.logits(x), y), math.nan)
    bar = tqdm(total=cfg.max_iterations, desc=desc, mininterval=10.0, disable=not cfg.progress)
    step, loss, gnorm = 0, math.nan, math.nan
    for step in range(1, cfg.max_iterations + 1):
        idx = sampler.next()
        if idx is None:
            loss, grads = net.loss_and_grad(x, y)
        else:
            ii = idx.numpy()
            loss, grads = net.loss_and_grad(x[ii], y[ii])
        if not math.isfinite(loss):
            bar.close()
            raise DivergenceError(f"training diverged at step {step}: loss is {loss} (lr={cfg.lr}, "
                                  f"batch={sampler.batch_size}); lower blobs.train.lr in the config")
        gnorm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if cfg.grad_norm_tol is not None and gnorm <= cfg.grad_norm_tol:
            result.converged = True
            break
        for p, g in zip(net.params, grads):
            p -= cfg.lr * g
        if cfg.log_every and step % cfg.log_every == 0:
            record(step, loss, gnorm)
            bar.update(cfg.log_every)
    bar.close()
    result.iterations = step - 1 if result.converged else step
    result.final_grad_norm = gnorm
    if not result.history or result.history[-1]["step"] != step:
        record(step, loss, gnorm)
    log.info("%s stopped after %d steps (converged=%s, grad norm %.3g, batch loss %.4g)",
             desc, step, result.converged, gnorm, loss)
    return result


def train_config(train_cfg: Mapping[str, Any], alg: str, seed: int, progress: bool = True) -> TrainConfig:
    """Shared :class:`TrainConfig` for ``alg`` in {gd, sgd} from config ``blobs.train``."""
    if alg not in ("gd", "sgd"):
        raise ConfigError(f"blobs algorithm '{alg}' is not one of ['gd', 'sgd']")
    return TrainConfig(lr=float(train_cfg["lr"]), batch_size=None if alg == "gd" else int(train_cfg["sgd_batch_size"]),
                       schedule=str(train_cfg["schedule"]), max_iterations=int(train_cfg["max_iterations"]),
                       grad_norm_tol=train_cfg["grad_norm_tol"], log_every=int(train_cfg["log_every"]),
                       seed=int(seed), progress=progress)


def train_run(data: Mapping[str, np.ndarray], model_cfg: Mapping[str, Any], train_cfg: Mapping[str, Any],
              alg: str, act: str, seed: int, progress: bool = True
              ) -> tuple[torch.nn.Sequential, torch.nn.Sequential, pd.DataFrame, dict[str, Any]]:
    """Train one network on one blob data set; returns (initial model, final model, history, summary).

    History rows (every ``log_every`` steps): batch loss and gradient norm, full train/test loss and
    accuracy. The models are float64 :func:`make_mlp` networks.
    """
    x, y = np.asarray(data["x_train"], np.float64), np.asarray(data["y_train"], np.int64)
    xt, yt = np.asarray(data["x_test"], np.float64), np.asarray(data["y_test"], np.int64)
    k = int(max(y.max(), yt.max()) + 1) if "centers" not in data else int(len(data["centers"]))
    init = build_model(model_cfg, x.shape[1], k, act, seed)
    net = NumpyMLP.from_torch(init, act)
    cfg = train_config(train_cfg, alg, seed, progress)

    def evaluate(m: NumpyMLP) -> dict[str, float]:
        lo, lt = m.logits(x), m.logits(xt)
        return {"train_loss": _mean_ce(lo, y), "train_acc": _accuracy(lo, y),
                "test_loss": _mean_ce(lt, yt), "test_acc": _accuracy(lt, yt)}

    result = train_numpy(net, x, y, cfg, evaluate=evaluate, desc=f"{alg}/{act}/k{k}/seed{seed}")
    final = net.to_torch(build_model(model_cfg, x.shape[1], k, act, seed))
    history = pd.DataFrame(result.history)
    last = result.history[-1]
    summary = {"alg": alg, "act": act, "k": k, "seed": int(seed), "iterations": result.iterations,
               "converged": result.converged, "final_grad_norm": result.final_grad_norm,
               "n_params": mlp_parameter_count(layer_sizes(model_cfg, x.shape[1], k)),
               **{key: last[key] for key in ("train_loss", "train_acc", "test_loss", "test_acc")}}
    return init, final, history, summary


# -- spectra ----------------------------------------------------------------------------------------
def spectrum_of_model(model: torch.nn.Module, data: Mapping[str, np.ndarray], decompose: bool = False
                      ) -> dict[str, np.ndarray]:
    """Eigenvalues (ascending, float64) of the exact Hessian of the mean training loss (eq. 1).

    With ``decompose`` also those of its Gauss-Newton part G and the residual R = H - G (eqs. 4-5).
    Dense matrices and full LAPACK eigendecomposition from :mod:`nnspectra.curvature`.
    """
    from nnspectra.curvature import eigvalsh_dense, hessian, hessian_decomposition

    x = torch.as_tensor(np.asarray(data["x_train"]), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(data["y_train"]), dtype=torch.long)
    model = model.double()
    loss = torch.nn.functional.cross_entropy
    out: dict[str, np.ndarray] = {}
    if decompose:
        mats = dict(zip(("H", "G", "R"), hessian_decomposition(model, loss, x, y, dtype=torch.float64)))
    else:
        mats = {"H": hessian(model, loss, x, y, dtype=torch.float64)}
    for name, mat in mats.items():
        out[f"eig_{name}"] = eigvalsh_dense(mat)
    return out


# -- aggregation ------------------------------------------------------------------------------------
def collect_counts(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Long table, one row per (run, seed): run identity, counts and cutoffs per rule, lambda_max."""
    rows = []
    for rec in records:
        row = {key: rec[key] for key in ("row", "alg", "act", "k", "cov", "seed")}
        row.update({"lambda_max": rec["counts"]["lambda_max"], "lambda_min": rec["counts"]["lambda_min"],
                    "iterations": rec["train"]["iterations"], "converged": rec["train"]["converged"],
                    "train_acc": rec["train"]["train_acc"], "size": rec["counts"]["n_params"]})
        for rule, c in rec["counts"]["rules"].items():
            row[rule] = c["count"]
            row[f"{rule}_cutoff"] = c["cutoff"]
        rows.append(row)
    return pd.DataFrame(rows)


def _median_spread(values: pd.Series, fmt: str = "{:g}") -> str:
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return fmt.format(v[0])
    return f"{fmt.format(np.median(v))} [{fmt.format(v.min())}-{fmt.format(v.max())}]"


def table1(long: pd.DataFrame) -> pd.DataFrame:
    """Table 1 replica: per configuration our counts (median [min-max] over seeds) beside the paper's."""
    paper = paper_table1().set_index("row")
    out = []
    for row, grp in long.groupby("row", sort=True):
        p = paper.loc[row]
        rec: dict[str, Any] = {"alg": p.alg.upper(), "act": "ReLU" if p.act == "relu" else "tanh",
                               "size": int(grp["size"].iloc[0]), "paper_size": int(p["size"]), "cov": p["cov"],
                               "nc": int(p.nc), "seeds": len(grp)}
        for rule in RULES:
            rec[rule] = _median_spread(grp[rule])
        rec["elbow_cutoff"] = _median_spread(grp["elbow_cutoff"], "{:.2g}")
        rec["edge_cutoff"] = _median_spread(grp["edge_cutoff"], "{:.2g}")
        rec["lambda_max"] = _median_spread(grp["lambda_max"], "{:.2g}")
        rec["converged"] = f"{int(grp['converged'].sum())}/{len(grp)}"
        rec["iterations"] = _median_spread(grp["iterations"], "{:.0f}")
        rec["paper_gap"], rec["paper_ratio"] = int(p.gap), int(p.ratio)
        rec["paper_heur"] = "N/A" if pd.isna(p.heur) else str(int(p.heur))
        rec["paper_cutoff"] = "N/A" if pd.isna(p.cutoff) else f"{p.cutoff:g}"
        out.append(rec)
    return pd.DataFrame(out)


def _per_seed(long: pd.DataFrame, mask: pd.Series, fn: Callable[[pd.DataFrame], float]) -> tuple[list[float], list[int]]:
    seeds = sorted(long["seed"].unique())
    values = []
    for s in seeds:
        sub = long[mask & (long["seed"] == s)]
        values.append(float(fn(sub)) if len(sub) else math.nan)
    return values, [int(s) for s in seeds]


def blobs_metrics(long: pd.DataFrame, fig1: Mapping[int, Mapping[str, np.ndarray]]) -> dict[str, Any]:
    """Per-seed metrics for SPEC §4 claims 1-7 (``results/metrics/blobs.json``).

    ``fig1`` maps seed -> {"init": eigenvalues, "final": eigenvalues} of the Fig. 1 configuration.
    A metric whose configurations were not run is omitted (the scorecard marks it not_run).
    """
    metrics: dict[str, Any] = {}

    def put(name: str, mask: pd.Series, fn: Callable[[pd.DataFrame], float], unit: str, desc: str,
            need: int | None = None) -> None:
        if not mask.any():
            return
        if need is not None and long[mask].groupby("seed").size().min() < need:
            desc += f" (only {long[mask].groupby('seed').size().min()} of {need} configurations run)"
        values, seeds = _per_seed(long, mask, fn)
        metrics[name] = {"values": values, "seeds": seeds, "unit": unit, "description": desc}

    def within(col: str, tol: int) -> Callable[[pd.DataFrame], float]:
        return lambda d: float(((d[col] - d["k"]).abs() <= tol).sum())

    relu, cov1 = long["act"] == "relu", long["cov"] == 1.0
    put("heur_hits_relu_cov1", relu & cov1, within("elbow", 1), "configurations",
        "claim 1: ReLU cov 1 configurations (GD and SGD, k in 2..50) whose elbow count is within ±1 of k", 10)
    put("gap_frac_relu", relu, lambda d: float(((d["gap"] - d["k"]).abs() <= 1).mean()), "fraction",
        "claim 2: fraction of ReLU configurations whose gap count is within ±1 of k", 15)
    put("ratio_frac_relu", relu, lambda d: float(np.maximum((d["ratio"] - d["k"]).abs() <= 2,
                                                            (d["ratio_shifted"] - d["k"]).abs() <= 2).mean()),
        "fraction", "claim 2: fraction of ReLU configurations whose ratio count (either convention) is within ±2 of k", 15)
    put("gap_ratio_frac_relu", relu, lambda d: float(min(((d["gap"] - d["k"]).abs() <= 1).mean(), np.maximum(
        (d["ratio"] - d["k"]).abs() <= 2, (d["ratio_shifted"] - d["k"]).abs() <= 2).mean())), "fraction",
        "claim 2: min(gap fraction within ±1, ratio fraction within ±2) over ReLU configurations", 15)
    put("gap_hits_tanh_k5plus", (long["act"] == "tanh") & (long["k"] >= 5), within("gap", 1), "configurations",
        "claim 3: GD tanh cov 1 configurations with k >= 5 whose gap count is within ±1 of k (paper: 0)", 3)
    put("heur_hits_cov10", relu & (long["cov"] == 10.0), within("elbow", 1), "configurations",
        "claim 4: SGD ReLU cov 10 configurations whose elbow count is within ±1 of k", 5)
    put("elbow_cutoff_cov10_median", relu & (long["cov"] == 10.0), lambda d: float(np.median(d["elbow_cutoff"])),
        "eigenvalue", "claim 4: median elbow cutoff over SGD ReLU cov 10 configurations (paper 0.015; 0.005 at k=50)")
    sgd1 = (long["alg"] == "sgd") & relu & cov1
    put("sgd_top_eig_in_range_frac", sgd1, lambda d: float(d["lambda_max"].between(0.5e-2, 3e-2).mean()), "fraction",
        "claim 5: fraction of SGD ReLU cov 1 configurations with lambda_max in [0.005, 0.03]", 5)
    put("sgd_top_eig_min", sgd1, lambda d: float(d["lambda_max"].min()), "eigenvalue",
        "claim 5: smallest lambda_max over SGD ReLU cov 1 configurations (paper ≈0.010)")
    put("sgd_top_eig_max", sgd1, lambda d: float(d["lambda_max"].max()), "eigenvalue",
        "claim 5: largest lambda_max over SGD ReLU cov 1 configurations (paper ≈0.017)")
    if fig1:
        seeds = sorted(fig1)
        init = [np.asarray(fig1[s]["init"]) for s in seeds]
        final = [np.asarray(fig1[s]["final"]) for s in seeds]
        rows = {
            "fig1_init_small_frac": ([float(np.mean(np.abs(e) < 0.005)) for e in init], "fraction",
                                     "claim 6: fraction of initial-Hessian eigenvalues with |lambda| < 0.005"),
            "fig1_final_small_frac": ([float(np.mean(np.abs(f) < 1e-2 * e.max())) for e, f in zip(init, final)],
                                      "fraction", "claim 6: fraction of final eigenvalues with |lambda| < 1e-2 lambda_max(init)"),
            "fig1_final_outliers": ([float(np.sum(f > 1e-2 * e.max())) for e, f in zip(init, final)], "eigenvalues",
                                    "claim 6: number of final eigenvalues above 1e-2 lambda_max(init) (paper: a few, <= k+5)"),
            "fig1_init_min_over_max": ([float(e.min() / e.max()) for e in init], "ratio",
                                       "claim 7: lambda_min / lambda_max of the initial Hessian (paper ≈ -0.5)"),
            "fig1_final_min_over_max": ([float(f.min() / f.max()) for f in final], "ratio",
                                        "claim 7: lambda_min / lambda_max of the final Hessian (expected in [-1e-2, 0])"),
        }
        for name, (values, unit, desc) in rows.items():
            metrics[name] = {"values": values, "seeds": [int(s) for s in seeds], "unit": unit, "description": desc}
    return metrics


def attach_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Add the Table 1 row number to each counts record (identified by alg, act, k, cov)."""
    paper = paper_table1()
    index = {run_name(r.alg, r.act, int(r.nc), float(r["cov"])): int(r.row) for _, r in paper.iterrows()}
    out = []
    for rec in records:
        name = run_name(rec["alg"], rec["act"], int(rec["k"]), float(rec["cov"]))
        if name not in index:
            raise ConfigError(f"run {name} is not a configuration of the paper's Table 1")
        out.append({**rec, "row": index[name]})
    return out
