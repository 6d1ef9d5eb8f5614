"""Beyond the paper (issue 15, item 4): the Hessian spectral density of the CIFAR-10 AlexNet at the end of
Part I (large batch) and Part II (small batch) of Sagun et al. (2018) §4.2, where P = 1,756,426 puts the
dense Hessian out of reach.

For one model on a seeded sample of N training images: the Hessian spectral density by stochastic
Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019; Papyan 2020 App. D; :func:`nnspectra.curvature.slq`),
optionally the Gauss-Newton one (Sagun et al. 2018 eq. 5), the trace by Hutchinson's estimator (mean and
spread across probes), and the top eigenvalues by the torch thick-restart Lanczos on the same operator
(the outliers the density smooths into its right tail) through the one Lanczos front-end
(:func:`nnspectra.curvature.eigen.top_eigenpairs`). The operators come from
:func:`nnspectra.curvature.spectrum.curvature_operator`. Arrays out, no paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nnspectra.curvature.density import hutchinson_trace, slq
from nnspectra.curvature.eigen import top_eigenpairs
from nnspectra.curvature.lanczos import REORTH
from nnspectra.curvature.spectrum import curvature_operator
from nnspectra.errors import ConfigError

log = logging.getLogger(__name__)
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class DensitySettings:
    """Config ``realdata.cifar.density``: SLQ ``probes`` x ``lanczos_steps`` (products: their product),
    ``grid_points`` of the density, kernel width ``sigma`` (None = Papyan's default from the spectrum's
    range), ``n_samples`` training images (seeded class-agnostic sample; None = the whole training set),
    ``seed`` of the sample and the probes, ``top_k`` top eigenvalues by Lanczos (to ``top_tol``, at most
    ``top_restarts`` restarts), ``hutchinson_probes`` for the trace, ``gauss_newton`` adds the G density,
    ``dtype`` of the products (the Lanczos basis is float64 either way), ``reorth`` the SLQ
    reorthogonalisation ("full", the default; "partial": the same quadrature to rounding, new bytes, a
    fraction of the Krylov work, see :func:`nnspectra.curvature.lanczos.lanczos_tridiagonal`; "none")."""

    probes: int = 10
    lanczos_steps: int = 100
    grid_points: int = 1024
    sigma: float | None = None
    n_samples: int | None = 1000
    seed: int = 0
    top_k: int = 5
    top_tol: float = 1e-6
    top_restarts: int = 50
    hutchinson_probes: int = 100
    gauss_newton: bool = True
    dtype: str = "float64"
    reorth: str = "full"

    def __post_init__(self) -> None:
        if self.reorth not in REORTH:
            raise ConfigError(f"realdata.cifar.density.reorth '{self.reorth}' is not one of {list(REORTH)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"realdata.cifar.density.dtype '{self.dtype}' is not one of {sorted(DTYPES)}")
        if self.probes < 2 or self.hutchinson_probes < 2:
            raise ConfigError("realdata.cifar.density.probes and hutchinson_probes must be >= 2 (the spread needs two)")


def sample_images(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded sample of ``n`` of the (x, y) pairs (all of them when ``n`` is None or >= len(y))."""
    if n is None or n >= len(y):
        return x, y
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[: int(n)].sort().values
    return x[idx], y[idx]


def curvature_density(model: torch.nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor,
                      settings: DensitySettings, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Spectral density, trace and top eigenvalues of the Hessian of the mean loss ``loss_fn(model(x), y)``.

    Returns numpy arrays: ``grid`` (G,) and ``density`` (G,) (per unit eigenvalue, integrates to ~1),
    ``density_std`` (G,) across probes, ``top`` (top_k,) descending with ``top_residuals``,
    ``trace_samples`` (hutchinson_probes,), ``trace_mean`` / ``trace_std`` (spread across probes),
    ``slq_trace_mean`` / ``slq_trace_std``; with ``gauss_newton`` the same density keys prefixed ``gn_``;
    and ``n_params``, ``n_samples``, ``sigma``, ``products``.
    """
    dtype = DTYPES[settings.dtype]
    model = model.to(device)
    x, y = x.to(device), y.to(device)
    op = curvature_operator("hessian", model, loss_fn, x, y, dtype=dtype, device=device)
    p = op.size
    log.info("Hessian density: P = %d, N = %d, %d probes x %d Lanczos steps (%s, %s)", p, len(y), settings.probes,
             settings.lanczos_steps, settings.dtype, device)
    dens = slq(op, settings.probes, settings.lanczos_steps, seed=settings.seed, grid_points=settings.grid_points,
               sigma=settings.sigma, reorth=settings.reorth)
    log.info("SLQ done: %d products, %.1f s; support [%.4g, %.4g]", dens.n_products, dens.seconds,
             float(dens.nodes[dens.weights > 0].min()), float(dens.nodes[dens.weights > 0].max()))
    trace = hutchinson_trace(op, settings.hutchinson_probes, seed=settings.seed + 1)
    log.info("Hutchinson trace %.6g +- %.2g (std over %d probes)", trace.mean, trace.std, settings.hutchinson_probes)
    k = min(int(settings.top_k), p - 1)
    info: dict[str, Any] = {}
    top, _ = top_eigenpairs(op, k, tol=settings.top_tol, maxiter=settings.top_restarts, seed=settings.seed,
                            return_vectors=False, on_no_convergence="all", info=info)
    log.info("top-%d Lanczos eigenvalues (%s, %d restarts): %s", k, "converged" if info["converged"] else
             "NOT converged", info["n_restarts"], np.array2string(top, precision=4))
    out: dict[str, Any] = {
        "grid": dens.grid, "density": dens.density, "density_std": dens.density_per_probe.std(0),
        "top": top, "top_residuals": info["residuals"], "top_converged": np.asarray(info["converged"]),
        "trace_samples": trace.samples, "trace_mean": np.asarray(trace.mean), "trace_std": np.asarray(trace.std),
        "slq_trace_mean": np.asarray(dens.trace_mean), "slq_trace_std": np.asarray(dens.trace_std),
        "sigma": np.asarray(dens.sigma), "n_params": np.asarray(p), "n_samples": np.asarray(len(y)),
    }
    if settings.gauss_newton:
        gn_op = curvature_operator("gauss_newton", model, loss_fn, x, y, dtype=dtype, device=device)
        gn = slq(gn_op, settings.probes, settings.lanczos_steps, seed=settings.seed, grid_points=settings.grid_points,
                 sigma=settings.sigma, reorth=settings.reorth)
        log.info("Gauss-Newton SLQ done: %d products, %.1f s", gn.n_products, gn.seconds)
        out.update(gn_grid=gn.grid, gn_density=gn.density, gn_density_std=gn.density_per_probe.std(0),
                   gn_trace_mean=np.asarray(gn.trace_mean), gn_trace_std=np.asarray(gn.trace_std))
        gn_products = gn_op.n_products
    else:
        gn_products = 0
    out["products"] = np.asarray(op.n_products + gn_products)
    model.cpu()
    return out
