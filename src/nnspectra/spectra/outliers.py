"""Count the outlier eigenvalues of a Hessian spectrum (Sagun et al. 2018, Table 1 / Appendix A).

All rules look at the ``top`` largest eigenvalues lambda_1 >= lambda_2 >= ... (default 120, the window
of the paper's Fig. 3) and return an :class:`OutlierCount` whose ``count`` equals the number of
eigenvalues strictly above ``cutoff``:

* ``gap``: k = argmax_i (lambda_i - lambda_{i+1}) (largest consecutive gap); cutoff halfway in the gap.
* ``ratio``: k = argmax_i lambda_i / lambda_{i+1} over positive eigenvalues with
  lambda_{i+1} > ``floor`` * lambda_1 (so near-zero denominators cannot win); cutoff at the geometric
  mean of the pair. ``ratio_shifted`` reports k + 1, the index convention the published ratio counts
  appear to use (SPEC §1.4: they are systematically k+1 or k+2).
* ``elbow``: automatic version of the paper's hand-picked "elbow in the scree plot". Kneedle
  (Satopaa et al. 2011) on the linear scree of the top eigenvalues: with rank and value rescaled to
  [0, 1], the elbow is the rank j whose point lies farthest below the chord from the first to the last
  point; the cutoff is lambda_j (the first bulk value) and the count is j - 1. It never sees the
  number of classes.
* ``edge``: ours. Bulk edge estimated as ``tau`` x the median of the top eigenvalues (the median of the
  top 120 lies in the bulk whenever fewer than 60 outliers exist; SPEC claim 10 uses tau = 10); the
  count is the number of eigenvalues above it.

Plain counts for spectra whose bulk edge is known or whose window is bounded: :func:`count_above_edge`
and :func:`count_largest_gap` (Ben Arous et al.), :func:`count_beyond_factor` (above a multiple of a known
edge: Wang et al.'s outliers, the MP appendix's far outliers :func:`count_far_outliers`), and
:func:`isolated_eigenvalues` (Sagun, Bottou & LeCun 2016, claim 20). Every counting rule of the project
lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nnspectra.errors import ConfigError, NnspectraError
from nnspectra.spectra.mp import mp_edges

RULES = ("gap", "ratio", "ratio_shifted", "elbow", "edge")


@dataclass(frozen=True)
class OutlierCount:
    """Result of one counting rule: ``count`` eigenvalues lie above ``cutoff``."""

    rule: str
    count: int
    cutoff: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)


def _top_descending(eigs: np.ndarray, top: int) -> np.ndarray:
    lam = np.asarray(eigs, dtype=np.float64).ravel()
    if lam.size < 3:
        raise ConfigError(f"outlier counting needs at least 3 eigenvalues, got {lam.size}")
    if not np.all(np.isfinite(lam)):
        raise NnspectraError("the spectrum contains NaN or infinite eigenvalues; recompute the Hessian")
    if top < 3:
        raise ConfigError(f"outlier counting window 'top' must be >= 3, got {top}")
    return np.sort(lam)[::-1][:top]


def _between(lam: np.ndarray, count: int) -> float:
    """Midpoint between lambda_count and lambda_{count+1} (1-based), so that count values lie above."""
    return float(0.5 * (lam[count - 1] + lam[count])) if count < lam.size else float(lam[-1])


def count_gap(eigs: np.ndarray, top: int = 120) -> OutlierCount:
    """Largest consecutive gap among the ``top`` largest eigenvalues."""
    lam = _top_descending(eigs, top)
    gaps = lam[:-1] - lam[1:]
    i = int(np.argmax(gaps)) + 1
    return OutlierCount("gap", i, _between(lam, i), {"gap": float(gaps[i - 1])})


def count_ratio(eigs: np.ndarray, top: int = 120, floor: float = 1e-6, shifted: bool = False) -> OutlierCount:
    """Largest consecutive ratio lambda_i / lambda_{i+1} over the positive part of the top window."""
    lam = _top_descending(eigs, top)
    if lam[0] <= 0:
        raise NnspectraError("ratio rule needs a positive largest eigenvalue; the spectrum has none")
    valid = lam[1:] > floor * lam[0]
    n_valid = int(np.argmin(valid)) if not valid.all() else valid.size  # valid is a prefix (lam sorted)
    if n_valid == 0:
        raise NnspectraError(f"ratio rule: no eigenvalue pair with lambda_(i+1) > {floor:g} * lambda_1")
    ratios = lam[:n_valid] / lam[1 : n_valid + 1]
    i = int(np.argmax(ratios)) + 1
    cutoff = float(np.sqrt(lam[i - 1] * lam[i]))
    details = {"ratio": float(ratios[i - 1]), "index_convention": "i+1" if shifted else "i"}
    if shifted:
        return OutlierCount("ratio_shifted", i + 1, float(np.sqrt(lam[i] * lam[i + 1])) if i + 1 < lam.size
                            else float(lam[-1]), details)
    return OutlierCount("ratio", i, cutoff, details)


def count_elbow(eigs: np.ndarray, top: int = 120) -> OutlierCount:
    """Kneedle elbow of the linear scree of the ``top`` largest eigenvalues (automatic threshold)."""
    lam = _top_descending(eigs, top)
    span = lam[0] - lam[-1]
    if span <= 0:
        return OutlierCount("elbow", 0, float(lam[0]), {"distance": 0.0})
    x = np.linspace(0.0, 1.0, lam.size)
    y = (lam - lam[-1]) / span  # 1 at rank 1, 0 at rank `top`
    distance = (1.0 - x) - y  # how far each point lies below the chord
    j = int(np.argmax(distance)) + 1  # 1-based rank of the elbow = first bulk eigenvalue
    return OutlierCount("elbow", j - 1, float(lam[j - 1]), {"distance": float(distance[j - 1])})


def count_edge(eigs: np.ndarray, top: int = 120, tau: float = 2.0) -> OutlierCount:
    """Eigenvalues above ``tau`` x the median of the ``top`` largest (estimated bulk edge)."""
    if not tau > 0:
        raise ConfigError(f"edge rule factor tau must be > 0, got {tau}")
    lam = _top_descending(eigs, top)
    median = float(np.median(lam))
    cutoff = tau * median
    return OutlierCount("edge", int(np.sum(lam > cutoff)), cutoff, {"median_top": median, "tau": tau})


def count_above_edge(eigs: np.ndarray, edge: float, margin: float = 0.0) -> int:
    """Eigenvalues strictly above a known bulk edge: above edge + margin |edge| (e.g. a null-run edge)."""
    threshold = edge + margin * abs(edge)
    return int(np.sum(np.asarray(eigs) > threshold))


def count_beyond_factor(eigs: np.ndarray, edge: float, factor: float) -> int:
    """Eigenvalues strictly above ``factor`` x a known bulk edge (Wang et al.: ``outlier_factor`` x the MP
    edge of W_l, or the init's top eigenvalue for CK and NTK)."""
    return int(np.sum(np.asarray(eigs) > factor * edge))


def count_far_outliers(eigs: np.ndarray, ratio: float, n_samples: int, factor: float) -> tuple[int, float]:
    """(count, edge): eigenvalues above ``factor`` x the bulk edge of the two-blob Hessian of the MP appendix
    (Sagun et al. 2018); the bulk edge is the MP upper edge of the noise.

    For the two-blob Hessian the noise part is (1/2) Z^T Z (Z: N x d standard normal), whose largest
    eigenvalue concentrates at N (1 + sqrt(d/N))^2 / 2.
    """
    edge = 0.5 * n_samples * mp_edges(ratio, 1.0)[1]
    return count_beyond_factor(eigs, edge, factor), float(edge)


#: claim 20 (Sagun, Bottou & LeCun 2016): "the rest within +-0.1 lambda_max of 0"
ISOLATED_FRACTION = 0.1


@dataclass(frozen=True)
class IsolatedEigenvalues:
    """Claim 20's reading of a spectrum: eigenvalues above ``fraction``·λ_max, and whether all the
    others lie within ±``fraction``·λ_max of 0."""

    count: int
    rest_within: bool
    cutoff: float
    lambda_max: float

    @property
    def is_isolated_pair(self) -> bool:
        """Exactly two isolated eigenvalues and the rest near 0 (the P0 Fig 4 picture)."""
        return self.count == 2 and self.rest_within


def isolated_eigenvalues(eigs: np.ndarray, fraction: float = ISOLATED_FRACTION) -> IsolatedEigenvalues:
    """Count eigenvalues > fraction·λ_max; check the rest are in [-fraction·λ_max, fraction·λ_max]."""
    lam = np.asarray(eigs, dtype=np.float64).ravel()
    if lam.size == 0 or not np.all(np.isfinite(lam)):
        raise ConfigError("isolated_eigenvalues needs a non-empty finite spectrum")
    top = float(lam.max())
    cutoff = fraction * top
    above = lam > cutoff
    rest = lam[~above]
    return IsolatedEigenvalues(int(above.sum()), bool(top > 0 and np.all(rest >= -cutoff)), cutoff, top)


def count_largest_gap(eigs: np.ndarray, max_count: int | None = None) -> int:
    """The gap rule as a plain count, the largest gap looked for among the first ``max_count`` gaps.

    Same as :func:`count_gap` with a window of ``max_count + 1`` eigenvalues; spectra of fewer than 3
    eigenvalues count as all outliers.
    """
    lam = np.asarray(eigs, dtype=np.float64).ravel()
    if lam.size < 3:
        return int(lam.size)
    return count_gap(lam, top=lam.size if max_count is None else int(max_count) + 1).count


def count_outliers(eigs: np.ndarray, rule: str = "gap", **kw: Any) -> OutlierCount:
    """Count outliers of a spectrum ``eigs`` (any order, shape (P,)) with one of :data:`RULES`.

    Keyword options: ``top`` (all rules), ``floor`` (ratio), ``tau`` (edge).
    """
    if rule == "gap":
        return count_gap(eigs, **kw)
    if rule in ("ratio", "ratio_shifted"):
        return count_ratio(eigs, shifted=rule == "ratio_shifted", **kw)
    if rule == "elbow":
        return count_elbow(eigs, **kw)
    if rule == "edge":
        return count_edge(eigs, **kw)
    raise ConfigError(f"outlier rule '{rule}' is not one of {RULES}")


def count_all(eigs: np.ndarray, top: int = 120, floor: float = 1e-6, tau: float = 2.0) -> dict[str, OutlierCount]:
    """Every rule of :data:`RULES` on the same spectrum."""
    out = {"gap": count_gap(eigs, top), "ratio": count_ratio(eigs, top, floor),
           "ratio_shifted": count_ratio(eigs, top, floor, shifted=True), "elbow": count_elbow(eigs, top),
           "edge": count_edge(eigs, top, tau)}
    return out


def spectrum_counts(eigs: np.ndarray, top: int = 120, floor: float = 1e-6, tau: float = 2.0) -> dict[str, Any]:
    """JSON record of a spectrum: its extremes, size and every rule's :class:`OutlierCount`."""
    lam = np.asarray(eigs, dtype=np.float64)
    return {"lambda_max": float(lam.max()), "lambda_min": float(lam.min()), "n_params": int(lam.size),
            "rules": {rule: c.as_dict() for rule, c in count_all(lam, top, floor, tau).items()}}
