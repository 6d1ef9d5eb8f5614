"""Exact curvature of a model's mean training loss: Hessian, Gauss-Newton part and residual.

Public API (stable; the implementation behind it is chosen by benchmark, see benchmarks/):

* :func:`hessian` -- dense P x P Hessian of the mean loss over all parameters.
* :func:`gauss_newton` -- its Gauss-Newton part J^T H_out J (positive semi-definite).
* :func:`hessian_decomposition` -- (H, G, R) with R = H - G.
"""

from nnspectra.curvature.dense import (
    flat_parameters,
    gauss_newton,
    hessian,
    hessian_decomposition,
    loss_of_flat_params,
)

__all__ = ["flat_parameters", "gauss_newton", "hessian", "hessian_decomposition", "loss_of_flat_params"]
