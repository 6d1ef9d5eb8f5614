"""Eigenvalues of the exact Hessian of a model's mean training loss: every one when the dense matrix fits,
else the spectral edges by Lanczos (Sagun et al. 2018 §2.1: "the exact full Hessian ... via Hessian-vector
products up to the machine precision").

:func:`hessian_spectrum` is the one place that chooses between the dense route
(``HessianProducts.dense()`` + ``eigvalsh``) and the Lanczos edges (:func:`lanczos_edges` on
:class:`~nnspectra.curvature.products.HessianProducts` through the one Lanczos front-end
:func:`nnspectra.curvature.eigen.eigenpairs`, i.e. the torch thick-restart Lanczos on any device: measured
not slower than ARPACK on the CPU, docs/performance.md, "Lanczos front-end"); ``method: auto`` decides by
the one rule :func:`nnspectra.curvature.choose.decide_method`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nnspectra.curvature.choose import DENSE_COPIES, EdgeSettings, decide_method
from nnspectra.curvature.dense import hessian, hessian_decomposition
from nnspectra.curvature.eigen import bottom_eigenpairs, eigvalsh_dense, top_eigenpairs
from nnspectra.curvature.memory import check_dense_fits
from nnspectra.curvature.operators import TorchOperator
from nnspectra.curvature.products import GaussNewtonProducts, GradientMomentProducts, HessianProducts, ModelOperator
from nnspectra.curvature.reduced import reduced_hessian_eigenvalues, reduced_size
from nnspectra.errors import ConfigError

log = logging.getLogger(__name__)

DTYPES = {"float64": torch.float64, "float32": torch.float32}
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: the one operator family, by matrix (Sagun et al. 2018 eqs. 1, 4-5; the G-matrix of Ben Arous et al.)
OPERATORS = {"hessian": HessianProducts, "gauss_newton": GaussNewtonProducts, "gradient_moment": GradientMomentProducts}


def curvature_operator(kind: str, model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *,
                       dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> ModelOperator:
    """The operator of ``kind`` (``hessian``, ``gauss_newton`` or ``gradient_moment``) of the mean loss
    ``loss_fn(model(x), y)``: products, ``.dense(strategy)`` / ``.dense_with_builder(strategy)``, ``.to_scipy()``."""
    if kind not in OPERATORS:
        raise ValueError(f"curvature kind must be one of {sorted(OPERATORS)}, got {kind!r}")
    return OPERATORS[kind](model, loss_fn, x, y, dtype=dtype, device=device)


@dataclass(frozen=True)
class SpectrumSettings(EdgeSettings):
    """How to compute a Hessian spectrum (config ``realdata.<section>.curvature``): the shared keys of
    :class:`~nnspectra.curvature.choose.EdgeSettings` and the arithmetic.

    ``method``: ``dense`` (every eigenvalue), ``lanczos`` (the ``top_k`` largest and ``bottom_k``
    smallest), ``reduced`` (every eigenvalue of a one-hidden-layer ReLU net under cross-entropy from the
    exact m x m reduction, :mod:`nnspectra.curvature.reduced`, always float64) or ``auto`` (reduced where
    it applies and m < P, else dense when the matrix and the eigensolver workspace fit the memory budget
    and P <= ``max_dense_params``, else Lanczos). ``dtype`` is the arithmetic of the Hessian products;
    ``chunk`` at most this many basis vectors per batched product (fewer when the memory budget
    requires); ``lanczos_tol`` the Lanczos relative tolerance and ``lanczos_maxiter`` its restart cap
    (the torch thick-restart Lanczos of :func:`lanczos_edges`).
    """

    dtype: str = "float64"
    chunk: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dtype not in DTYPES:
            raise ConfigError(f"curvature dtype '{self.dtype}' is not one of {sorted(DTYPES)}")


@dataclass(frozen=True)
class LbsbSpectrumSettings(SpectrumSettings):
    """Config ``realdata.lbsb.curvature`` (seed Figs 7-8): :class:`SpectrumSettings` with the top-40 and
    bottom-40 windows the figures draw (its own class, so each section's defaults have one home)."""

    top_k: int = 40
    bottom_k: int = 40


def negative_tolerance(eigs: np.ndarray, n_params: int, dtype: torch.dtype = torch.float64) -> float:
    """Round-off level below which an eigenvalue is not counted as negative: P * eps * |lambda|_max."""
    return float(n_params * torch.finfo(dtype).eps * np.max(np.abs(eigs)))


def lanczos_edges(op: TorchOperator, top_k: int, bottom_k: int, tol: float, seed: int,
                  maxiter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (descending) and bottom-k (ascending) eigenvalues of a symmetric torch operator (e.g.
    :class:`~nnspectra.curvature.products.HessianProducts`) by the torch thick-restart Lanczos (float64 basis
    on the operator's device), through the one front-end :func:`nnspectra.curvature.eigen.eigenpairs`. When
    the restarts (``maxiter``) run out, the Ritz values that did converge are kept (and logged).
    """
    p = op.size

    def edge(k: int, solver: Callable[..., tuple[np.ndarray, Any]]) -> np.ndarray:
        k = min(k, p - 2)
        ncv = min(p - 1, max(2 * k + 1, 3 * k))
        return solver(op, k, tol=tol, seed=seed, return_vectors=False, ncv=ncv, maxiter=maxiter,
                      on_no_convergence="partial")[0]

    top = edge(top_k, top_eigenpairs)
    bottom = edge(bottom_k, bottom_eigenpairs)
    return np.sort(top)[::-1], np.sort(bottom)


def is_mean_cross_entropy(loss_fn: LossFn) -> bool:
    """Whether ``loss_fn`` is the mean softmax cross-entropy (the loss the m x m reduction is derived for)."""
    from nnspectra.training.evaluate import cross_entropy

    return loss_fn in (cross_entropy, torch.nn.functional.cross_entropy)


def _choose_method(settings: SpectrumSettings, model: torch.nn.Module, loss_fn: LossFn, n_samples: int,
                   dtype: torch.dtype, memory_budget_gb: float | None, device: torch.device | str) -> tuple[str, str]:
    """(method, reason): the configured method, or for ``auto`` the one rule of
    :func:`nnspectra.curvature.choose.decide_method` (the exact reduction where it applies and is smaller,
    else dense when the matrix and eigvalsh's copy fit the device's budget and P <= ``max_dense_params``)."""
    m = reduced_size(model, n_samples) if is_mean_cross_entropy(loss_fn) else None
    if settings.method == "reduced" and m is None:
        raise ConfigError("curvature method 'reduced' needs a Sequential(Linear, ReLU, Linear) under mean "
                          "cross-entropy; use method auto, dense or lanczos")
    p = sum(t.numel() for t in model.parameters())
    return decide_method(settings.method, p, dtype, device, memory_budget_gb,
                         max_dense_params=int(settings.max_dense_params), reduced_columns=m)


def negative_edge(eigs_ascending: np.ndarray, n_negative: int) -> tuple[float, float]:
    """(the counted negative eigenvalue nearest 0, the next eigenvalue up): how clearly the count is separated
    from round-off at its threshold (NaN where the window does not reach them)."""
    closest = float(eigs_ascending[n_negative - 1]) if 0 < n_negative <= eigs_ascending.size else float("nan")
    above = float(eigs_ascending[n_negative]) if n_negative < eigs_ascending.size else float("nan")
    return closest, above


def hessian_spectrum(model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                     settings: SpectrumSettings, memory_budget_gb: float | None = None, seed: int = 0,
                     device: torch.device | str = "cpu") -> dict[str, Any]:
    """Eigenvalues of the exact Hessian of the mean loss ``loss_fn(model(x), y)`` at the model's parameters.

    Returns ``top`` (descending), ``bottom`` (ascending), ``eigenvalues`` (all, ascending; empty for
    Lanczos), ``n_params``, ``method``, ``n_negative`` (eigenvalues below minus ``negative_tolerance``
    (:func:`negative_tolerance`); exact for dense and reduced, for Lanczos a lower bound unless the bottom
    window reaches 0: ``negative_count_exact``), ``negative_closest`` and ``above_negatives``
    (:func:`negative_edge`), ``hvps`` (operator products used) and ``dtype``; ``method_reason``
    says why that method was used (logged too).
    """
    dtype = DTYPES[settings.dtype]
    model = model.to(device)
    x, y = x.to(device), y.to(device)
    p = sum(t.numel() for t in model.parameters())
    top_k, bottom_k = int(settings.top_k), int(settings.bottom_k)
    method, reason = _choose_method(settings, model, loss_fn, len(x), dtype, memory_budget_gb, device)
    log.info("Hessian spectrum of P = %d parameters: %s", p, reason)
    dtype_name = settings.dtype
    if method == "reduced":
        log.info("the exact m x m reduction of the Hessian (float64; pivoted Cholesky + eigvalsh, no progress "
                 "reports until it returns)")
        reduced = reduced_hessian_eigenvalues(model.cpu(), x.cpu(), y.cpu(), memory_budget_gb)
        eigs, dtype_name = reduced.eigenvalues, "float64"
        log.info("reduction done: m = %d columns, rank %d; lambda_max %.4g, lambda_min %.4g", reduced.n_columns,
                 reduced.rank, eigs[-1], eigs[0])
        top, bottom, hvps = eigs[::-1][:top_k].copy(), eigs[:bottom_k].copy(), 0
        n_neg_tol = negative_tolerance(eigs, p, torch.float64)
        n_negative, exact = int(np.sum(eigs < -n_neg_tol)), True
    elif method == "dense":
        check_dense_fits(p, p, dtype, memory_budget_gb, device=device, copies=DENSE_COPIES)
        log.info("building the dense %d x %d %s Hessian (%.1f GiB) on %s", p, p, settings.dtype,
                 p * p * torch.finfo(dtype).bits / 8 / 2**30, device)
        h = curvature_operator("hessian", model, loss_fn, x, y, dtype=dtype, device=device).dense(
            budget_gb=memory_budget_gb, chunk=int(settings.chunk))
        # LAPACK reports no progress; say what is running (P = 23,860 took ~15 min on one CPU core)
        log.info("eigvalsh of the %d x %d Hessian (~%.1e flop; no progress reports until it returns)", p, p, 4.0 * p**3)
        eigs = np.asarray(eigvalsh_dense(h), dtype=np.float64)
        log.info("eigendecomposition done: lambda_max %.4g, lambda_min %.4g", eigs[-1], eigs[0])
        del h
        top, bottom, hvps = eigs[::-1][:top_k].copy(), eigs[:bottom_k].copy(), p
        n_neg_tol = negative_tolerance(eigs, p, dtype)
        n_negative, exact = int(np.sum(eigs < -n_neg_tol)), True
    else:
        op = curvature_operator("hessian", model, loss_fn, x, y, dtype=dtype, device=device)
        log.info("Lanczos edges (top %d, bottom %d) by torch thick-restart Lanczos on %s", top_k, bottom_k, device)
        top, bottom = lanczos_edges(op, top_k, bottom_k, float(settings.lanczos_tol), seed,
                                    int(settings.lanczos_maxiter))
        hvps = int(op.n_products)
        eigs = np.empty(0)
        n_neg_tol = negative_tolerance(np.concatenate([top, bottom]), p, dtype)
        n_negative = int(np.sum(bottom < -n_neg_tol))
        exact = bool(n_negative < bottom.size)
    model.cpu()
    closest, above = negative_edge(eigs if eigs.size else bottom, n_negative)
    return {"eigenvalues": eigs, "top": top, "bottom": bottom, "n_params": p, "method": method, "method_reason": reason,
            "n_negative": n_negative, "negative_count_exact": exact, "negative_tolerance": n_neg_tol,
            "negative_closest": closest, "above_negatives": above, "hvps": hvps, "dtype": dtype_name}


def dense_spectra(model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                  decompose: bool = False) -> dict[str, np.ndarray]:
    """Every eigenvalue (ascending, float64) of the exact Hessian H of the mean loss (Sagun et al. eq. 1).

    With ``decompose`` also those of its Gauss-Newton part G and the residual R = H - G (eqs. 4-5):
    arrays ``eig_H`` (and ``eig_G``, ``eig_R``). For models small enough to form H densely.
    """
    x = x.to(torch.float64) if x.is_floating_point() else x
    model = model.double()
    if decompose:
        mats = dict(zip(("H", "G", "R"), hessian_decomposition(model, loss_fn, x, y, dtype=torch.float64)))
    else:
        mats = {"H": hessian(model, loss_fn, x, y, dtype=torch.float64)}
    return {f"eig_{name}": eigvalsh_dense(mat) for name, mat in mats.items()}


def spectrum_arrays(spec: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The spectrum record as .npz-ready arrays, without ``method_reason``: it quotes the memory limit of the
    machine that ran it, which belongs in the sidecar (the file holds only what config and seed fix)."""
    return {k: np.asarray(v) for k, v in spec.items() if k != "method_reason"}
