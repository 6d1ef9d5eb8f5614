"""Sagun et al. (2018) synthetic experiments: Gaussian blobs, 100-30-30-k MLP, exact Hessian spectra.

Stages (one workflow rule each): data (:func:`nnspectra.data.blobs.blob_dataset`) -> :func:`train_run`
-> spectra (:func:`nnspectra.curvature.spectrum.dense_spectra`) -> counts
(:func:`nnspectra.spectra.outliers.spectrum_counts`) -> aggregation (:func:`table1`; claims 1-7 in
:mod:`nnspectra.experiments.blobs_metrics`). The paper's Table 1
(Appendix A) is kept here as data (:data:`PAPER_TABLE1`) so the table can print our counts beside it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nnspectra.errors import ConfigError
from nnspectra.experiments.blobs_runs import PAPER_COLUMNS, PAPER_TABLE1, run_name
from nnspectra.models.sizes import mlp_parameter_count
from nnspectra.spectra.outliers import RULES

if TYPE_CHECKING:  # torch is imported where a model is built: the aggregation jobs skip its ~2 s import
    import torch

    from nnspectra.training import TrainConfig

log = logging.getLogger(__name__)

# -- model and training -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BlobModel:
    """Config ``blobs.model``: hidden widths (paper 30, 30), init N(0, init_scale^2), init seed offset."""

    hidden: tuple[int, ...] = (30, 30)
    init: str = "normal"
    init_scale: float = 0.1
    seed_offset: int = 1000


@dataclass(frozen=True)
class BlobTrain:
    """Config ``blobs.train``: the official code's GD / cyclic SGD, stopped at a gradient norm."""

    lr: float = 0.1
    sgd_batch_size: int = 10
    schedule: str = "cyclic"
    max_iterations: int = 1_000_000
    grad_norm_tol: float | None = 1e-4
    log_every: int = 100
    divergence_factor: float | None = 10.0
    divergence_steps: int = 20


def layer_sizes(model: BlobModel, input_dim: int, k: int) -> list[int]:
    """Widths input-hidden...-k (paper: 100-30-30-k)."""
    return [int(input_dim), *[int(h) for h in model.hidden], int(k)]


def build_model(model: BlobModel, input_dim: int, k: int, act: str, seed: int) -> torch.nn.Sequential:
    """The float64 MLP at its initial point (config ``blobs.model``)."""
    import torch

    from nnspectra.models.mlp import make_mlp

    return make_mlp(layer_sizes(model, input_dim, k), act, init=model.init,
                    init_scale=float(model.init_scale), seed=int(model.seed_offset) + int(seed),
                    dtype=torch.float64)


def train_config(settings: BlobTrain, alg: str, seed: int, progress: bool = True) -> TrainConfig:
    """Shared :class:`TrainConfig` for ``alg`` in {gd, sgd} from config ``blobs.train``."""
    from nnspectra.training import TrainConfig

    if alg not in ("gd", "sgd"):
        raise ConfigError(f"blobs algorithm '{alg}' is not one of ['gd', 'sgd']")
    return TrainConfig(lr=float(settings.lr), batch_size=None if alg == "gd" else int(settings.sgd_batch_size),
                       schedule=str(settings.schedule), max_iterations=int(settings.max_iterations),
                       grad_norm_tol=settings.grad_norm_tol, log_every=int(settings.log_every),
                       seed=int(seed), progress=progress, divergence_factor=settings.divergence_factor,
                       divergence_steps=int(settings.divergence_steps), config_key="blobs.train")


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


def paper_table1() -> pd.DataFrame:
    """The published Table 1 as a DataFrame (``row`` = 0-based row number, used as a run id)."""
    df = pd.DataFrame(PAPER_TABLE1, columns=PAPER_COLUMNS)
    df.insert(0, "row", range(len(df)))
    return df


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
