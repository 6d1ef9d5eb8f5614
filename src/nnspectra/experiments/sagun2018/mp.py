"""Sagun et al. (2018) Appendix B: logistic-regression Hessians and the Marchenko-Pastur law (SPEC §1.11).

* Single Gaussian blob: N inputs x_i ~ N(0, I_M), binary logistic regression f(w, x) = <w, x> with
  loss -y log s(f) - (1-y) log(1 - s(f)). Its Hessian (1/N) sum_i s'(f_i) x_i x_i^T is the Gauss-Newton
  term alone; at the official code's initial point w = 0.01 * 1 the weights s'(f_i) are almost
  constant, so after dividing by the mean eigenvalue the spectrum follows MP with ratio alpha = M/N.
* Two Gaussian blobs: the same N, d = alpha N, means +-(delta/2) g with g ~ N(0, I_d) (so the two
  means are delta sqrt(d) apart, as sklearn's uniform centres are), softmax regression with two
  classes at W = 0 and the **summed** (unnormalised) loss, SPEC [DEF]. Its Hessian is
  [[1, -1], [-1, 1]] / 4 (x) X^T X: one eigenvalue ~ N delta^2 d / 8 along the mean direction, far
  above an MP bulk, and d exact zeros.

All Hessians are computed by automatic differentiation (``nnspectra.curvature.hessian``) in float64;
the tests check them against these closed forms.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nnspectra.curvature import eigvalsh_dense, hessian
from nnspectra.errors import ConfigError
from nnspectra.spectra.mp import ks_distance_to_mp
from nnspectra.spectra.outliers import count_far_outliers


@dataclass(frozen=True)
class MpSettings:
    """Config ``realdata.mp``: N samples, the ratios alpha = M/N of both panels, blob distance, outlier rule."""

    seeds: tuple[int, ...] = (0,)
    n_samples: int = 1000
    ratios: tuple[float, ...] = (0.2, 1.0)
    two_blob_ratios: tuple[float, ...] = (0.02, 1.0, 2.0)
    blob_distance: float = 4.0
    outlier_factor: float = 10.0
    bins: int = 60


def _dims(n_samples: int, ratio: float) -> int:
    d = int(round(ratio * n_samples))
    if d < 1:
        raise ConfigError(f"ratio {ratio} x N = {n_samples} gives no parameters; raise n_samples or the ratio")
    return d


def single_blob_hessian(n_samples: int, ratio: float, seed: int) -> np.ndarray:
    """Eigenvalues (ascending, M = ratio N) of the mean logistic-loss Hessian on one N(0, I) blob."""
    m = _dims(n_samples, ratio)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_samples, m, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (n_samples,), generator=gen).to(torch.float64)
    model = nn.Linear(m, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.fill_(0.01)

    def loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(out[:, 0], t)

    h = hessian(model, loss, x, y)
    return eigvalsh_dense(h)


def two_blob_data(n_samples: int, d: int, delta: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """N points (half per class) around means +-(delta/2) g, g ~ N(0, I_d), unit-variance noise."""
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(d, generator=gen, dtype=torch.float64)
    y = torch.arange(n_samples) % 2
    sign = (2 * y - 1).to(torch.float64)[:, None]
    x = sign * (delta / 2) * g + torch.randn(n_samples, d, generator=gen, dtype=torch.float64)
    return x, y


def two_blob_hessian(n_samples: int, ratio: float, delta: float, seed: int) -> np.ndarray:
    """Eigenvalues (ascending, 2d of them) of the summed softmax-regression Hessian at W = 0."""
    d = _dims(n_samples, ratio)
    x, y = two_blob_data(n_samples, d, delta, seed)
    model = nn.Linear(d, 2, bias=False, dtype=torch.float64)
    with torch.no_grad():
        model.weight.zero_()

    def loss(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out, t, reduction="sum")

    h = hessian(model, loss, x, y)
    return eigvalsh_dense(h)


def run_mp_appendix(settings: MpSettings, seed: int) -> dict[str, Any]:
    """Both panels of the appendix figure for one seed: spectra, KS distances and outlier counts."""
    n = int(settings.n_samples)
    out: dict[str, Any] = {"n_samples": n, "seed": seed}
    for ratio in settings.ratios:
        eigs = single_blob_hessian(n, float(ratio), seed)
        normalised = eigs / np.mean(eigs)
        out[f"single_{ratio:g}"] = normalised
        out[f"ks_{ratio:g}"] = ks_distance_to_mp(normalised, float(ratio), 1.0)
    for ratio in settings.two_blob_ratios:
        eigs = two_blob_hessian(n, float(ratio), float(settings.blob_distance), seed)
        count, edge = count_far_outliers(eigs, float(ratio), n, float(settings.outlier_factor))
        out[f"two_{ratio:g}"] = eigs
        out[f"outliers_{ratio:g}"] = count
        out[f"top_{ratio:g}"] = float(eigs[-1])
        out[f"edge_{ratio:g}"] = edge
    return out


def mp_metrics(results: Sequence[dict[str, Any]] | dict[str, Any], ratios: Sequence[float],
               two_blob_ratios: Sequence[float]) -> dict[str, float]:
    """Claims 18-19 for one seed: worst KS distance, outlier counts and the ordering of the outliers."""
    r = results
    ks = [float(np.asarray(r[f"ks_{a:g}"])) for a in ratios]
    counts = [int(np.asarray(r[f"outliers_{a:g}"])) for a in two_blob_ratios]
    tops = {a: float(np.asarray(r[f"top_{a:g}"])) for a in two_blob_ratios}
    order = sorted(two_blob_ratios)
    ordered = all(tops[a] < tops[b] for a, b in zip(order[:-1], order[1:]))
    out = {"ks_max": max(ks), "outliers_min": min(counts), "outliers_max": max(counts),
           "outlier_order_ok": float(ordered)}
    for a, k in zip(ratios, ks):
        out[f"ks_alpha{a:g}"] = k
    for a in two_blob_ratios:
        out[f"outlier_value_alpha{a:g}"] = tops[a]
    return out
