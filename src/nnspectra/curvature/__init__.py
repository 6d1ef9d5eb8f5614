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

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the submodule that defines it, imported on first use (PEP 562). Importing one submodule (e.g.
#: ``nnspectra.curvature.batched``) therefore loads only what that submodule imports, and a pipeline step's code
#: hash (:func:`nnspectra.pipeline.provenance.module_closure`, which reads this table) covers only the curvature
#: code the step runs: an edit to SLQ no longer reruns the Ben Arous or Wang runs, which use none of it.
LAZY_EXPORTS: dict[str, str] = {
    "GaussNewtonProducts": "nnspectra.curvature.products",
    "GradientMomentProducts": "nnspectra.curvature.products",
    "HessianProducts": "nnspectra.curvature.products",
    "LanczosResult": "nnspectra.curvature.lanczos",
    "SpectralDensity": "nnspectra.curvature.density",
    "TorchOperator": "nnspectra.curvature.operators",
    "bottom_eigenpairs": "nnspectra.curvature.eigen",
    "check_dense_fits": "nnspectra.curvature.memory",
    "choose_spectrum_method": "nnspectra.curvature.choose",
    "decide_method": "nnspectra.curvature.choose",
    "eigenpairs": "nnspectra.curvature.eigen",
    "eigh_dense": "nnspectra.curvature.eigen",
    "eigvalsh_dense": "nnspectra.curvature.eigen",
    "gauss_newton": "nnspectra.curvature.dense",
    "gradient_moment": "nnspectra.curvature.dense",
    "hessian": "nnspectra.curvature.dense",
    "hessian_decomposition": "nnspectra.curvature.dense",
    "hutchinson_trace": "nnspectra.curvature.density",
    "lanczos_eigsh": "nnspectra.curvature.lanczos",
    "slq": "nnspectra.curvature.density",
    "top_eigenpairs": "nnspectra.curvature.eigen",
}

__all__ = [  # the names of LAZY_EXPORTS, written out for static tools (tests/test_code_hash.py checks they agree)
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


def __getattr__(name: str) -> Any:
    module = LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nnspectra.curvature' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *LAZY_EXPORTS})
