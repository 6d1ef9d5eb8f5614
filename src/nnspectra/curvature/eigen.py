"""Eigen-decomposition of dense symmetric curvature matrices, with the LAPACK route picked by measurement.

Measured on the 2-core CI machine, one thread, float64, n = 3,000 (docs/performance.md):
all eigenvalues: torch.linalg.eigvalsh (MKL syevd) 1.97 s < scipy ev 2.46 s ~ evd 2.48 s < evr 2.78 s;
eigenvectors: scipy evr 6.9 s < evd 7.9 s < torch.linalg.eigh 8.7 s << ev 37.8 s;
a 50-value subset costs as much as all values (tridiagonalisation dominates), but a subset of
eigenvectors skips most of the back-transformation, so subsets go to evr with ``subset_by_index``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch


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
