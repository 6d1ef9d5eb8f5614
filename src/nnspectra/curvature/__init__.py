"""Exact curvature of a model's mean training loss: Hessian, Gauss-Newton part, residual, G-matrix.

Public API (stable; the implementation behind it is chosen by benchmark, see benchmarks/ and
docs/performance.md):

* :func:`hessian` -- dense P x P Hessian of the mean loss over all parameters.
* :func:`gauss_newton` -- its Gauss-Newton part J^T H_out J (positive semi-definite).
* :func:`hessian_decomposition` -- (H, G, R) with R = H - G.
* :func:`gradient_moment` -- G-matrix, second moment of the per-sample gradients.
* :class:`HessianProducts`, :class:`GaussNewtonProducts`, :class:`GradientMomentProducts` -- the one
  operator family: torch operators on blocks of vectors (any device, one backward pass per product), with
  ``.dense(strategy)`` (the dense builders, or products with the identity) and ``.to_scipy()`` (a scipy
  LinearOperator view); :func:`eigenpairs` (:func:`top_eigenpairs` / :func:`bottom_eigenpairs`) -- the one
  Lanczos front-end for spectral edges.
* :mod:`nnspectra.curvature.spectrum` -- the dense-or-Lanczos chooser for a model's Hessian spectrum;
  :mod:`nnspectra.curvature.mixtures` -- closed forms for the Ben Arous et al. models;
  :mod:`nnspectra.curvature.kernels` -- weight Gram, conjugate kernel and NTK of the two-layer net.
* :func:`eigvalsh_dense` / :func:`eigh_dense` -- dense spectra with the measured-fastest LAPACK route.
* :func:`check_dense_fits` -- memory guard (raises MemoryBudgetError with one line).
* :func:`lanczos_eigsh` -- torch thick-restart Lanczos edges (behind :func:`eigenpairs`);
  :func:`slq` / :func:`hutchinson_trace` -- spectral density and trace beyond dense reach;
  :func:`choose_spectrum_method` / :func:`decide_method` -- the one dense-or-iterative rule.
"""

from nnspectra.curvature.dense import (
    gauss_newton,
    gradient_moment,
    hessian,
    hessian_decomposition,
)
from nnspectra.curvature.choose import choose_spectrum_method, decide_method
from nnspectra.curvature.density import SpectralDensity, hutchinson_trace, slq
from nnspectra.curvature.eigen import bottom_eigenpairs, eigenpairs, eigh_dense, eigvalsh_dense, top_eigenpairs
from nnspectra.curvature.lanczos import LanczosResult, lanczos_eigsh
from nnspectra.curvature.memory import check_dense_fits
from nnspectra.curvature.operators import TorchOperator
from nnspectra.curvature.products import GaussNewtonProducts, GradientMomentProducts, HessianProducts

__all__ = [
    "GaussNewtonProducts",
    "GradientMomentProducts",
    "HessianProducts",
    "LanczosResult",
    "SpectralDensity",
    "TorchOperator",
    "bottom_eigenpairs",
    "check_dense_fits",
    "choose_spectrum_method",
    "decide_method",
    "eigenpairs",
    "eigh_dense",
    "eigvalsh_dense",
    "gauss_newton",
    "gradient_moment",
    "hessian",
    "hessian_decomposition",
    "hutchinson_trace",
    "lanczos_eigsh",
    "slq",
    "top_eigenpairs",
]
