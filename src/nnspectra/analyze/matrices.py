"""The matrices of a study: H, GN and G as the curvature front-end's product operators (dense through their one
``dense_with_builder("auto")`` chain when they fit), and their spectral edges on the matrix-free route."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from nnspectra.curvature import bottom_eigenpairs, top_eigenpairs
from nnspectra.curvature.operators import TorchOperator
from nnspectra.curvature.products import ModelOperator
from nnspectra.curvature.spectrum import curvature_operator, lanczos_edges

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def operator(kind: str, model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
              dtype: torch.dtype, device: torch.device | str) -> ModelOperator:
    """The product operator of H, GN or G (:func:`nnspectra.curvature.spectrum.curvature_operator`)."""
    return curvature_operator({"H": "hessian", "GN": "gauss_newton", "G": "gradient_moment"}[kind], model, loss_fn,
                              x, y, dtype=dtype, device=device)


def lanczos_edges_of(kind: str, op: TorchOperator, n_samples: int, n_outputs: int, top_k: int, bottom_k: int,
                     tol: float, seed: int, maxiter: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(top-k descending, bottom-k ascending, how) of H, GN or G on the matrix-free route.

    H: both edges by Lanczos. GN and G are positive semi-definite with rank at most N C (GN: C x C output
    curvature per sample) or N (G): where that bound leaves at least ``bottom_k`` null directions the bottom
    edge is exactly 0 and no Lanczos run is spent on it (a degenerate null space converges slowly); else
    Lanczos at the small end with a wider basis (its clustered small eigenvalues need one).
    """
    p = op.size
    if kind == "H" or bottom_k == 0:
        top, bottom = (lanczos_edges(op, top_k, bottom_k, tol, seed, maxiter) if bottom_k else
                       (top_eigenpairs(op, min(top_k, p - 2), tol=tol, seed=seed, return_vectors=False,
                                       maxiter=maxiter, on_no_convergence="partial")[0], np.empty(0)))
        return top, bottom, f"Lanczos on {type(op).__name__}: top-{top_k}" + (
            f" and bottom-{bottom_k} edges" if bottom_k else " (bottom_k: 0)")
    top = top_eigenpairs(op, min(top_k, p - 2), tol=tol, seed=seed, return_vectors=False, maxiter=maxiter,
                         on_no_convergence="partial")[0]
    rank = n_samples * (n_outputs if kind == "GN" else 1)
    bound = f"rank({kind}) <= {'N C' if kind == 'GN' else 'N'} = {rank:,}"
    if rank <= p - bottom_k:
        return top, np.zeros(bottom_k), (f"Lanczos on {type(op).__name__}: top-{top_k}; bottom-{bottom_k} = 0 "
                                         f"exactly ({bound} < P - {bottom_k} = {p - bottom_k:,}: no Lanczos run)")
    k = min(bottom_k, p - 2)
    bottom = bottom_eigenpairs(op, k, tol=tol, seed=seed, return_vectors=False, maxiter=maxiter,
                               ncv=min(p - 1, max(3 * k, 40)), on_no_convergence="partial")[0]
    return top, np.sort(bottom), (f"Lanczos on {type(op).__name__}: top-{top_k} and bottom-{bottom_k} edges "
                                  f"({bound} > P - {bottom_k}: the bottom edge may be positive)")
