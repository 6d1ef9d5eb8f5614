"""Sagun et al. (2018) §4 on real data: MNIST width sweep, LB vs SB convnet, CIFAR-10 LB -> SB.

Stages (each one pipeline step; SPEC §1.5-1.10):

* :func:`train_mnist_mlp` -- 784-n-10 ReLU MLP on a class-balanced 1K MNIST subset, full-batch GD with
  the same step size and iteration count for every width (seed Figs. 4-6).
* :func:`train_lbsb_convnet` -- the small convnet on the same subset with SGD at batch 512 (LB) or 10
  (SB), same lr and iteration count (seed Figs. 7-8).
* :func:`hessian_spectrum` -- eigenvalues of the exact Hessian of the mean training loss at the end
  point: every eigenvalue (dense, float64) when it fits, else the Lanczos edges (top and bottom).
* :func:`train_cifar_part` -- CIFAR-10 bare AlexNet, Part I (large batch) or Part II (small batch,
  continuing from Part I at the same constant lr), with full train/test loss and accuracy recorded
  every ``record_every`` steps (seed Fig. 9).
* :func:`interpolate_cifar` -- loss/accuracy on the line between the two end points (seed Fig. 10).
* :func:`realdata_metrics` -- per-seed values of SPEC §4 claims 8-17 from the stage outputs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from nnspectra.curvature import eigvalsh_dense, hessian
from nnspectra.curvature.memory import check_dense_fits
from nnspectra.errors import ConfigError, MemoryBudgetError
from nnspectra.data.vision import (
    CIFAR10_MEAN, CIFAR10_STD, MNIST_MEAN, MNIST_STD, balanced_subset, load_cifar10, load_mnist, normalize,
    resize,
)
from nnspectra.interpolation import barrier_height, line_scan, max_monotonicity_violation
from nnspectra.models.convnets import make_bare_alexnet, make_small_convnet, parameter_count
from nnspectra.models.mlp import make_mlp
from nnspectra.training import TrainConfig, train

log = logging.getLogger(__name__)

SPECTRUM_METHODS = ("auto", "dense", "lanczos")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean softmax cross-entropy (the paper's loss, SPEC §1.0)."""
    return nn.functional.cross_entropy(logits, targets)


