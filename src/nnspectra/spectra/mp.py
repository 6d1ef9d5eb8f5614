"""Marchenko–Pastur (MP) law: edges, density, CDF (with the atom at 0) and KS distances.

Convention (used throughout nnspectra). Let ``W`` be an ``h x d`` matrix with i.i.d. entries of
mean 0 and variance ``sigma2``. As ``h, d -> inf`` with ``ratio = d / h`` fixed, the empirical
spectral distribution (ESD) of the ``d x d`` matrix ``W^T W / h`` converges to the MP law

    mu = max(0, 1 - 1/ratio) * delta_0 + rho(x) dx,
    rho(x) = sqrt((b - x)(x - a)) / (2 pi sigma2 ratio x)   on [a, b],
    a, b = sigma2 (1 -+ sqrt(ratio))^2,

(Marchenko & Pastur 1967; Bai & Silverstein 2010, Thm 3.6). For ``ratio > 1`` the matrix has rank
``h < d``, so a fraction ``1 - 1/ratio`` of its eigenvalues are exactly 0 (the atom) and the
absolutely continuous part ``rho`` integrates to ``1/ratio``. The law has mean ``sigma2`` for every
ratio, which is how :func:`fit_mp_scale` estimates ``sigma2``.

The same law describes a sample covariance ``X^T X / N`` of ``N`` samples in dimension ``M`` with
``ratio = M / N`` (Sagun et al. 2018, App. B).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from nnspectra.errors import NnspectraError

__all__ = [
    "fit_mp_scale",
    "ks_distance",
    "ks_distance_to_mp",
    "mp_atom",
    "mp_cdf",
    "mp_density",
    "mp_edges",
]


def _check(ratio: float, sigma2: float) -> None:
    if not (np.isfinite(ratio) and ratio > 0):
        raise NnspectraError(f"MP ratio must be a positive finite number (d/h), got {ratio!r}")
    if not (np.isfinite(sigma2) and sigma2 > 0):
        raise NnspectraError(f"MP variance sigma2 must be a positive finite number, got {sigma2!r}")


def mp_edges(ratio: float, sigma2: float = 1.0) -> tuple[float, float]:
    """Edges ``(a, b) = sigma2 (1 -+ sqrt(ratio))^2`` of the continuous part of the MP law."""
    _check(ratio, sigma2)
    root = np.sqrt(ratio)
    return float(sigma2 * (1.0 - root) ** 2), float(sigma2 * (1.0 + root) ** 2)


def mp_atom(ratio: float) -> float:
    """Mass of the point mass at 0: ``max(0, 1 - 1/ratio)`` (0 when ``ratio <= 1``)."""
    _check(ratio, 1.0)
    return float(max(0.0, 1.0 - 1.0 / ratio))


def mp_density(x: ArrayLike, ratio: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """Density of the absolutely continuous part of the MP law at ``x`` (same shape as ``x``).

    ``rho(x) = sqrt((b-x)(x-a)) / (2 pi sigma2 ratio x)`` on ``[a, b]``, 0 elsewhere. For
    ``ratio > 1`` it integrates to ``1/ratio``; the missing ``1 - 1/ratio`` is the atom at 0
    (see :func:`mp_atom`), which a density cannot represent.
    """
    a, b = mp_edges(ratio, sigma2)
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    inside = (x > a) & (x < b) & (x > 0)
    xi = x[inside]
    out[inside] = np.sqrt((b - xi) * (xi - a)) / (2.0 * np.pi * sigma2 * ratio * xi)
    return out


def _upper_tail_mass(x: NDArray[np.float64], ratio: float, sigma2: float) -> NDArray[np.float64]:
    """``int_x^b rho`` for ``a <= x <= b``, in closed form.

    With ``x = m + r cos(theta)``, ``m = sigma2 (1 + ratio)``, ``r = 2 sigma2 sqrt(ratio)``:
    ``int_x^b rho = r^2/(2 pi sigma2 ratio) * int_0^theta sin^2/(m + r cos)``, and
    ``sin^2/(m + r cos) = -cos/r + m/r^2 + (1 - m^2/r^2)/(m + r cos)`` integrates to elementary
    functions (the last term by the Weierstrass substitution).
    """
    m = sigma2 * (1.0 + ratio)
    r = 2.0 * sigma2 * np.sqrt(ratio)
    theta = np.arccos(np.clip((x - m) / r, -1.0, 1.0))
    gap = np.sqrt(max(m * m - r * r, 0.0))  # = sigma2 |1 - ratio|
    half = theta / 2.0
    atan = np.arctan2(np.sqrt(max(m - r, 0.0)) * np.sin(half), np.sqrt(m + r) * np.cos(half))
    integral = -np.sin(theta) / r + m * theta / r**2 - 2.0 * gap / r**2 * atan
    return r**2 / (2.0 * np.pi * sigma2 * ratio) * integral


def mp_cdf(x: ArrayLike, ratio: float, sigma2: float = 1.0) -> NDArray[np.float64]:
    """Cumulative distribution ``F(x) = mu((-inf, x])`` of the MP law, including the atom at 0."""
    a, b = mp_edges(ratio, sigma2)
    x = np.asarray(x, dtype=np.float64)
    atom = mp_atom(ratio)
    continuous_mass = 1.0 - atom
    out = np.where(x >= 0.0, atom, 0.0)
    out = np.where(x >= b, 1.0, out)
    inside = (x > a) & (x < b)
    out[inside] = atom + continuous_mass - _upper_tail_mass(x[inside], ratio, sigma2)
    return np.clip(out, 0.0, 1.0)


def fit_mp_scale(eigs: ArrayLike) -> float:
    """Estimate ``sigma2`` as the mean eigenvalue (the MP law has mean ``sigma2`` for any ratio)."""
    eigs = np.asarray(eigs, dtype=np.float64)
    if eigs.size == 0:
        raise NnspectraError("cannot fit an MP scale to an empty spectrum")
    return float(np.mean(eigs))


def ks_distance_to_mp(eigs: ArrayLike, ratio: float, sigma2: float = 1.0) -> float:
    """Kolmogorov–Smirnov distance ``sup_x |F_emp(x) - F_MP(x)|`` between a spectrum and MP.

    ``eigs`` are eigenvalues of a positive semi-definite matrix; round-off negatives (and the
    numerically tiny eigenvalues standing for the atom) are clipped to 0 so they meet the atom.
    """
    eigs = np.asarray(eigs, dtype=np.float64).ravel()
    if eigs.size == 0:
        raise NnspectraError("cannot compare an empty spectrum with the MP law")
    _check(ratio, sigma2)
    scale = max(float(np.max(np.abs(eigs))), sigma2)
    eigs = np.where(eigs < 1e-10 * scale, 0.0, eigs)
    # Evaluate both CDFs at each distinct value and just left of it: ties (the atom) are handled
    # exactly, unlike scipy.stats.kstest, which assumes a continuous law.
    values, counts = np.unique(eigs, return_counts=True)
    emp_right = np.cumsum(counts) / eigs.size
    emp_left = emp_right - counts / eigs.size
    law_right = mp_cdf(values, ratio, sigma2)
    law_left = law_right - np.where(values == 0.0, mp_atom(ratio), 0.0)
    return float(max(np.max(np.abs(emp_right - law_right)), np.max(np.abs(emp_left - law_left))))


def ks_distance(eigs_a: ArrayLike, eigs_b: ArrayLike) -> float:
    """Two-sample Kolmogorov distance between two empirical spectra (``scipy.stats.ks_2samp``)."""
    eigs_a = np.asarray(eigs_a, dtype=np.float64).ravel()
    eigs_b = np.asarray(eigs_b, dtype=np.float64).ravel()
    if eigs_a.size == 0 or eigs_b.size == 0:
        raise NnspectraError("cannot compute a KS distance with an empty spectrum")
    return float(stats.ks_2samp(eigs_a, eigs_b, method="asymp").statistic)
