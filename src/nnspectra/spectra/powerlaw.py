"""Power-law tail exponent of a spectrum: CSN maximum likelihood with a KS-chosen ``xmin``.

For a continuous power law ``p(x) ∝ x^(-alpha)`` on ``x >= xmin`` the maximum-likelihood exponent is

    alpha_hat = 1 + n_tail / sum_{x_i >= xmin} ln(x_i / xmin)          (Clauset, Shalizi & Newman 2009, eq. 3.1)

and ``xmin`` is the candidate minimising the Kolmogorov distance between the tail's empirical CDF
and the fitted ``F(x) = 1 - (x / xmin)^(1 - alpha_hat)`` (CSN §3.3). This is WeightWatcher's
``alpha`` and the ``net_esd_estimator`` of Kothapalli et al. 2024 (SPEC §3.0). The Hill variant
fixes ``xmin`` at the median eigenvalue (``fix_fingers="xmin_mid"`` there). Heavy-tailed ESDs in the
HT-SR convention have alpha ≈ 2–4; Marchenko–Pastur bulks give large alpha (≳ 5–6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from nnspectra.errors import NnspectraError

__all__ = ["PowerLawFit", "fit_power_law", "hill_alpha"]


@dataclass(frozen=True)
class PowerLawFit:
    """Fitted tail: exponent ``alpha`` of p(x) ∝ x^-alpha above ``xmin``, tail size and KS distance."""

    alpha: float
    xmin: float
    n_tail: int
    ks: float


def _positive_sorted(eigs: ArrayLike) -> np.ndarray:
    x = np.asarray(eigs, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise NnspectraError("power-law fit needs finite eigenvalues; the spectrum contains NaN or inf")
    x = np.sort(x[x > 0])
    if x.size < 2:
        raise NnspectraError(f"power-law fit needs at least 2 positive eigenvalues, got {x.size}")
    return x


def _mle(tail: np.ndarray, xmin: float) -> float:
    logs = np.log(tail / xmin).sum()
    return float(1.0 + tail.size / logs) if logs > 0 else np.inf


def fit_power_law(eigs: ArrayLike, min_tail: int = 10, xmin_max_quantile: float = 1.0) -> PowerLawFit:
    """CSN fit of the upper tail of ``eigs`` (1-D, positive entries used): alpha, xmin, KS distance.

    Every distinct value with at least ``min_tail`` values at or above it (and at most the
    ``xmin_max_quantile`` quantile) is tried as ``xmin``; the one with the smallest KS distance wins.
    """
    x = _positive_sorted(eigs)
    n = x.size
    if min_tail < 2 or min_tail > n:
        raise NnspectraError(f"min_tail must be in [2, {n}] for this spectrum, got {min_tail}")
    # suffix sums of log x give every candidate's MLE in O(n)
    logx = np.log(x)
    suffix = np.cumsum(logx[::-1])[::-1]
    last = n - min_tail
    upper = min(last, int(np.floor(xmin_max_quantile * (n - 1))))
    best: PowerLawFit | None = None
    starts = np.unique(np.searchsorted(x, x[: upper + 1], side="left"))
    for i in starts:
        m = n - i
        logs = suffix[i] - m * logx[i]
        if logs <= 0:
            continue
        alpha = 1.0 + m / logs
        tail = x[i:]
        model = 1.0 - (tail / x[i]) ** (1.0 - alpha)
        emp_hi = np.arange(1, m + 1) / m
        emp_lo = np.arange(0, m) / m
        ks = float(max(np.max(np.abs(emp_hi - model)), np.max(np.abs(model - emp_lo))))
        if best is None or ks < best.ks:
            best = PowerLawFit(alpha=float(alpha), xmin=float(x[i]), n_tail=int(m), ks=ks)
    if best is None:
        raise NnspectraError("power-law fit found no usable xmin: the spectrum has no spread in its tail")
    return best


def hill_alpha(eigs: ArrayLike) -> PowerLawFit:
    """Hill/CSN MLE with ``xmin`` fixed at the median positive eigenvalue (K24 ``xmin_mid``)."""
    x = _positive_sorted(eigs)
    xmin = float(np.median(x))
    tail = x[x >= xmin]
    alpha = _mle(tail, xmin)
    model = 1.0 - (tail / xmin) ** (1.0 - alpha)
    m = tail.size
    ks = float(max(np.max(np.abs(np.arange(1, m + 1) / m - model)), np.max(np.abs(model - np.arange(m) / m))))
    return PowerLawFit(alpha=alpha, xmin=xmin, n_tail=int(m), ks=ks)
