"""Spectra of one checkpoint of the spectral-evolution experiment (SPEC §3.0, §3.3): weight ESDs, CK, NTK.

A checkpoint is ``(weights, head)``: the hidden weight matrices ``[W_1, ..., W_L]`` (float64) and the
readout ``a``. Matrices, by name: ``w`` = ``W_1^T W_1 / h`` (d x d), ``w2``, ``w3``, ... = ``W_l^T W_l / h``
(h x h) for deeper layers, ``ck`` = CK of the last hidden layer (n x n) and ``ntk`` (on ``ntk_points``
training inputs, :func:`~nnspectra.curvature.deep_kernels.kernel_points`). L = 1 uses the two-layer closed
forms of :mod:`nnspectra.curvature.kernels` exactly as before the deep variant existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnspectra.curvature.deep_kernels import deep_ck, deep_ntk, deep_output, kernel_points
from nnspectra.curvature.kernels import (
    conjugate_kernel,
    direction_alignment,
    label_alignment,
    network_output,
    ntk,
    weight_gram,
)
from nnspectra.data.teacher import RegressionData
from nnspectra.spectra.mp import ks_distance, ks_distance_to_mp, mp_edges
from nnspectra.spectra.outliers import count_beyond_factor
from nnspectra.spectra.powerlaw import fit_power_law, hill_alpha

MATRICES = ("w", "ck", "ntk")
Checkpoint = tuple[Sequence[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvoAnalysis:
    """Config ``evolution.analysis``: checkpoints t, outlier factor over the bulk edge, power-law tail size."""

    checkpoints: tuple[int, ...] = (0, 1, 10, 100)
    outlier_factor: float = 1.2
    min_tail: int = 10


def layer_names(hidden_layers: int) -> list[str]:
    """Names of the weight ESDs: ``["w"]`` for the two-layer net, ``["w", "w2", ..., "wL"]`` deeper."""
    return ["w"] + [f"w{layer}" for layer in range(2, hidden_layers + 1)]


def _tail_fits(eigs: np.ndarray, min_tail: int) -> dict[str, float | int]:
    """CSN and Hill exponents; ``alpha_ntail`` (eigenvalues >= xmin) and ``alpha_npos`` (positive eigenvalues
    the fit saw) let a figure draw the fitted CCDF ``(n_tail/n_pos) (x/xmin)^(1-alpha)`` without refitting."""
    fit, hill = fit_power_law(eigs, min_tail=min_tail), hill_alpha(eigs)
    return {"alpha": fit.alpha, "alpha_xmin": fit.xmin, "alpha_ks": fit.ks, "alpha_hill": hill.alpha,
            "alpha_ntail": fit.n_tail, "alpha_npos": int(np.sum(np.asarray(eigs) > 0))}


def matrices_at(weights: Sequence[np.ndarray], head: np.ndarray, data: RegressionData, activation: str,
                ntk_params: str, ntk_points: int | None = None) -> dict[str, np.ndarray]:
    """Every weight Gram ``W_l^T W_l / h``, the CK (n, n) and the NTK (on ``ntk_points`` inputs), float64."""
    x = data.x_train
    idx = kernel_points(x.shape[0], ntk_points)
    xk = x if idx.size == x.shape[0] else x[idx]
    if len(weights) == 1:
        w = weights[0]
        return {"w": weight_gram(w), "ck": conjugate_kernel(w, x, activation),
                "ntk": ntk(w, head, xk, activation, params=ntk_params)}
    out = {name: weight_gram(w) for name, w in zip(layer_names(len(weights)), weights)}
    out["ck"] = deep_ck(weights, x, activation)
    out["ntk"] = deep_ntk(weights, head, xk, activation, params=ntk_params)
    return out


def outputs(weights: Sequence[np.ndarray], head: np.ndarray, inputs: np.ndarray, activation: str) -> np.ndarray:
    """The network's outputs f(X) (n,), float64."""
    if len(weights) == 1:
        return network_output(weights[0], head, inputs, activation)
    return deep_output(weights, head, inputs, activation)


def spectra_of(mats: Mapping[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Eigenvalues (ascending) and the top eigenvector of each matrix."""
    out = {}
    for name, mat in mats.items():
        vals, vecs = np.linalg.eigh(mat)
        out[name] = (vals, vecs[:, -1])
    return out


def analyse_checkpoint(weights: Sequence[np.ndarray], head: np.ndarray, init: Mapping[str, Any],
                       data: RegressionData, activation: str, ntk_params: str, init_std: float,
                       analysis: EvoAnalysis, ntk_points: int | None = None,
                       ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Scalars and eigenvalue arrays of one checkpoint, compared with the init checkpoint ``init``.

    ``init`` holds ``weights`` (the W_l at t = 0), ``mats`` (:func:`matrices_at` at t = 0) and ``spectra``
    (:func:`spectra_of` of those). Bulk edges: MP edge ``init_std^2 (1 + sqrt(fan_in/h))^2`` for each W_l,
    the init's top eigenvalue for CK and NTK (SPEC §3.0); outliers exceed ``outlier_factor`` x edge.
    """
    mats = matrices_at(weights, head, data, activation, ntk_params, ntk_points)
    spec = spectra_of(mats)
    factor = float(analysis.outlier_factor)
    idx = kernel_points(data.x_train.shape[0], ntk_points)
    y_kernel = {"ck": data.y_train, "ntk": data.y_train[idx]}
    row: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    shapes = dict(zip(layer_names(len(weights)), (np.shape(w) for w in weights)))
    for name in mats:
        vals, top = spec[name]
        vals0 = init["spectra"][name][0]
        arrays[name] = vals
        if name in shapes:
            ratio = shapes[name][1] / shapes[name][0]
            edge = mp_edges(ratio, init_std**2)[1]
        bulk_edge = edge if name in shapes else float(vals0[-1])
        row[f"{name}_lmax"] = float(vals[-1])
        row[f"{name}_lmax_ratio"] = float(vals[-1] / vals0[-1])
        row[f"{name}_ks_init"] = ks_distance(vals, vals0)
        row[f"{name}_outliers"] = count_beyond_factor(vals, bulk_edge, factor)
        row.update({f"{name}_{k}": v for k, v in _tail_fits(vals, int(analysis.min_tail)).items()})
        if name in shapes:
            row[f"{name}_ks_mp"] = ks_distance_to_mp(vals, ratio, init_std**2)
            row[f"{name}_ks_mp_fitted"] = ks_distance_to_mp(vals, ratio, float(np.mean(vals)))
            row[f"{name}_mp_edge"] = edge
            if name == "w":
                row["w_align_beta"] = direction_alignment(top, data.beta)
        else:
            row[f"{name}_align_y"] = label_alignment(top, y_kernel[name])
            row[f"{name}_dist_init"] = float(np.linalg.norm(mats[name] - init["mats"][name])
                                             / np.linalg.norm(init["mats"][name]))
    w, w0 = weights[0], init["weights"][0]
    row["dW_op"] = float(np.linalg.norm(w - w0, ord=2))
    row["dW_fro"] = float(np.linalg.norm(w - w0))
    row["W_op"] = float(np.linalg.norm(w, ord=2))
    row["W0_op"] = float(np.linalg.norm(w0, ord=2))
    row["W0_fro"] = float(np.linalg.norm(w0))
    for name, wl, wl0 in list(zip(layer_names(len(weights)), weights, init["weights"]))[1:]:
        row[f"{name}_dW_op"] = float(np.linalg.norm(wl - wl0, ord=2))
        row[f"{name}_dW_fro"] = float(np.linalg.norm(wl - wl0))
    return row, arrays
