"""Alignment of vectors with eigenspaces, subspace overlaps and outlier counts (SPEC §2.0).

* A(v, U) = |P_U v|^2 / |v|^2 in [0, 1] for U spanned by the orthonormal columns of Q
  (the continuous version of the paper's "v lives in U up to eps": A >= 1 - eps^2).
* overlap(Q1, Q2) = |Q1^T Q2|_F^2 / r = mean cos^2 of the principal angles (r = dim of the smaller space).
* Outliers are counted by :mod:`nnspectra.spectra.outliers` (``count_above_edge``: above a bulk edge
  estimated from a null run; ``count_largest_gap``).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import orth

from nnspectra.errors import ConfigError


def alignment(v: np.ndarray, Q: np.ndarray) -> float:
    """A(v, span Q) = |Q^T v|^2 / |v|^2 for Q (n, r) with orthonormal columns; 0 when r = 0 or v = 0."""
    v = np.asarray(v, dtype=np.float64).ravel()
    Q = np.asarray(Q, dtype=np.float64).reshape(v.size, -1)
    norm2 = float(v @ v)
    if Q.shape[1] == 0 or norm2 == 0.0:
        return 0.0
    proj = Q.T @ v
    return float(min(1.0, (proj @ proj) / norm2))


def subspace_overlap(Q1: np.ndarray, Q2: np.ndarray) -> float:
    """|Q1^T Q2|_F^2 / min(r1, r2): 1 when the smaller space lies in the larger, 0 when orthogonal."""
    r = min(Q1.shape[1], Q2.shape[1])
    if r == 0:
        return 0.0
    if Q1.shape[0] != Q2.shape[0]:
        raise ConfigError(f"subspaces live in different dimensions ({Q1.shape[0]} vs {Q2.shape[0]})")
    return float(np.sum((Q1.T @ Q2) ** 2) / r)


def span_basis(vectors: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, r) of the span of the rows of ``vectors`` (r, n)."""
    return orth(np.asarray(vectors, dtype=np.float64).T)


def top_space(vecs: np.ndarray, r: int) -> np.ndarray:
    """The first r columns (eigenvectors sorted by decreasing eigenvalue)."""
    return vecs[:, : max(0, int(r))]


def first_crossing(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """First time at which ``values`` reaches ``level``, linearly interpolated in log(time).

    Returns nan when the level is never reached; times must be increasing and > 0 where used.
    """
    times, values = np.asarray(times, float), np.asarray(values, float)
    above = np.nonzero(values >= level)[0]
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0 or times[i - 1] <= 0:
        return float(times[i])
    t0, t1, v0, v1 = np.log(times[i - 1]), np.log(times[i]), values[i - 1], values[i]
    frac = (level - v0) / (v1 - v0) if v1 != v0 else 1.0
    return float(np.exp(t0 + frac * (t1 - t0)))
