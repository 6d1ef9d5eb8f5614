"""Eigenvalues of symmetric curvature matrices: dense LAPACK routes picked by measurement, and the one
Lanczos front-end (:func:`eigenpairs`) for the spectral edges of operators too large to form.

Measured on the 2-core CI machine, one thread, float64, n = 3,000 (docs/performance.md):
all eigenvalues: torch.linalg.eigvalsh (MKL syevd) 1.97 s < scipy ev 2.46 s ~ evd 2.48 s < evr 2.78 s;
eigenvectors: scipy evr 6.9 s < evd 7.9 s < torch.linalg.eigh 8.7 s << ev 37.8 s;
a 50-value subset costs as much as all values (tridiagonalisation dominates), but a subset of
eigenvectors skips most of the back-transformation, so subsets go to evr with ``subset_by_index``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import scipy.linalg
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

if TYPE_CHECKING:
    from nnspectra.curvature.operators import TorchOperator

log = logging.getLogger(__name__)


def _as_numpy(mat: torch.Tensor | np.ndarray) -> np.ndarray:
    return mat.detach().cpu().numpy() if isinstance(mat, torch.Tensor) else np.asarray(mat)


def eigvalsh_dense(mat: torch.Tensor | np.ndarray, subset: tuple[int, int] | None = None) -> np.ndarray:
    """Eigenvalues (ascending, numpy) of a symmetric matrix; only its lower triangle is read.

    ``subset=(lo, hi)`` returns eigenvalues lo..hi (inclusive, ascending index) via scipy ``evr``;
    otherwise all values via ``torch.linalg.eigvalsh`` (fastest measured; runs on the GPU too).
    """
    if subset is not None:
        return scipy.linalg.eigh(_as_numpy(mat), eigvals_only=True, driver="evr", subset_by_index=list(subset),
                                 check_finite=False)
    tensor = mat if isinstance(mat, torch.Tensor) else torch.from_numpy(np.asarray(mat))
    return torch.linalg.eigvalsh(tensor).cpu().numpy()


def eigh_dense(mat: torch.Tensor | np.ndarray, subset: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix, as numpy arrays.

    On CPU: scipy ``evr`` (fastest measured for vectors; ``subset=(lo, hi)`` computes only those);
    a CUDA tensor stays on the GPU (torch.linalg.eigh) unless a subset is requested.
    """
    if isinstance(mat, torch.Tensor) and mat.is_cuda and subset is None:
        vals, vecs = torch.linalg.eigh(mat)
        return vals.cpu().numpy(), vecs.cpu().numpy()
    kwargs = {} if subset is None else {"subset_by_index": list(subset)}
    return scipy.linalg.eigh(_as_numpy(mat), driver="evr", check_finite=False, **kwargs)


# -- the Lanczos front-end: edges of symmetric operators ----------------------------------------------

def _is_torch_operator(A: object) -> bool:
    from nnspectra.curvature.operators import TorchOperator

    return isinstance(A, TorchOperator)


def _start_vector(dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim)


def _dense_of(A: np.ndarray | LinearOperator) -> np.ndarray:
    dense = A if isinstance(A, np.ndarray) else A @ np.eye(A.shape[0])
    return 0.5 * (dense + dense.T)


