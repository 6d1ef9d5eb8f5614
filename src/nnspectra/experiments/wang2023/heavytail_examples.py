"""Wang et al.'s "simple examples when heavy tails generalise better" (SPEC §3.2, a reconstruction).

Random-features ridge regression on the single-index teacher: the first layer W (h x d) is fixed to
one of the matrices below, all with the same expected squared Frobenius norm h*d as a standard
Gaussian matrix, and only the readout is fitted, by ridge
``a = (Z^T Z + reg (n/h) I)^{-1} Z^T y`` with ``Z = sigma(X W^T / sqrt(d)) / sqrt(h)``, the features
of the student ``f(x) = a^T sigma(W x / sqrt(d)) / sqrt(h)`` of SPEC §3.0 (K24's
``compute_last_layer_weight``, regularisation ``reg = 0.01``), fitted to the centred labels with the
training mean added back (an unpenalised intercept; [ours]: without it the odd tanh features cannot
represent E[y] and every matrix does worse than predicting the mean). The question is which weight
spectrum gives the lower test error.

* ``gaussian`` -- i.i.d. N(0, 1) entries: Marchenko-Pastur ESD.
* ``spiked`` -- the Gaussian matrix plus a rank-one spike ``theta u beta^T`` along the teacher
  direction, with ``theta = spike_scale * (sqrt(h) + sqrt(d))`` (``spike_scale`` times the bulk edge).
* ``heavy_tail_aligned`` -- ``U diag(s) V^T`` with Haar U, V, squared singular values Pareto(alpha)
  sorted so that the largest one goes with ``V[:, 0] = beta``: a heavy tail that carries the signal.
* ``heavy_tail_random`` -- the same singular values with a Haar V: a heavy tail unrelated to beta
  (the control: heavy tails alone should not help).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnspectra.data.teacher import TeacherSettings
from nnspectra.errors import ConfigError
from nnspectra.curvature.kernels import features, weight_gram
from nnspectra.spectra.powerlaw import fit_power_law

log = logging.getLogger(__name__)

MATRICES = ("gaussian", "spiked", "heavy_tail_aligned", "heavy_tail_random")
LABELS = {
    "gaussian": "Gaussian (MP bulk)",
    "spiked": "Gaussian + spike along β",
    "heavy_tail_aligned": "heavy tail, top direction = β",
    "heavy_tail_random": "heavy tail, random directions",
}


@dataclass(frozen=True)
class HtExamples(TeacherSettings):
    """Config ``evolution.ht_examples``: the teacher (:class:`TeacherSettings`: sizes, dimension, label noise)
    and its seeds, the width and activation, ridge penalties, the spike scale and the Pareto exponent of the
    heavy-tailed first layers (SPEC §3.2, our reconstruction)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    width: int = 1500
    activation: str = "tanh"
    ridges: tuple[float, ...] = (0.01, 0.1, 1.0)
    spike_scale: float = 2.0
    pareto_alpha: float = 2.0
    min_tail: int = 10


