"""Straight-line interpolation between two trained networks (Sagun et al. 2018 §4.2, seed Fig. 10).

theta(alpha) = theta_I + alpha (theta_II - theta_I); alpha = 0 is the end of Part I (large batch),
alpha = 1 the end of Part II (small batch). Every parameter is interpolated (the bare networks have no
batch-norm statistics); buffers, if any, are taken from the first network.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.func import vmap
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from nnspectra.errors import ConfigError

EvalFn = Callable[[torch.nn.Module], dict[str, float]]


def paper_alphas(start: float = -1.0, stop: float = 2.0, num: int = 22) -> np.ndarray:
    """The seed figure's grid: 22 points on [-1, 2], spacing 1/7, containing 0 and 1 exactly."""
    alphas = np.linspace(start, stop, num)
    return np.round(alphas, 12)


def interpolate_vector(theta_a: torch.Tensor, theta_b: torch.Tensor, alpha: float) -> torch.Tensor:
    """theta_a + alpha (theta_b - theta_a) for flat parameter vectors of equal shape (P,)."""
    if theta_a.shape != theta_b.shape:
        raise ConfigError(f"cannot interpolate parameter vectors of shapes {tuple(theta_a.shape)} and "
                          f"{tuple(theta_b.shape)}; the two networks must have the same architecture")
    return theta_a + alpha * (theta_b - theta_a)


def line_scan(model_a: torch.nn.Module, model_b: torch.nn.Module, alphas: Sequence[float],
              evaluate: EvalFn) -> list[dict[str, float]]:
    """Evaluate ``evaluate(model(alpha))`` along the line from ``model_a`` (alpha=0) to ``model_b`` (1).

    Returns one row per alpha: ``{"alpha": a, **evaluate(...)}``. The two models are not modified.
    """
    theta_a = parameters_to_vector(model_a.parameters()).detach()
    theta_b = parameters_to_vector(model_b.parameters()).detach()
    probe = copy.deepcopy(model_a)
    probe.eval()
    rows = []
    for alpha in alphas:
        with torch.no_grad():
            vector_to_parameters(interpolate_vector(theta_a, theta_b, float(alpha)), probe.parameters())
            rows.append({"alpha": float(alpha), **evaluate(probe)})
    return rows


def barrier_height(alphas: Sequence[float], values: Sequence[float], lo: float = 0.0, hi: float = 1.0) -> float:
    """max of ``values`` over alpha in [lo, hi] minus the larger end-point value (<= 0: no barrier).

    The end points must be on the grid. Used for the train loss on [0, 1] (SPEC claim 16).
    """
    a = np.asarray(alphas, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    i_lo = np.flatnonzero(np.isclose(a, lo))
    i_hi = np.flatnonzero(np.isclose(a, hi))
    if i_lo.size == 0 or i_hi.size == 0:
        raise ConfigError(f"the alpha grid must contain both end points {lo} and {hi} to measure a barrier")
    inside = (a >= lo - 1e-12) & (a <= hi + 1e-12)
    return float(np.max(v[inside]) - max(v[i_lo[0]], v[i_hi[0]]))


def max_monotonicity_violation(alphas: Sequence[float], values: Sequence[float], increasing: bool,
                               lo: float = 0.0, hi: float = 1.0) -> float:
    """Largest step against the expected direction on [lo, hi] (0 when exactly monotone).

    For ``increasing=True`` this is max(0, max_{i<j} v_i - v_j), the deepest dip below an earlier value.
    """
    a = np.asarray(alphas, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(a)
    a, v = a[order], v[order]
    v = v[(a >= lo - 1e-12) & (a <= hi + 1e-12)]
    if v.size < 2:
        return 0.0
    if not increasing:
        v = -v
    running_max = np.maximum.accumulate(v)
    return float(np.max(running_max - v))


def line_losses(theta_a: np.ndarray, theta_b: np.ndarray, alphas: np.ndarray,
                loss_of_theta: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
    """Loss at theta_a + alpha (theta_b - theta_a) for trajectories (T, P) and alphas (A,): (T, A).

    The same straight line as :func:`interpolate_vector`, evaluated for all
    steps and alphas at once (vmapped loss).
    """
    a = torch.as_tensor(theta_a)
    b = torch.as_tensor(theta_b)
    al = torch.as_tensor(np.asarray(alphas, dtype=np.float64))
    points = a[:, None, :] + al[None, :, None] * (b - a)[:, None, :]  # (T, A, P)
    with torch.no_grad():
        vals = vmap(loss_of_theta)(points.reshape(-1, points.shape[-1]))
    return vals.reshape(points.shape[0], points.shape[1]).numpy()
