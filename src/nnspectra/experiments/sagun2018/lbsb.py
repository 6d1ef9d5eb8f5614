"""Sagun et al. (2018) §4.1, seed Figs. 7-8 (v3 Figs. 4, 6): large batch (LB) vs small batch (SB) SGD.

The small MNIST convnet of SPEC §1.7 is trained from the same init with batch 512 (LB) or 10 (SB), the
same lr and number of iterations (:func:`nnspectra.experiments.sagun2018.lbsb_training.train_lbsb_convnet`); the
Hessian edges at the end points come from :func:`nnspectra.curvature.spectrum.hessian_spectrum`; :func:`lbsb_metrics` gives claims 11-13
(LB finds larger outliers, the same number of them, and a negligible negative edge).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nnspectra.spectra.outliers import count_outliers


@dataclass(frozen=True)
class LbsbAnalysis:
    """Config ``realdata.lbsb.analysis``: the outlier rule and its window of top eigenvalues."""

    count_rule: str = "elbow"
    window: int = 40


def heuristic_count(top: np.ndarray, rule: str, window: int) -> tuple[int, float]:
    """Outliers above the heuristic threshold of seed Fig. 7: (count, cutoff) of ``rule`` on the top window."""
    res = count_outliers(np.asarray(top), rule=rule, top=min(window, np.asarray(top).size))
    return int(res.count), float(res.cutoff)


def lbsb_metrics(lb: Mapping[str, np.ndarray], sb: Mapping[str, np.ndarray], rule: str, window: int,
                 ) -> dict[str, float]:
    """Claims 11-13 for one seed from the LB and SB spectrum records (``top``, ``bottom``); the counts and
    cutoffs of the heuristic threshold are kept for seed Fig. 7."""
    lmax_lb, lmax_sb = float(lb["top"][0]), float(sb["top"][0])
    c_lb, cut_lb = heuristic_count(lb["top"], rule, window)
    c_sb, cut_sb = heuristic_count(sb["top"], rule, window)
    neg_lb = abs(min(float(lb["bottom"][0]), 0.0))
    neg_sb = abs(min(float(sb["bottom"][0]), 0.0))
    return {"lambda_max_lb": lmax_lb, "lambda_max_sb": lmax_sb, "lambda_max_ratio_lb_sb": lmax_lb / lmax_sb,
            "count_lb": c_lb, "count_sb": c_sb, "cutoff_lb": cut_lb, "cutoff_sb": cut_sb, "count_diff": abs(c_lb - c_sb),
            "count_min": min(c_lb, c_sb), "count_max": max(c_lb, c_sb),
            "lambda_min_lb": float(lb["bottom"][0]), "lambda_min_sb": float(sb["bottom"][0]),
            "pos_neg_ratio_min": min(lmax_lb / neg_lb if neg_lb > 0 else math.inf,
                                     lmax_sb / neg_sb if neg_sb > 0 else math.inf)}
