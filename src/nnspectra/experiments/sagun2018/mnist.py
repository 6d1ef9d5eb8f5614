"""Sagun et al. (2018) §3.2, seed Figs. 4-6: 784-n-10 MLPs on a 1K MNIST subset, growing width n.

Stages: :func:`nnspectra.experiments.sagun2018.mnist_training.train_mnist_mlp` (full-batch GD, the same step size
and iteration count for every width) -> the exact Hessian spectrum at the end point
(:func:`nnspectra.curvature.spectrum.hessian_spectrum`) -> :func:`mnist_width_metrics` (claims 8-10: right edge invariant in n, ~1.1 % negative eigenvalues,
outlier count independent of n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nnspectra.spectra.outliers import count_edge


@dataclass(frozen=True)
class WidthAnalysis:
    """Config ``realdata.mnist.analysis``: ranks compared across widths, outlier rule tau x median of a window."""

    compare_top: int = 20
    outlier_tau: float = 10.0
    window: int = 120


def _scalar(arrays: Mapping[str, np.ndarray], key: str) -> float | bool:
    return np.asarray(arrays[key]).item()


def negative_fraction(arrays: Mapping[str, np.ndarray]) -> float:
    """Fraction of eigenvalues below -tol (NaN when a Lanczos window did not reach the zero crossing)."""
    if not bool(_scalar(arrays, "negative_count_exact")):
        return math.nan
    return float(_scalar(arrays, "n_negative")) / float(_scalar(arrays, "n_params"))


def mnist_width_metrics(spectra: Mapping[int, Mapping[str, np.ndarray]], compare_top: int = 20,
                        outlier_tau: float = 10.0, window: int = 120, n_classes: int = 10) -> dict[str, float]:
    """Claims 8-10 for one seed from the per-width spectrum records ``{width: arrays}``.

    ``top20_max_rel_dev`` compares the top ``compare_top`` eigenvalues of every pair of widths. Also the
    negative-eigenvalue structure: the count of eigenvalues below the threshold ``neg_threshold_n<w>`` per
    width against (C - 1) n (``n_classes`` C = 10 for MNIST), with the counted eigenvalue nearest 0
    (``neg_closest_n<w>``) and the next one up (``neg_next_above_n<w>``), so a reader sees how far the count
    is from round-off.
    """
    widths = sorted(spectra)
    tops = {w: np.asarray(spectra[w]["top"], dtype=np.float64) for w in widths}
    k = min(compare_top, *(t.size for t in tops.values()))
    # SPEC's "agree across n": every pair of widths, relative to the narrower one of the pair
    rel = max((float(np.max(np.abs(tops[b][:k] - tops[a][:k]) / np.abs(tops[a][:k])))
               for i, a in enumerate(widths) for b in widths[i + 1:]), default=0.0)
    lmax = [float(tops[w][0]) for w in widths]
    fracs = [negative_fraction(spectra[w]) for w in widths]
    ratios = [float(np.abs(np.asarray(spectra[w]["bottom"])[0]) / tops[w][0]) for w in widths]
    counts = [count_edge(tops[w], top=window, tau=outlier_tau).count for w in widths]
    out = {"top20_max_rel_dev": rel, "lambda_max_min": min(lmax), "lambda_max_max": max(lmax),
           "neg_frac_mean_pct": 100 * float(np.mean(fracs)),
           "neg_frac_min_pct": 100 * float(np.min(fracs)), "neg_frac_max_pct": 100 * float(np.max(fracs)),
           "neg_frac_spread_pp": 100 * float(np.max(fracs) - np.min(fracs)) if len(fracs) > 1 else 0.0,
           "min_over_max_ratio": max(ratios), "outlier_count_change": abs(counts[-1] - counts[0])}
    structure = []
    for w, lm, fr, c in zip(widths, lmax, fracs, counts):
        out[f"lambda_max_n{w}"] = lm
        out[f"neg_frac_pct_n{w}"] = 100 * fr
        out[f"outliers_n{w}"] = c
        n_neg = negative_count(spectra[w])
        out[f"neg_count_n{w}"] = n_neg
        # the count is only as good as its threshold: report it with the eigenvalues on either side of it
        for key, name in (("negative_tolerance", "neg_threshold"), ("negative_closest", "neg_closest"),
                          ("above_negatives", "neg_next_above")):
            out[f"{name}_n{w}"] = float(_scalar(spectra[w], key)) if key in spectra[w] else math.nan
        out[f"neg_count_over_cm1_n_n{w}"] = n_neg / ((n_classes - 1) * w)
        structure.append(abs(n_neg - (n_classes - 1) * w))
    out["neg_count_minus_cm1_n_max_abs"] = float(max(structure))
    return out


def negative_count(arrays: Mapping[str, np.ndarray]) -> float:
    """Number of eigenvalues below -tol (NaN when a Lanczos window did not reach the zero crossing)."""
    if not bool(_scalar(arrays, "negative_count_exact")):
        return math.nan
    return float(_scalar(arrays, "n_negative"))