def _haar_columns(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """``rows x cols`` matrix with orthonormal columns, Haar distributed (QR with sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def _orthogonal_with_first_column(vector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random orthogonal d x d matrix whose first column is the unit ``vector``."""
    d = vector.size
    q, r = np.linalg.qr(np.column_stack([vector, rng.standard_normal((d, d - 1))]))
    q = q * np.sign(np.diag(r))
    return q  # QR keeps the span of the first column; the sign fix makes it +vector


def gaussian_matrix(h: int, d: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((h, d))


def spiked_matrix(h: int, d: int, beta: np.ndarray, spike_scale: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian bulk plus ``spike_scale * (sqrt(h) + sqrt(d)) u beta^T`` with a random unit ``u``."""
    u = rng.standard_normal(h)
    u /= np.linalg.norm(u)
    return gaussian_matrix(h, d, rng) + spike_scale * (np.sqrt(h) + np.sqrt(d)) * np.outer(u, beta)


def heavy_tailed_matrix(h: int, d: int, tail_alpha: float, rng: np.random.Generator,
                        beta: np.ndarray | None = None) -> np.ndarray:
    """``U diag(s) V^T`` with ``s_i^2`` Pareto(``tail_alpha``), scaled so that ``sum s_i^2 = h d``.

    With ``beta`` the largest singular value's right vector is ``beta``; otherwise V is Haar.
    """
    if h < d:
        raise ConfigError(f"heavy-tailed example needs width h >= input dim d, got h={h}, d={d}")
    if tail_alpha <= 0:
        raise ConfigError(f"pareto_alpha must be > 0, got {tail_alpha}")
    s2 = np.sort(1.0 + rng.pareto(tail_alpha, size=d))[::-1]
    s = np.sqrt(s2 * (h * d) / s2.sum())
    u = _haar_columns(h, d, rng)
    v = _orthogonal_with_first_column(beta, rng) if beta is not None else _haar_columns(d, d, rng)
    return (u * s) @ v.T


def first_layer(kind: str, h: int, d: int, beta: np.ndarray, cfg: HtExamples,
                rng: np.random.Generator) -> np.ndarray:
    """The fixed first layer of example ``kind`` (one of :data:`MATRICES`)."""
    if kind == "gaussian":
        return gaussian_matrix(h, d, rng)
    if kind == "spiked":
        return spiked_matrix(h, d, beta, float(cfg.spike_scale), rng)
    if kind == "heavy_tail_aligned":
        return heavy_tailed_matrix(h, d, float(cfg.pareto_alpha), rng, beta=beta)
    if kind == "heavy_tail_random":
        return heavy_tailed_matrix(h, d, float(cfg.pareto_alpha), rng)
    raise ConfigError(f"heavy-tail example '{kind}' is not one of {MATRICES}")


def ridge_readout(z: np.ndarray, y: np.ndarray, reg: float) -> np.ndarray:
    """``(Z^T Z + reg (n/h) I)^{-1} Z^T y``: the readout that minimises the ridge objective."""
    n, h = z.shape
    gram = z.T @ z
    gram[np.diag_indices_from(gram)] += reg * n / h
    return np.linalg.solve(gram, z.T @ y)


def evaluate_example(kind: str, data: Any, cfg: HtExamples, rng: np.random.Generator,
                     ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Test/train MSE of the ridge readout on one fixed first layer (one row per ridge strength),
    with the tail exponent of its ``W^T W / h`` spectrum and the top eigenvector's alignment with
    beta; also returns that spectrum."""
    h, d = int(cfg.width), data.dim
    weight = first_layer(kind, h, d, data.beta, cfg, rng)
    z_train = features(weight, data.x_train, cfg.activation)
    z_test = features(weight, data.x_test, cfg.activation)
    eigvals, eigvecs = np.linalg.eigh(weight_gram(weight))
    fit = fit_power_law(eigvals, min_tail=int(cfg.min_tail))
    spectrum = {"alpha": fit.alpha, "lambda_max": float(eigvals[-1]),
                "top_alignment": float(abs(eigvecs[:, -1] @ data.beta)),
                "frobenius_sq_over_hd": float(np.sum(weight**2) / (h * d))}
    offset = float(data.y_train.mean())  # an unpenalised intercept: tanh features cannot carry E[y] ~ 0.8
    rows = []
    for reg in cfg.ridges:
        a = ridge_readout(z_train, data.y_train - offset, float(reg))
        rows.append({
            "matrix": kind, "ridge": float(reg),
            "test_mse": float(np.mean((z_test @ a + offset - data.y_test) ** 2)),
            "train_mse": float(np.mean((z_train @ a + offset - data.y_train) ** 2)),
            "null_test_mse": float(np.mean((data.y_test - offset) ** 2)),
            **spectrum,
        })
    return rows, eigvals


def run_examples(cfg: HtExamples, seeds: Sequence[int]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every example matrix on the teacher of every seed: one row per (seed, matrix, ridge), and
    the ``W^T W / h`` eigenvalues of the first seed's matrices (for the figure)."""
    rows, spectra = [], {}
    for seed in seeds:
        data = cfg.teacher(int(seed))
        for i, kind in enumerate(MATRICES):
            rng = np.random.default_rng([int(seed), i, 32])  # one stream per (seed, matrix)
            rows_here, eigvals = evaluate_example(kind, data, cfg, rng)
            if seed == seeds[0]:
                spectra[kind] = eigvals
            for row in rows_here:
                rows.append({"seed": int(seed), **row})
                log.info("seed %d %-20s ridge %-6g test MSE %.4f  alpha %.2f  |<v1,beta>| %.3f", seed, kind,
                         row["ridge"], row["test_mse"], row["alpha"], row["top_alignment"])
    return pd.DataFrame(rows), spectra


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds per matrix, in the order of :data:`MATRICES`."""
    keys = ["matrix", "ridge"]
    stats = frame.groupby(keys)[["test_mse", "train_mse", "null_test_mse", "alpha", "top_alignment"]]
    out = stats.agg(["mean", "std"])
    out.columns = [f"{col}_{stat}" for col, stat in out.columns]
    out.insert(0, "seeds", frame.groupby(keys).size())
    out = out.reset_index()
    out["order"] = out["matrix"].map({m: i for i, m in enumerate(MATRICES)})
    out = out.sort_values(["ridge", "order"]).drop(columns="order").reset_index(drop=True)
    out.insert(1, "description", out["matrix"].map(LABELS))
    return out


def verdicts(frame: pd.DataFrame, ridge: float) -> dict[str, Any]:
    """The SPEC §3.2 expectation at one ridge strength: the aligned heavy tail beats the Gaussian
    (in every seed), the random-direction heavy tail does not (mean difference), with the numbers."""
    at = frame[np.isclose(frame["ridge"], ridge)].pivot(index="seed", columns="matrix", values="test_mse")
    if at.empty:
        raise ConfigError(f"no results at ridge {ridge}; it must be one of evolution.ht_examples.ridges")
    gain_aligned = (at["gaussian"] - at["heavy_tail_aligned"]) / at["gaussian"]
    gain_random = (at["gaussian"] - at["heavy_tail_random"]) / at["gaussian"]
    return {
        "ridge": float(ridge), "seeds": int(len(at)),
        "aligned_beats_gaussian_all_seeds": bool((gain_aligned > 0).all()),
        "aligned_relative_gain_mean": float(gain_aligned.mean()),
        "random_relative_gain_mean": float(gain_random.mean()),
    }