# --------------------------------------------------------------------------------------------- data
def mnist_subset(root: str | Path, download: bool, per_class: int, subset_seed: int, image_size: int = 28,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-balanced MNIST training subset (10 * per_class, 1, s, s), normalised with MNIST mean/std.

    ``image_size`` < 28 downsamples (antialiased) for the smoke preset only.
    """
    images, labels = load_mnist(root, train=True, download=download)
    idx = torch.from_numpy(balanced_subset(labels, per_class, subset_seed))
    x = normalize(resize(images[idx], image_size), MNIST_MEAN, MNIST_STD)
    return x.contiguous(), labels[idx].clone()


def cifar_sets(root: str | Path, download: bool, verify_archive: bool, n_train: int | None, n_test: int | None,
               subset_seed: int) -> dict[str, torch.Tensor]:
    """CIFAR-10 train/test tensors, per-channel normalised; optional class-balanced subsets."""
    out: dict[str, torch.Tensor] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load_cifar10(root, train=split == "train", download=download, verify_archive=verify_archive)
        if n is not None and n < len(labels):
            if n % 10:
                raise ConfigError(f"CIFAR-10 subset size {n} must be a multiple of 10 (class-balanced)")
            idx = torch.from_numpy(balanced_subset(labels, n // 10, subset_seed + (split == "test")))
            images, labels = images[idx], labels[idx]
        out[f"x_{split}"] = normalize(images, CIFAR10_MEAN, CIFAR10_STD).contiguous()
        out[f"y_{split}"] = labels.clone()
    return out


@torch.no_grad()
def evaluate_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y), in batches of ``batch``."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch):
        xb, yb = x[start:start + batch], y[start:start + batch]
        logits = model(xb)
        total_loss += float(nn.functional.cross_entropy(logits, yb, reduction="sum"))
        correct += int((logits.argmax(1) == yb).sum())
    return {"loss": total_loss / len(y), "acc": correct / len(y)}


# ------------------------------------------------------------------------------------------- models
def build_mlp(input_dim: int, width: int, model_cfg: Mapping[str, Any], seed: int) -> nn.Sequential:
    """784-n-10 MLP (single hidden layer; P = 795 n + 10 at 28x28), SPEC §1.5."""
    return make_mlp([input_dim, int(width), 10], activation=model_cfg["activation"], init=model_cfg["init"],
                    init_scale=float(model_cfg["init_scale"]), seed=seed)


def build_convnet(image_size: int, model_cfg: Mapping[str, Any], seed: int) -> nn.Sequential:
    """The 2-conv + 2-FC MNIST convnet of SPEC §1.7."""
    return make_small_convnet(1, image_size, tuple(model_cfg["channels"]), int(model_cfg["kernel"]),
                              int(model_cfg["hidden"]), 10, seed=seed)


def build_alexnet(model_cfg: Mapping[str, Any], seed: int) -> nn.Sequential:
    """The bare AlexNet of SPEC §1.9."""
    return make_bare_alexnet(3, 32, tuple(model_cfg["channels"]), tuple(model_cfg["hidden"]), 10, seed=seed)


# ----------------------------------------------------------------------------------------- training
def _history_frame(history: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame(history)


def train_mnist_mlp(x: torch.Tensor, y: torch.Tensor, width: int, model_cfg: Mapping[str, Any],
                    train_cfg: Mapping[str, Any], seed: int, device: torch.device | str = "cpu",
                    ) -> tuple[nn.Module, pd.DataFrame]:
    """Train the 784-n-10 MLP with full-batch GD for a fixed number of iterations (seed §3.2)."""
    x = x.reshape(len(x), -1).to(device)
    y = y.to(device)
    model = build_mlp(x.shape[1], width, model_cfg, seed).to(device)
    cfg = TrainConfig(lr=float(train_cfg["lr"]), batch_size=train_cfg.get("batch_size"),
                      max_iterations=int(train_cfg["iterations"]), grad_norm_tol=train_cfg.get("grad_norm_tol"),
                      log_every=int(train_cfg["log_every"]), seed=seed, progress=True)
    result = train(model, cross_entropy, x, y, cfg, evaluate=lambda m: _prefixed(evaluate_classifier(m, x, y), "train"),
                   desc=f"mnist n={width}")
    return model.cpu(), _history_frame(result.history)


def train_lbsb_convnet(x: torch.Tensor, y: torch.Tensor, batch_size: int, model_cfg: Mapping[str, Any],
                       train_cfg: Mapping[str, Any], seed: int, device: torch.device | str = "cpu",
                       ) -> tuple[nn.Module, pd.DataFrame]:
    """SGD on the convnet with one batch size; lr, iterations and init are shared by LB and SB (SPEC §1.7)."""
    x, y = x.to(device), y.to(device)
    model = build_convnet(x.shape[-1], model_cfg, seed).to(device)
    cfg = TrainConfig(lr=float(train_cfg["lr"]), batch_size=int(batch_size), schedule=train_cfg["schedule"],
                      max_iterations=int(train_cfg["iterations"]), grad_norm_tol=None,
                      log_every=int(train_cfg["log_every"]), seed=seed, progress=True)
    result = train(model, cross_entropy, x, y, cfg, evaluate=lambda m: _prefixed(evaluate_classifier(m, x, y), "train"),
                   desc=f"convnet bs={batch_size}")
    return model.cpu(), _history_frame(result.history)


def _prefixed(metrics: Mapping[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in metrics.items()}


def train_cifar_part(data: Mapping[str, torch.Tensor], model: nn.Module, batch_size: int, steps: int,
                     train_cfg: Mapping[str, Any], seed: int, step_offset: int = 0,
                     checkpoint_path: str | Path | None = None, device: torch.device | str = "cpu",
                     ) -> pd.DataFrame:
    """One part of the two-phase CIFAR-10 run: plain SGD (no momentum) at a constant lr.

    Every ``record_every`` steps the full train and test loss/accuracy are recorded (SPEC §1.9).
    ``step_offset`` numbers Part II's steps after Part I's. The model is trained in place.
    """
    x_train, y_train = data["x_train"].to(device), data["y_train"].to(device)
    x_test, y_test = data["x_test"].to(device), data["y_test"].to(device)
    model.to(device)
    eval_batch = int(train_cfg["eval_batch"])

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {**_prefixed(evaluate_classifier(m, x_train, y_train, eval_batch), "train"),
                **_prefixed(evaluate_classifier(m, x_test, y_test, eval_batch), "test")}

    cfg = TrainConfig(lr=float(train_cfg["lr"]), batch_size=int(batch_size), schedule=train_cfg["schedule"],
                      max_iterations=int(steps), grad_norm_tol=None, log_every=int(train_cfg["record_every"]),
                      seed=seed, checkpoint_every=train_cfg.get("checkpoint_every"),
                      checkpoint_path=str(checkpoint_path) if checkpoint_path else None, progress=True)
    result = train(model, cross_entropy, x_train, y_train, cfg, evaluate=evaluate, desc=f"cifar bs={batch_size}")
    frame = _history_frame(result.history)
    frame["step"] = frame["step"] + step_offset
    model.cpu()
    return frame


def interpolate_cifar(data: Mapping[str, torch.Tensor], model_a: nn.Module, model_b: nn.Module,
                      alphas: Sequence[float], eval_batch: int, device: torch.device | str = "cpu") -> pd.DataFrame:
    """Train/test loss and accuracy along theta_I + alpha (theta_II - theta_I) (SPEC §1.10)."""
    x_train, y_train = data["x_train"].to(device), data["y_train"].to(device)
    x_test, y_test = data["x_test"].to(device), data["y_test"].to(device)

    def evaluate(m: nn.Module) -> dict[str, float]:
        return {**_prefixed(evaluate_classifier(m, x_train, y_train, eval_batch), "train"),
                **_prefixed(evaluate_classifier(m, x_test, y_test, eval_batch), "test")}

    rows = line_scan(model_a.to(device), model_b.to(device), alphas, evaluate)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------- curvature
def negative_tolerance(eigs: np.ndarray, n_params: int, dtype: torch.dtype = torch.float64) -> float:
    """Round-off level below which an eigenvalue is not counted as negative: P * eps * |lambda|_max."""
    return float(n_params * torch.finfo(dtype).eps * np.max(np.abs(eigs)))


def _lanczos_edges(model: nn.Module, x: torch.Tensor, y: torch.Tensor, top_k: int, bottom_k: int,
                   dtype: torch.dtype, tol: float, seed: int, maxiter: int = 1000, device: torch.device | str = "cpu",
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Top-k and bottom-k Hessian eigenvalues by Lanczos (ARPACK) over exact Hessian-vector products.

    Uses :class:`nnspectra.curvature.HessianOperator`; when ARPACK runs out of restarts the Ritz values
    that did converge are kept (and the log says how many).
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator

    from nnspectra.curvature import HessianOperator, bottom_eigenpairs, top_eigenpairs

    hop = HessianOperator(model, cross_entropy, x, y, dtype=dtype, device=device)
    p = hop.shape[0]
    # ARPACK always iterates in float64 (its single-precision mode converges poorly); float32 only sets
    # the arithmetic of the Hessian-vector products
    op = LinearOperator((p, p), matvec=lambda v: np.asarray(hop.matvec(np.asarray(v).ravel()), dtype=np.float64),
                        dtype=np.float64)

    def edge(k: int, solver, name: str) -> np.ndarray:  # type: ignore[no-untyped-def]
        k = min(k, p - 2)
        ncv = min(p - 1, max(2 * k + 1, 3 * k))
        try:
            return solver(op, k, tol=tol, seed=seed, return_vectors=False, ncv=ncv, maxiter=maxiter)[0]
        except ArpackNoConvergence as err:
            log.warning("Lanczos (%s) converged for %d of %d eigenvalues after %d restarts",
                        name, len(err.eigenvalues), k, maxiter)
            return np.asarray(err.eigenvalues).real

    top = edge(top_k, top_eigenpairs, "top")
    bottom = edge(bottom_k, bottom_eigenpairs, "bottom")
    return np.sort(top)[::-1], np.sort(bottom), int(hop.n_matvec)


def hessian_spectrum(model: nn.Module, x: torch.Tensor, y: torch.Tensor, curv_cfg: Mapping[str, Any],
                     memory_budget_gb: float | None = None, seed: int = 0, device: torch.device | str = "cpu",
                     ) -> dict[str, Any]:
    """Eigenvalues of the exact Hessian of the mean training loss at ``model``'s parameters.

    ``curv_cfg['method']``: ``dense`` (every eigenvalue, ``eigvalsh`` of the float64 Hessian built
    from Hessian-vector products, Sagun et al. §2.1), ``lanczos`` (the ``top_k`` largest and
    ``bottom_k`` smallest eigenvalues only) or ``auto`` (dense when the matrix and the eigensolver
    workspace fit the memory budget, else Lanczos). Returns arrays ``top`` (descending), ``bottom``
    (ascending), ``eigenvalues`` (all, ascending; empty for Lanczos) and the counts of negative
    eigenvalues (exact for dense; for Lanczos a lower bound unless the bottom window reaches 0).
    """
    method = curv_cfg["method"]
    if method not in SPECTRUM_METHODS:
        raise ConfigError(f"curvature method '{method}' is not one of {SPECTRUM_METHODS}")
    dtype = DTYPES[curv_cfg["dtype"]]
    model = model.to(device)
    x, y = x.to(device), y.to(device)
    p = parameter_count(model)
    top_k, bottom_k = int(curv_cfg["top_k"]), int(curv_cfg["bottom_k"])
    if method == "auto":
        try:
            check_dense_fits(p, p, dtype, memory_budget_gb, device=device, copies=2.0)
            method = "dense" if p <= int(curv_cfg["max_dense_params"]) else "lanczos"
        except MemoryBudgetError as err:
            log.info("dense Hessian does not fit (%s); using Lanczos edges", err)
            method = "lanczos"
    if method == "dense":
        check_dense_fits(p, p, dtype, memory_budget_gb, device=device, copies=2.0)
        log.info("building the dense %d x %d %s Hessian (%.1f GiB) on %s", p, p, str(dtype).replace("torch.", ""),
                 p * p * torch.finfo(dtype).bits / 8 / 2**30, device)
        h = hessian(model, cross_entropy, x, y, dtype=dtype, chunk=int(curv_cfg["chunk"]), budget_gb=memory_budget_gb,
                    device=device)
        # LAPACK reports no progress; say what is running (P = 23,860 took ~15 min on one CPU core)
        log.info("eigvalsh of the %d x %d Hessian (~%.1e flop; no progress reports until it returns)", p, p, 4.0 * p**3)
        eigs = np.asarray(eigvalsh_dense(h), dtype=np.float64)
        log.info("eigendecomposition done: lambda_max %.4g, lambda_min %.4g", eigs[-1], eigs[0])
        del h
        top, bottom, hvps = eigs[::-1][:top_k].copy(), eigs[:bottom_k].copy(), p
        n_neg_tol = negative_tolerance(eigs, p, dtype)
        n_negative, exact = int(np.sum(eigs < -n_neg_tol)), True
    else:
        top, bottom, hvps = _lanczos_edges(model, x, y, top_k, bottom_k, dtype, float(curv_cfg["lanczos_tol"]), seed,
                                              int(curv_cfg["lanczos_maxiter"]), device)
        eigs = np.empty(0)
        n_neg_tol = negative_tolerance(np.concatenate([top, bottom]), p, dtype)
        n_negative = int(np.sum(bottom < -n_neg_tol))
        exact = bool(n_negative < bottom.size)
    model.cpu()
    return {"eigenvalues": eigs, "top": top, "bottom": bottom, "n_params": p, "method": method,
            "n_negative": n_negative, "negative_count_exact": exact, "negative_tolerance": n_neg_tol,
            "hvps": hvps, "dtype": str(dtype).replace("torch.", "")}


def spectrum_arrays(spec: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The spectrum record as .npz-ready arrays."""
    return {k: np.asarray(v) for k, v in spec.items()}


# ------------------------------------------------------------------------------------------ metrics
def _scalar(arrays: Mapping[str, np.ndarray], key: str) -> Any:
    return np.asarray(arrays[key]).item()


def negative_fraction(arrays: Mapping[str, np.ndarray]) -> float:
    """Fraction of eigenvalues below -tol (NaN when a Lanczos window did not reach the zero crossing)."""
    if not bool(_scalar(arrays, "negative_count_exact")):
        return math.nan
    return _scalar(arrays, "n_negative") / _scalar(arrays, "n_params")


def mnist_width_metrics(spectra: Mapping[int, Mapping[str, np.ndarray]], compare_top: int = 20,
                        outlier_tau: float = 10.0, window: int = 120) -> dict[str, float]:
    """Claims 8-10 for one seed from the per-width spectra {width: arrays}."""
    widths = sorted(spectra)
    tops = {w: np.asarray(spectra[w]["top"], dtype=np.float64) for w in widths}
    k = min(compare_top, *(t.size for t in tops.values()))
    ref = tops[widths[0]][:k]
    rel = max(float(np.max(np.abs(tops[w][:k] - ref) / np.abs(ref))) for w in widths)
    lmax = [float(tops[w][0]) for w in widths]
    fracs = [negative_fraction(spectra[w]) for w in widths]
    ratios = [float(np.abs(np.asarray(spectra[w]["bottom"])[0]) / tops[w][0]) for w in widths]
    counts = []
    for w in widths:
        lam = tops[w][:window]
        counts.append(int(np.sum(lam > outlier_tau * np.median(lam))))
    out = {"top20_max_rel_dev": rel, "lambda_max_min": min(lmax), "lambda_max_max": max(lmax),
           "neg_frac_mean_pct": 100 * float(np.mean(fracs)),
           "neg_frac_spread_pp": 100 * float(np.max(fracs) - np.min(fracs)) if len(fracs) > 1 else 0.0,
           "min_over_max_ratio": max(ratios), "outlier_count_change": abs(counts[-1] - counts[0])}
    for w, lm, fr, c in zip(widths, lmax, fracs, counts):
        out[f"lambda_max_n{w}"] = lm
        out[f"neg_frac_pct_n{w}"] = 100 * fr
        out[f"outliers_n{w}"] = c
    return out


def heuristic_count(top: np.ndarray, rule: str, window: int) -> tuple[int, float]:
    """Outliers above the heuristic threshold of seed Fig. 7 (count, cutoff), via spectra.outliers."""
    from nnspectra.spectra.outliers import count_outliers

    res = count_outliers(np.asarray(top), rule=rule, top=min(window, np.asarray(top).size))
    return int(res.count), float(res.cutoff)


def lbsb_metrics(lb: Mapping[str, np.ndarray], sb: Mapping[str, np.ndarray], rule: str, window: int,
                 ) -> dict[str, float]:
    """Claims 11-13 for one seed."""
    lmax_lb, lmax_sb = float(lb["top"][0]), float(sb["top"][0])
    c_lb, _ = heuristic_count(lb["top"], rule, window)
    c_sb, _ = heuristic_count(sb["top"], rule, window)
    neg_lb = abs(min(float(lb["bottom"][0]), 0.0))
    neg_sb = abs(min(float(sb["bottom"][0]), 0.0))
    return {"lambda_max_lb": lmax_lb, "lambda_max_sb": lmax_sb, "lambda_max_ratio_lb_sb": lmax_lb / lmax_sb,
            "count_lb": c_lb, "count_sb": c_sb, "count_diff": abs(c_lb - c_sb),
            "count_min": min(c_lb, c_sb), "count_max": max(c_lb, c_sb),
            "lambda_min_lb": float(lb["bottom"][0]), "lambda_min_sb": float(sb["bottom"][0]),
            "pos_neg_ratio_min": min(lmax_lb / neg_lb if neg_lb > 0 else math.inf,
                                     lmax_sb / neg_sb if neg_sb > 0 else math.inf)}


def _endpoint_monotone_violation(alphas: np.ndarray, values: np.ndarray) -> float:
    """Departure from monotonicity on [0, 1] in the direction set by the two end points."""
    v0 = values[int(np.argmin(np.abs(alphas)))]
    v1 = values[int(np.argmin(np.abs(alphas - 1)))]
    return max_monotonicity_violation(alphas, values, increasing=bool(v1 >= v0))


def cifar_metrics(part1: pd.DataFrame, part2: pd.DataFrame, interp: pd.DataFrame) -> dict[str, float]:
    """Claims 14-17 for one seed from the two histories and the line scan."""
    end1, start2 = part1.iloc[-1], part2.iloc[0]
    # the first Part II record after the switch (step 0 of Part II equals Part I's end point)
    after = part2[part2["step"] > end1["step"]].iloc[0] if (part2["step"] > end1["step"]).any() else start2
    a = interp["alpha"].to_numpy()
    train_loss = interp["train_loss"].to_numpy()
    i_m1, i_2 = int(np.argmin(np.abs(a + 1))), int(np.argmin(np.abs(a - 2)))
    return {
        "switch_train_loss_jump": float(after["train_loss"] - end1["train_loss"]),
        "switch_test_acc_dip_pp": 100 * float(end1["test_acc"] - after["test_acc"]),
        "final_test_acc_part1": float(end1["test_acc"]),
        "final_test_acc_part2": float(part2.iloc[-1]["test_acc"]),
        "test_acc_gain_pp": 100 * float(part2.iloc[-1]["test_acc"] - end1["test_acc"]),
        "barrier_train_loss": barrier_height(a, train_loss),
        "test_acc_monotone_violation_pp": 100 * _endpoint_monotone_violation(a, interp["test_acc"].to_numpy()),
        "test_loss_monotone_violation": _endpoint_monotone_violation(a, interp["test_loss"].to_numpy()),
        "train_loss_ratio_m1_over_2": float(train_loss[i_m1] / max(train_loss[i_2], 1e-12)),
    }


# ------------------------------------------------------------------ pipeline stages (one per rule)
def _data_root(cfg: Mapping[str, Any]) -> Path:
    from nnspectra.data.vision import resolve_data_dir

    return resolve_data_dir(cfg.get("data_dir"))


def _device(cfg: Mapping[str, Any]) -> torch.device:
    from nnspectra.runtime import resolve_device

    return resolve_device(cfg.get("device", "cpu"))


def _mnist_data(cfg: Mapping[str, Any], section: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = cfg[f"realdata.{section}.data"]
    return mnist_subset(_data_root(cfg), bool(cfg["download"]), int(data["per_class"]), int(data["subset_seed"]),
                        int(data["image_size"]))


def _save_model(model: nn.Module, path: str | Path, **meta: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state_dict": model.state_dict(), **meta}, tmp)
    tmp.replace(path)


def _load_into(model: nn.Module, path: str | Path) -> nn.Module:
    from nnspectra.data.safe_pickle import load_torch_file

    model.load_state_dict(load_torch_file(path)["state_dict"])  # weights_only=True: no code from the file
    return model


def stage_mnist_train(cfg: Mapping[str, Any], width: int, seed: int, out_model: str, out_history: str) -> None:
    """Train the 784-n-10 MLP of seed Figs. 4-6 and save its end point and history."""
    from nnspectra.io import save_table

    x, y = _mnist_data(cfg, "mnist")
    model, history = train_mnist_mlp(x, y, width, cfg["realdata.mnist.model"], cfg["realdata.mnist.train"], seed,
                                     _device(cfg))
    _save_model(model, out_model, width=width, seed=seed)
    save_table(history, out_history)


def stage_mnist_spectrum(cfg: Mapping[str, Any], width: int, seed: int, model_path: str, out: str) -> dict[str, Any]:
    """Hessian eigenvalues at the end of MNIST training (dense or Lanczos edges)."""
    from nnspectra.io import save_arrays

    x, y = _mnist_data(cfg, "mnist")
    x = x.reshape(len(x), -1)
    model = _load_into(build_mlp(x.shape[1], width, cfg["realdata.mnist.model"], seed), model_path)
    spec = hessian_spectrum(model, x, y, cfg["realdata.mnist.curvature"], cfg.get("memory_budget_gb"), seed,
                            _device(cfg))
    save_arrays(out, width=width, **spectrum_arrays(spec))
    return spec


def stage_lbsb_train(cfg: Mapping[str, Any], regime: str, seed: int, out_model: str, out_history: str) -> None:
    """Train the convnet with the LB or SB batch size (seed Figs. 7-8)."""
    from nnspectra.io import save_table

    train_cfg = cfg["realdata.lbsb.train"]
    batch = int(train_cfg[f"batch_{regime}"])
    x, y = _mnist_data(cfg, "lbsb")
    model, history = train_lbsb_convnet(x, y, batch, cfg["realdata.lbsb.model"], train_cfg, seed, _device(cfg))
    _save_model(model, out_model, regime=regime, batch_size=batch, seed=seed)
    save_table(history, out_history)


def stage_lbsb_spectrum(cfg: Mapping[str, Any], regime: str, seed: int, model_path: str, out: str) -> dict[str, Any]:
    """Hessian edges of the LB or SB convnet end point."""
    from nnspectra.io import save_arrays

    x, y = _mnist_data(cfg, "lbsb")
    model = _load_into(build_convnet(x.shape[-1], cfg["realdata.lbsb.model"], seed), model_path)
    spec = hessian_spectrum(model, x, y, cfg["realdata.lbsb.curvature"], cfg.get("memory_budget_gb"), seed,
                            _device(cfg))
    save_arrays(out, regime=regime, **spectrum_arrays(spec))
    return spec


def _cifar_data(cfg: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    from nnspectra.errors import DataNotFoundError

    data = cfg["realdata.cifar.data"]
    try:
        return cifar_sets(_data_root(cfg), bool(cfg["download"]), not bool(data["skip_archive_md5"]),
                          data["n_train"], data["n_test"], int(data["subset_seed"]))
    except DataNotFoundError as err:
        raise type(err)(f"{err}; or skip seed Figs 9-10 with realdata.cifar.enabled: false") from None


def stage_cifar_part(cfg: Mapping[str, Any], part: int, seed: int, out_model: str, out_history: str,
                     start_model: str | None = None, checkpoint: str | None = None) -> None:
    """Part I (large batch from init) or Part II (small batch from Part I's end) of seed Fig. 9."""
    from nnspectra.io import save_table

    train_cfg = cfg["realdata.cifar.train"]
    data = _cifar_data(cfg)
    model = build_alexnet(cfg["realdata.cifar.model"], seed)
    if part == 2:
        if start_model is None:
            raise ConfigError("CIFAR Part II needs Part I's end point as its start model")
        _load_into(model, start_model)
    if checkpoint is not None:
        Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
    batch = int(train_cfg["batch_lb"] if part == 1 else train_cfg["batch_sb"])
    steps = int(train_cfg["steps_per_part"])
    history = train_cifar_part(data, model, batch, steps, train_cfg, seed + 1000 * part,
                               step_offset=0 if part == 1 else steps, checkpoint_path=checkpoint, device=_device(cfg))
    history.insert(0, "part", part)
    history.insert(1, "batch_size", batch)
    _save_model(model, out_model, part=part, seed=seed)
    save_table(history, out_history)


def stage_cifar_interp(cfg: Mapping[str, Any], seed: int, model_1: str, model_2: str, out: str) -> pd.DataFrame:
    """Line scan between the two CIFAR end points (seed Fig. 10)."""
    from nnspectra.interpolation import paper_alphas
    from nnspectra.io import save_table

    icfg = cfg["realdata.cifar.interpolation"]
    data = _cifar_data(cfg)
    a = _load_into(build_alexnet(cfg["realdata.cifar.model"], seed), model_1)
    b = _load_into(build_alexnet(cfg["realdata.cifar.model"], seed), model_2)
    alphas = paper_alphas(float(icfg["alpha_min"]), float(icfg["alpha_max"]), int(icfg["points"]))
    frame = interpolate_cifar(data, a, b, alphas, int(cfg["realdata.cifar.train"]["eval_batch"]), _device(cfg))
    save_table(frame, out)
    return frame


# ------------------------------------------------------------------------------ metrics file
_METRIC_INFO: dict[str, tuple[str, str]] = {
    "mnist_top20_max_rel_dev": ("fraction", "claim 8: max over widths and ranks 1-20 of |lambda_r(n) - lambda_r(n_min)| / lambda_r(n_min)"),
    "mnist_lambda_max_min": ("loss/param^2", "claim 8: smallest lambda_max over the widths"),
    "mnist_lambda_max_max": ("loss/param^2", "claim 8: largest lambda_max over the widths"),
    "mnist_neg_frac_mean_pct": ("percent", "claim 9: mean over widths of the share of negative eigenvalues"),
    "mnist_neg_frac_spread_pp": ("percentage points", "claim 9: max - min over widths of the negative share"),
    "mnist_min_over_max_ratio": ("fraction", "claim 9: max over widths of |lambda_min| / lambda_max"),
    "mnist_outlier_count_change": ("count", "claim 10: |outliers(n_max) - outliers(n_min)|, outlier = > tau x median of top 120"),
    "lbsb_lambda_max_ratio_lb_sb": ("ratio", "claim 11: lambda_max(LB) / lambda_max(SB)"),
    "lbsb_count_diff": ("count", "claim 12: |#above threshold (LB) - #above threshold (SB)|"),
    "lbsb_count_min": ("count", "claim 12: smaller of the two counts above the heuristic threshold"),
    "lbsb_count_max": ("count", "claim 12: larger of the two counts above the heuristic threshold"),
    "lbsb_pos_neg_ratio_min": ("ratio", "claim 13: min over LB, SB of lambda_max / |lambda_min|"),
    "cifar_switch_train_loss_jump": ("nats", "claim 14: train loss at the first Part II record minus at the end of Part I"),
    "cifar_switch_test_acc_dip_pp": ("percentage points", "claim 14: test accuracy drop at the switch"),
    "cifar_test_acc_gain_pp": ("percentage points", "claim 15: final test accuracy of Part II minus Part I"),
    "cifar_final_test_acc_part2": ("fraction", "claim 15: final Part II test accuracy"),
    "cifar_barrier_train_loss": ("nats", "claim 16: max train loss on alpha in [0,1] minus the larger end point"),
    "cifar_test_acc_monotone_violation_pp": ("percentage points", "claim 16: largest departure of test accuracy from monotone on [0,1]"),
    "cifar_test_loss_monotone_violation": ("nats", "claim 16: largest departure of test loss from monotone on [0,1]"),
    "cifar_train_loss_ratio_m1_over_2": ("ratio", "claim 17: train loss at alpha=-1 / at alpha=2"),
    "mp_ks_max": ("KS distance", "claim 18: max over alpha of the KS distance to MP (single blob, mean-normalised)"),
    "mp_outliers_min": ("count", "claim 19: fewest eigenvalues > 10x the bulk edge over the two-blob alphas"),
    "mp_outliers_max": ("count", "claim 19: most eigenvalues > 10x the bulk edge over the two-blob alphas"),
    "mp_outlier_order_ok": ("bool", "claim 19: 1 if the outlier grows with alpha = d/N"),
}


def collect_metrics(cfg: Mapping[str, Any], mnist: Sequence[str], lbsb: Sequence[str], cifar: Sequence[str],
                    mp: Sequence[str]) -> dict[str, Any]:
    """``results/metrics/realdata.json``: per-seed values of claims 8-19 from the stage outputs.

    Every value of each seed is kept (also the per-width details); the claims file reads the names in
    ``_METRIC_INFO``. Input paths carry their seed (``.../seed<k>/...``).
    """
    from nnspectra.experiments.mp_appendix import mp_metrics
    from nnspectra.io import load_arrays

    def seed_of(path: str) -> int:
        part = [p for p in Path(path).parts if p.startswith("seed")][-1]
        return int(part.removeprefix("seed"))

    per_seed: dict[str, dict[int, float]] = {}

    def put(prefix: str, seed: int, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            per_seed.setdefault(f"{prefix}_{key}", {})[seed] = float(value)

    mcfg = cfg["realdata.mnist.analysis"]
    by_seed: dict[int, dict[int, dict[str, np.ndarray]]] = {}
    for path in mnist:
        arrays = load_arrays(path)
        by_seed.setdefault(seed_of(path), {})[int(arrays["width"])] = arrays
    for seed, spectra in by_seed.items():
        put("mnist", seed, mnist_width_metrics(spectra, int(mcfg["compare_top"]), float(mcfg["outlier_tau"]),
                                               int(mcfg["window"])))
    lcfg = cfg["realdata.lbsb.analysis"]
    lb_seed: dict[int, dict[str, dict[str, np.ndarray]]] = {}
    for path in lbsb:
        arrays = load_arrays(path)
        lb_seed.setdefault(seed_of(path), {})[str(arrays["regime"])] = arrays
    for seed, pair in lb_seed.items():
        put("lbsb", seed, lbsb_metrics(pair["lb"], pair["sb"], lcfg["count_rule"], int(lcfg["window"])))
    groups: dict[int, dict[str, str]] = {}
    for path in cifar:
        groups.setdefault(seed_of(path), {})[Path(path).stem] = path
    for seed, files in groups.items():
        put("cifar", seed, cifar_metrics(pd.read_csv(files["history1"]), pd.read_csv(files["history2"]),
                                         pd.read_csv(files["interpolation"])))
    pcfg = cfg["realdata.mp"]
    for path in mp:
        put("mp", seed_of(path), mp_metrics(load_arrays(path), pcfg["ratios"], pcfg["two_blob_ratios"]))
    record: dict[str, Any] = {}
    for name, values in sorted(per_seed.items()):
        seeds = sorted(values)
        unit, description = _METRIC_INFO.get(name, ("", "detail (not read by a claim)"))
        record[name] = {"values": [values[s] for s in seeds], "seeds": seeds, "unit": unit,
                        "description": description}
    return record
