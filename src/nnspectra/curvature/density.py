"""Spectral density and trace of a curvature operator beyond dense reach: SLQ and Hutchinson.

Stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019, "An investigation into neural net
optimization via Hessian eigenvalue density", §2-3; Papyan 2020, JMLR 21, App. D, Alg. 2): for each
random unit probe q, m Lanczos steps give a tridiagonal T_m = S diag(theta) S^T; the nodes theta_j with
weights w_j = S[0, j]^2 are the m-point Gauss quadrature of the probe's spectral measure
sum_i (q . u_i)^2 delta(lambda - lambda_i) (exact for polynomials of degree <= 2m - 1). Averaging over
probes estimates the spectral density (1/P) sum_i delta(lambda - lambda_i); a Gaussian kernel of width
``sigma`` turns the nodes into a smooth density on a grid. Chen, Trogdon & Ubaru (ICML 2021, Thm. 1):
with probes uniform on the sphere, W1(SLQ, spectrum) <= t (lambda_max - lambda_min) with probability
>= 1 - eta once m >= 12/t + 1/2 and n_probes >= 4 ln(2P/eta) / ((P + 2) t^2) -- see :func:`slq_w1_bound`.

Hutchinson's estimator tr(A) ~ mean over Rademacher z of z^T A z (one product per probe) gives the
trace; SLQ's own trace estimate P * sum_j w_j theta_j equals it for the same probes.

Everything takes a :class:`nnspectra.curvature.operators.TorchOperator` (e.g. HessianProducts or
GaussNewtonProducts) and returns numpy arrays; probes are processed ``block`` at a time as one block
product per Lanczos step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from nnspectra.curvature.lanczos import lanczos_tridiagonal
from nnspectra.curvature.operators import TorchOperator, as_torch_operator

PROBES = ("rademacher", "gaussian")


@dataclass
class SpectralDensity:
    """SLQ output (numpy). Shapes: ``grid`` (G,), ``density`` (G,) the mean over probes,
    ``density_per_probe`` (n_probes, G), ``nodes`` / ``weights`` (n_probes, m) with weights summing to 1
    per probe (zero weight for the unused steps of a run that found an invariant subspace). ``trace_mean``
    / ``trace_std`` are the SLQ trace estimate P * sum_j w_j theta_j over probes (std across probes; the
    standard error is std / sqrt(n_probes)). ``sigma``: kernel width (eigenvalue units). ``meta["overlap"]``
    ("partial" reorthogonalisation only): the largest measured |q_last . q_k| of any run (see
    :class:`~nnspectra.curvature.lanczos.Tridiagonal`)."""

    grid: np.ndarray
    density: np.ndarray
    density_per_probe: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    trace_per_probe: np.ndarray
    trace_mean: float
    trace_std: float
    sigma: float
    n_params: int
    n_steps: int
    n_products: int
    seconds: float
    probe: str = "rademacher"
    meta: dict = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as .npz-ready arrays."""
        return {k: np.asarray(v) for k, v in self.__dict__.items() if k != "meta"}


def _probes(size: int, count: int, kind: str, gen: torch.Generator) -> torch.Tensor:
    if kind == "rademacher":
        # in place: one float64 buffer instead of three (the same values: 2 r - 1 is exact)
        return torch.randint(0, 2, (count, size), generator=gen, dtype=torch.int8).to(torch.float64).mul_(2).sub_(1)
    if kind == "gaussian":
        return torch.randn(count, size, generator=gen, dtype=torch.float64)
    raise ValueError(f"probe must be one of {PROBES}, got {kind!r}")


