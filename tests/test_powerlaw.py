"""Power-law exponent fits on samples with a known exponent, cross-checked with the powerlaw package."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nnspectra.errors import NnspectraError
from nnspectra.spectra.mp import mp_edges
from nnspectra.spectra.powerlaw import fit_power_law, hill_alpha


def _pareto(alpha: float, n: int, xmin: float, seed: int) -> np.ndarray:
    """Samples with density ∝ x^-alpha on [xmin, inf) (inverse CDF)."""
    u = np.random.default_rng(seed).random(n)
    return xmin * (1.0 - u) ** (-1.0 / (alpha - 1.0))


@pytest.mark.parametrize("alpha", [2.0, 3.0, 4.5])
def test_csn_fit_recovers_known_exponent_and_agrees_with_powerlaw_package(alpha: float) -> None:
    powerlaw = pytest.importorskip("powerlaw")
    x = _pareto(alpha, 400, 1.0, seed=int(alpha * 10))
    fit = fit_power_law(x, min_tail=10)
    assert fit.alpha == pytest.approx(alpha, abs=0.35)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # alpha range widened: powerlaw 2.x caps alpha at 3 by default
        ref_fixed = powerlaw.Fit(x, xmin=fit.xmin, verbose=False, parameter_ranges={"alpha": [1.0, 20.0]})
        ref_free = powerlaw.Fit(x, verbose=False, parameter_ranges={"alpha": [1.0, 20.0]})
    # same xmin: identical MLE; the package evaluates the empirical CDF on one side of each jump,
    # our two-sided sup can only be larger, by at most one step 1/n_tail
    assert fit.alpha == pytest.approx(ref_fixed.power_law.alpha, rel=1e-6)
    assert ref_fixed.power_law.D - 1e-12 <= fit.ks <= ref_fixed.power_law.D + 1.0 / fit.n_tail + 1e-9
    # free xmin: the package's own scan lands on a nearby exponent
    assert fit.alpha == pytest.approx(ref_free.power_law.alpha, abs=0.2)


def test_csn_fit_ignores_a_non_power_law_body() -> None:
    rng = np.random.default_rng(5)
    body = rng.uniform(0.05, 0.95, 600)
    tail = _pareto(2.5, 600, 1.0, seed=6)
    fit = fit_power_law(np.concatenate([body, tail]))
    assert fit.xmin >= 0.9
    assert fit.alpha == pytest.approx(2.5, abs=0.3)


def test_hill_alpha_at_median_xmin() -> None:
    x = _pareto(3.0, 4000, 2.0, seed=7)
    fit = hill_alpha(x)
    assert fit.xmin == pytest.approx(np.median(x))
    assert fit.n_tail == 2000
    assert fit.alpha == pytest.approx(3.0, abs=0.15)


def test_marchenko_pastur_bulk_has_larger_alpha_than_heavy_tailed_spectrum() -> None:
    rng = np.random.default_rng(0)
    h, d = 750, 500
    w = rng.standard_normal((h, d))
    eigs = np.linalg.eigvalsh(w.T @ w / h)
    assert eigs.max() < mp_edges(d / h)[1] * 1.05
    # same singular vectors, squared singular values Pareto with density exponent 2.5
    u, _, vt = np.linalg.svd(w, full_matrices=False)
    s = np.sqrt(_pareto(2.5, d, 1.0, seed=1))
    heavy = np.linalg.eigvalsh((vt.T * s**2) @ vt)
    alpha_mp, alpha_ht = fit_power_law(eigs).alpha, fit_power_law(heavy).alpha
    assert alpha_ht == pytest.approx(2.5, abs=0.4)
    assert alpha_mp > 4.0  # measured ≈4.6 at d = 500: a bounded bulk, not a power law
    assert alpha_mp > alpha_ht + 1.5


def test_bad_input() -> None:
    with pytest.raises(NnspectraError, match="positive"):
        fit_power_law([0.0, -1.0, 1.0])
    with pytest.raises(NnspectraError, match="finite"):
        hill_alpha([1.0, np.nan, 2.0])
    with pytest.raises(NnspectraError, match="min_tail"):
        fit_power_law([1.0, 2.0, 3.0], min_tail=10)
