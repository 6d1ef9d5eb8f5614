"""The matrices of a study: H, GN and G as product operators, dense when they fit (with the logged fallback for
layers the exact builders cannot transform), and their spectral edges on the matrix-free route."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from nnspectra.curvature import (
    bottom_eigenpairs,
    check_dense_fits,
    gauss_newton,
    gradient_moment,
    hessian,
    top_eigenpairs,
)
from nnspectra.curvature.operators import TorchOperator
from nnspectra.curvature.spectrum import curvature_operator, lanczos_edges
from nnspectra.errors import NnspectraError

log = logging.getLogger(__name__)

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def batch_coupled(model: torch.nn.Module) -> bool:
    """Whether a batch-norm layer normalises with batch statistics (training mode), coupling the samples."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training for m in model.modules())


#: how the dense matrix was built (recorded per matrix as ``dense_builder``)
EXACT_BUILDER = "exact dense builder (layer-structured / torch.func per-sample and forward-mode transforms)"
PRODUCTS_BUILDER = "double backward on whole-batch products (P products, any autograd layer)"


class _LayerTrace:
    """Forward hooks naming the innermost module whose forward was running when an error was raised."""

    def __init__(self, model: torch.nn.Module):
        self.stack: list[str] = []
        self.handles = []
        for name, module in model.named_modules():
            label = f"{name or '<model>'} ({type(module).__name__})"
            self.handles.append(module.register_forward_pre_hook(lambda m, a, label=label: self.stack.append(label)))
            self.handles.append(module.register_forward_hook(lambda m, a, o: self._leave()))

    def _leave(self) -> None:  # a forward hook must return None (anything else replaces the output)
        if self.stack:
            self.stack.pop()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def dense_matrix(kind: str, model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                  dtype: torch.dtype, budget_gb: float | None, device: torch.device | str) -> tuple[torch.Tensor, str]:
    """(the dense H, GN or G, how it was built). The project's fastest exact builders first; from the products
    (double backward, which any autograd layer supports) where batch norm on batch statistics couples the
    samples, or as the logged fallback when a layer does not support the builders' torch.func transforms."""
    p = sum(t.numel() for t in model.parameters())
    if batch_coupled(model):  # batch norm on batch statistics couples the samples: whole-batch double backward only
        check_dense_fits(p, p, dtype, budget_gb, device=device)
        return (operator(kind, model, loss_fn, x, y, dtype, device).dense("products"),
                f"{PRODUCTS_BUILDER}: batch norm on batch statistics couples the samples")
    build = {"H": hessian, "GN": gauss_newton, "G": gradient_moment}[kind]
    trace = _LayerTrace(model)
    try:
        return build(model, loss_fn, x, y, dtype=dtype, budget_gb=budget_gb, device=device), EXACT_BUILDER
    except (RuntimeError, NotImplementedError) as err:
        if isinstance(err, (NnspectraError, torch.OutOfMemoryError)):
            raise
        layer = trace.stack[-1] if trace.stack else "a layer"
        why = str(err).splitlines()[0][:160] if str(err) else type(err).__name__
    finally:
        trace.remove()
    how = f"{PRODUCTS_BUILDER}: fallback, the exact dense builder does not support layer {layer} ({why})"
    log.warning("dense %s: layer %s does not support the exact builder's torch.func transforms; fallback: %s",
                kind, layer, PRODUCTS_BUILDER)
    return operator(kind, model, loss_fn, x, y, dtype, device).dense("products"), how


def operator(kind: str, model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
              dtype: torch.dtype, device: torch.device | str) -> TorchOperator:
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