def _torch_eigenpairs(A: TorchOperator, k: int, which: str, tol: float, seed: int, return_vectors: bool,
                      ncv: int | None, maxiter: int | None, on_no_convergence: str, info: dict | None = None,
                      ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """:func:`eigenpairs` for a torch operator: thick-restart Lanczos in torch (basis on the operator's
    device). Returns None when it did not converge and ``on_no_convergence="dense"`` asks for the fallback."""
    from nnspectra.curvature.lanczos import lanczos_eigsh

    res = lanczos_eigsh(A, k, which, ncv=ncv, tol=tol if tol > 0 else 64 * np.finfo(np.float64).eps,
                        max_restarts=1000 if maxiter is None else int(maxiter), seed=seed,
                        return_vectors=return_vectors)
    vals = res.values.cpu().numpy()
    vecs = None if res.vectors is None else res.vectors.cpu().numpy()
    if info is not None:
        info.update(residuals=res.residuals.cpu().numpy(), converged=bool(res.converged), n_restarts=res.n_restarts)
    if res.converged or on_no_convergence == "all":
        return vals, vecs
    if on_no_convergence == "dense":
        return None
    # converged = residual <= one threshold, so they are the n_converged smallest residuals
    done = np.zeros(len(vals), dtype=bool)
    done[np.argsort(res.residuals.cpu().numpy(), kind="stable")[: res.n_converged]] = True
    if on_no_convergence == "partial":  # lanczos_eigsh has logged how many converged
        return vals[done], (None if vecs is None else vecs[:, done])
    raise ArpackNoConvergence(f"torch Lanczos ({which}) converged for {res.n_converged} of {k} eigenvalues after "
                              f"{res.n_restarts} restarts", vals[done], None if vecs is None else vecs[:, done])


def eigenpairs(A: np.ndarray | LinearOperator | TorchOperator, k: int, *, which: str = "LA", tol: float = 0.0,
               seed: int = 0,
               return_vectors: bool = True, ncv: int | None = None, maxiter: int | None = None,
               method: str = "lanczos", max_dense_params: int | None = None, on_no_convergence: str = "raise",
               info: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The k largest (``which="LA"``, descending) or smallest (``"SA"``, ascending) eigenpairs of symmetric A.

    The one front-end for spectral edges: for a scipy ``LinearOperator``, ARPACK's implicitly restarted
    Lanczos (``eigsh``); for a :class:`~nnspectra.curvature.operators.TorchOperator` (e.g. HessianProducts),
    the torch thick-restart Lanczos :func:`nnspectra.curvature.lanczos.lanczos_eigsh` (no numpy round trip
    per product; the basis stays on the operator's device, so on CUDA nothing leaves the GPU). Both start
    from a seeded vector (so results repeat), relative tolerance ``tol`` (0 = machine precision; ARPACK's
    relative to each eigenvalue, the torch one relative to the largest |Ritz value|), ``maxiter`` restarts.
    Dense ``eigh``
    instead when A is an array, when ``method="dense"``, or when ``method="auto"`` and the project's one rule
    (:func:`nnspectra.curvature.choose.decide_method`: fits the memory budget and dim <= ``max_dense_params``)
    says dense or k >= dim - 1. If Lanczos runs out of restarts: ``on_no_convergence="raise"`` re-raises,
    ``"dense"`` falls back to the dense matrix, ``"partial"`` keeps the Ritz values that converged (logged),
    ``"all"`` (torch operators) keeps all k Ritz values (``info["converged"]`` says whether they did).
    Eigenvectors are the columns of a (dim, k) array (None when ``return_vectors`` is false). ``info`` (a
    dict, optional) receives ``method`` and, from the torch Lanczos, ``residuals``, ``converged`` and
    ``n_restarts``.
    """
    if which not in ("LA", "SA"):
        raise ValueError(f"which must be 'LA' (largest) or 'SA' (smallest), got {which!r}")
    torch_op = _is_torch_operator(A)
    dim = A.size if torch_op else A.shape[0]
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    auto = method == "auto"
    if isinstance(A, np.ndarray):
        method = "dense"
    elif auto:
        from nnspectra.curvature.choose import decide_method

        method = decide_method("auto", dim, max_dense_params=max_dense_params)[0]
    if method not in ("dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    dense_ok = method == "dense" or auto
    if dense_ok:
        k = min(k, dim)
    elif k >= dim:
        raise ValueError(f"k must be between 1 and P - 1 = {dim - 1} for Lanczos, got {k}; "
                         "use eigvalsh_dense for the whole spectrum")
    use_dense = method == "dense" or (dense_ok and k >= dim - 1)
    if info is not None:
        info["method"] = "dense" if use_dense else "lanczos"
    if not use_dense and torch_op:
        out = _torch_eigenpairs(A, k, which, tol, seed, return_vectors, ncv, maxiter, on_no_convergence, info)
        if out is not None:
            return out
    elif not use_dense:
        try:
            out = eigsh(A, k=k, which=which, tol=tol, v0=_start_vector(dim, seed), ncv=ncv, maxiter=maxiter,
                        return_eigenvectors=return_vectors)
        except ArpackNoConvergence as err:
            if on_no_convergence == "partial":
                log.warning("Lanczos (%s) converged for %d of %d eigenvalues after %s restarts",
                            "top" if which == "LA" else "bottom", len(err.eigenvalues), k, maxiter)
                vals = np.asarray(err.eigenvalues).real
                vecs = np.asarray(err.eigenvectors).real if return_vectors else None
                order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
                return vals[order], (None if vecs is None else vecs[:, order])
            if on_no_convergence != "dense":
                raise
        else:
            vals, vecs = out if return_vectors else (out, None)
            order = np.argsort(vals)[::-1] if which == "LA" else np.argsort(vals)
            return vals[order], (None if vecs is None else vecs[:, order])
    lo, hi = (dim - k, dim - 1) if which == "LA" else (0, k - 1)
    vals, vecs = scipy.linalg.eigh(_dense_of(A.dense().cpu().numpy() if torch_op else A), subset_by_index=[lo, hi])
    if which == "LA":
        vals, vecs = vals[::-1], vecs[:, ::-1]
    return vals, (vecs if return_vectors else None)


def top_eigenpairs(A: np.ndarray | LinearOperator | TorchOperator, k: int, **options: object) -> tuple[np.ndarray, np.ndarray | None]:
    """The k largest (algebraic) eigenpairs, descending (:func:`eigenpairs` with ``which="LA"``)."""
    return eigenpairs(A, k, which="LA", **options)  # type: ignore[arg-type]


def bottom_eigenpairs(A: np.ndarray | LinearOperator | TorchOperator, k: int, **options: object) -> tuple[np.ndarray, np.ndarray | None]:
    """The k smallest (algebraic) eigenpairs, ascending (:func:`eigenpairs` with ``which="SA"``)."""
    return eigenpairs(A, k, which="SA", **options)  # type: ignore[arg-type]