def quadrature(alpha: torch.Tensor, beta: torch.Tensor, steps: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Gauss quadrature nodes and weights (b, m) from b Lanczos tridiagonals (eigh of each T_m)."""
    b, m = alpha.shape
    nodes = np.zeros((b, m))
    weights = np.zeros((b, m))
    for i in range(b):
        s = int(steps[i])
        t = torch.diag(alpha[i, :s]) + torch.diag(beta[i, : s - 1], 1) + torch.diag(beta[i, : s - 1], -1)
        theta, vecs = torch.linalg.eigh(t)
        nodes[i, :s] = theta.numpy()
        weights[i, :s] = (vecs[0] ** 2).numpy()
        if s < m:  # unused slots: zero weight, node at the first node (keeps min/max meaningful)
            nodes[i, s:] = theta[0].item()
    return nodes, weights


def default_sigma(lo: float, hi: float, n_steps: int, kappa: float = 3.0, margin: float = 0.05) -> float:
    """Kernel width of Papyan (2020) App. D.2 (as in curvlinops): 2 / (m - 1) / sqrt(8 ln kappa) on the
    spectrum padded by ``margin`` and mapped to [-1, 1], in eigenvalue units."""
    half = (hi - lo) * (1 + 2 * margin) / 2
    return 2.0 / max(n_steps - 1, 1) / math.sqrt(8 * math.log(kappa)) * half


def smooth_density(nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """Per-row densities sum_j w_j N(grid; nodes_j, sigma^2): (b, m) nodes/weights -> (b, G)."""
    z = (grid[None, None, :] - nodes[:, :, None]) / sigma
    return (weights[:, :, None] * np.exp(-0.5 * z * z)).sum(1) / (sigma * math.sqrt(2 * math.pi))


def slq(op: TorchOperator | torch.Tensor, n_probes: int = 10, n_steps: int = 100, *, seed: int = 0,
        probe: str = "rademacher", reorth: bool | str = True, block: int | None = None, grid_points: int = 1024,
        sigma: float | None = None, kappa: float = 3.0, margin: float = 0.05,
        bounds: tuple[float, float] | None = None, starts: torch.Tensor | None = None,
        budget_gb: float | None = None) -> SpectralDensity:
    """Spectral density of a symmetric operator by stochastic Lanczos quadrature (see module docstring).

    ``n_probes`` random probes (``probe``: rademacher | gaussian; or explicit ``starts`` (n_probes, P)),
    ``n_steps`` Lanczos steps each (products: n_probes * n_steps), ``block`` probes per lockstep run
    (default all; the reorthogonalisation basis takes block * n_steps * P float64). ``reorth``: "full" (True,
    the default), "partial" (Simon's partial reorthogonalisation: the same quadrature to rounding-level
    differences, new bytes, a fraction of the Krylov work) or "none" (False); see
    :func:`nnspectra.curvature.lanczos.lanczos_tridiagonal`. The grid spans
    ``bounds`` (default: the extreme nodes, which converge to the extreme eigenvalues first) padded by
    ``margin``; ``sigma`` defaults to :func:`default_sigma` (``kappa``). A basis beyond ``budget_gb`` (default
    80% of the job's memory limit) stops before the first product with one line that says what fits.
    """
    import time

    op = as_torch_operator(op)
    if n_probes < 1 or n_steps < 1:
        raise ValueError(f"SLQ needs at least one probe and one step, got n_probes={n_probes}, n_steps={n_steps}")
    start = time.perf_counter()
    products0 = op.n_products
    gen = torch.Generator().manual_seed(seed)
    given = starts is not None
    if starts is None:
        starts = _probes(op.size, n_probes, probe, gen)
    else:
        n_probes = int(starts.shape[0])
    block = n_probes if block is None else max(1, int(block))
    alphas, betas, steps, overlaps = [], [], [], []
    for b0 in range(0, n_probes, block):
        tri = lanczos_tridiagonal(op, starts[b0 : b0 + block], n_steps, reorth=reorth, budget_gb=budget_gb)
        alphas.append(tri.alpha)
        betas.append(tri.beta)
        steps.append(tri.steps)
        if tri.overlap is not None:
            overlaps.append(tri.overlap)
    nodes, weights = quadrature(torch.cat(alphas), torch.cat(betas), torch.cat(steps))
    used = weights > 0
    lo, hi = (float(nodes[used].min()), float(nodes[used].max())) if bounds is None else map(float, bounds)
    if hi <= lo:  # a multiple of the identity: give the grid some width
        pad = max(abs(lo), 1.0) * 1e-3
        lo, hi = lo - pad, hi + pad
    width = hi - lo
    grid = np.linspace(lo - margin * width, hi + margin * width, grid_points)
    sig = default_sigma(lo, hi, nodes.shape[1], kappa, margin) if sigma is None else float(sigma)
    per_probe = smooth_density(nodes, weights, grid, sig)
    traces = op.size * (weights * nodes).sum(1)
    return SpectralDensity(grid=grid, density=per_probe.mean(0), density_per_probe=per_probe, nodes=nodes,
                           weights=weights, trace_per_probe=traces, trace_mean=float(traces.mean()),
                           trace_std=float(traces.std(ddof=1)) if n_probes > 1 else float("nan"), sigma=sig,
                           n_params=op.size, n_steps=int(nodes.shape[1]), n_products=op.n_products - products0,
                           seconds=time.perf_counter() - start, probe="given" if given else probe,
                           meta={"overlap": float(torch.cat(overlaps).max())} if overlaps else {})


@dataclass
class TraceEstimate:
    """Hutchinson trace: ``samples`` (n_probes,) of z^T A z, their mean and std (std error = std / sqrt(n))."""

    samples: np.ndarray
    mean: float
    std: float
    n_products: int


def hutchinson_trace(op: TorchOperator | torch.Tensor, n_probes: int = 100, *, seed: int = 0,
                     probe: str = "rademacher", block: int = 16) -> TraceEstimate:
    """Hutchinson's estimator of tr(A): the mean of z^T A z over ``n_probes`` random probes z (Rademacher
    by default, the minimum-variance choice for real z), ``block`` probes per block product."""
    op = as_torch_operator(op)
    if n_probes < 1:
        raise ValueError(f"Hutchinson needs at least one probe, got {n_probes}")
    gen = torch.Generator().manual_seed(seed)
    products0 = op.n_products
    samples = []
    for b0 in range(0, n_probes, block):
        z = _probes(op.size, min(block, n_probes - b0), probe, gen).to(op.device)
        az = op.matmat(z.to(op.dtype)).to(torch.float64)
        samples.append((z * az).sum(1).cpu())
    vals = torch.cat(samples).numpy()
    return TraceEstimate(samples=vals, mean=float(vals.mean()),
                         std=float(vals.std(ddof=1)) if n_probes > 1 else float("nan"),
                         n_products=op.n_products - products0)


def w1_distance(nodes: np.ndarray, weights: np.ndarray, eigenvalues: np.ndarray) -> float:
    """Wasserstein-1 distance between the SLQ measure (all probes' nodes, weights / n_probes) and the
    uniform measure on the exact eigenvalues (scipy.stats.wasserstein_distance)."""
    from scipy.stats import wasserstein_distance

    w = np.asarray(weights, dtype=float).ravel()
    keep = w > 0
    return float(wasserstein_distance(np.asarray(nodes).ravel()[keep], np.asarray(eigenvalues).ravel(),
                                      u_weights=w[keep]))


def slq_w1_bound(size: int, n_probes: int, n_steps: int, eta: float = 1e-3) -> float:
    """Chen, Trogdon & Ubaru (2021, Thm. 1) bound t on W1 / (lambda_max - lambda_min), holding with probability
    >= 1 - eta for probes uniform on the sphere: the smallest t with n_steps >= 12/t + 1/2 and
    n_probes >= 4 ln(2 P / eta) / ((P + 2) t^2)."""
    t_steps = 12.0 / (n_steps - 0.5) if n_steps > 0.5 else math.inf
    t_probes = math.sqrt(4 * math.log(2 * size / eta) / ((size + 2) * n_probes))
    return max(t_steps, t_probes)
