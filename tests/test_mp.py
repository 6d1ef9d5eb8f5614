"""Marchenko–Pastur law: closed forms against numerical integration and random matrices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from nnspectra.errors import NnspectraError
from nnspectra.spectra.mp import (
    fit_mp_scale,
    ks_distance,
    ks_distance_to_mp,
    mp_atom,
    mp_cdf,
    mp_density,
    mp_edges,
)


def test_edges_closed_form() -> None:
    assert mp_edges(0.25) == pytest.approx((0.25, 2.25))
    assert mp_edges(1.0, sigma2=2.0) == pytest.approx((0.0, 8.0))
    assert mp_edges(4.0) == pytest.approx((1.0, 9.0))


@pytest.mark.parametrize("ratio", [0.1, 0.5, 2 / 3, 1.0, 1.5, 4.0])
@pytest.mark.parametrize("sigma2", [1.0, 0.3])
def test_density_mass_mean_and_cdf_match_quadrature(ratio: float, sigma2: float) -> None:
    a, b = mp_edges(ratio, sigma2)
    mass, _ = integrate.quad(mp_density, a, b, args=(ratio, sigma2), limit=200)
    assert mass == pytest.approx(min(1.0, 1.0 / ratio), abs=1e-7)
    assert mass + mp_atom(ratio) == pytest.approx(1.0, abs=1e-7)
    mean, _ = integrate.quad(lambda t: t * mp_density(t, ratio, sigma2), a, b, limit=200)
    assert mean == pytest.approx(sigma2, rel=1e-7)  # the atom sits at 0 and adds nothing
    for x in np.linspace(a, b, 9)[1:-1]:
        part, _ = integrate.quad(mp_density, a, x, args=(ratio, sigma2), limit=200)
        assert mp_cdf(x, ratio, sigma2) == pytest.approx(mp_atom(ratio) + part, abs=1e-8)
    assert mp_cdf(-1e-3, ratio, sigma2) == 0.0
    assert mp_cdf(b * 1.01, ratio, sigma2) == 1.0


@settings(max_examples=30, deadline=None)
@given(ratio=st.floats(0.05, 8.0), x=st.floats(0.0, 20.0))
def test_cdf_monotone_and_in_unit_interval(ratio: float, x: float) -> None:
    lo, hi = mp_cdf(np.array([x, x + 0.01]), ratio)
    assert 0.0 <= lo <= hi <= 1.0


@pytest.mark.parametrize("h,d", [(600, 300), (300, 600)])
def test_wishart_spectrum_is_close_to_mp(h: int, d: int) -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((h, d)) * np.sqrt(2.0)
    eigs = np.linalg.eigvalsh(w.T @ w / h)
    assert ks_distance_to_mp(eigs, d / h, sigma2=2.0) < 0.03
    assert fit_mp_scale(eigs) == pytest.approx(2.0, rel=0.02)
    # a wrong ratio or scale is clearly rejected: the distance can fail
    assert ks_distance_to_mp(eigs, 0.5 * d / h, sigma2=2.0) > 0.1
    assert ks_distance_to_mp(eigs, d / h, sigma2=1.0) > 0.1


def test_ks_distance_to_mp_handles_the_atom_exactly() -> None:
    # ratio 2: half the mass at 0; a spectrum of exact zeros plus MP quantiles must be ~0 away.
    ratio = 2.0
    a, b = mp_edges(ratio)
    grid = np.linspace(a, b, 200001)
    cdf = mp_cdf(grid, ratio)
    quantiles = np.interp((np.arange(1000) + 0.5) / 2000 + 0.5, cdf, grid)
    eigs = np.concatenate([np.full(1000, -1e-14), quantiles])
    assert ks_distance_to_mp(eigs, ratio) < 2e-3
    assert ks_distance_to_mp(quantiles, ratio) == pytest.approx(0.5, abs=1e-3)


def test_two_sample_distance_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(300), rng.standard_normal(400) + 0.3
    assert ks_distance(x, y) == pytest.approx(stats.ks_2samp(x, y).statistic)
    assert ks_distance(x, x) == 0.0


def test_bad_input_is_one_readable_error() -> None:
    with pytest.raises(NnspectraError, match="ratio"):
        mp_edges(-1.0)
    with pytest.raises(NnspectraError, match="sigma2"):
        mp_density([1.0], 0.5, sigma2=0.0)
    with pytest.raises(NnspectraError, match="empty"):
        ks_distance_to_mp([], 0.5)
