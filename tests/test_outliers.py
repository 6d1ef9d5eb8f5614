"""Outlier counting rules on synthetic spectra with a known number of planted outliers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspectra.errors import ConfigError, NnspectraError
from nnspectra.spectra.mp import mp_edges
from nnspectra.spectra.outliers import (
    RULES,
    count_all,
    count_beyond_factor,
    count_far_outliers,
    count_outliers,
    isolated_eigenvalues,
    spectrum_counts,
)


def planted(k: int, seed: int, n_bulk: int = 400, lo: float = 5.0, hi: float = 8.0, negative: bool = True) -> np.ndarray:
    """A bulk in [0, 1] (plus a near-zero negative part) and k outliers in [lo, hi], shuffled.

    Every gap between two outliers (at most hi - lo = 3) is smaller than the gap from the bulk to the lowest
    outlier (at least lo - 1 = 4), so k is the one right answer of every rule. (With hi = 10 a draw such as
    k = 3, seed = 814924 put two outliers near 9.5 and one near 5: the largest gap then lies inside the
    outliers, and the gap rule rightly counted 2.)"""
    rng = np.random.default_rng(seed)
    parts = [rng.uniform(0.0, 1.0, n_bulk), rng.uniform(lo, hi, k)]
    if negative:
        parts.append(-rng.uniform(0.0, 0.05, 100))
    lam = np.concatenate(parts)
    return rng.permutation(lam)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_planted_outliers_counted_exactly_by_gap_ratio_elbow_edge(k: int, seed: int) -> None:
    lam = planted(k, seed)
    counts = count_all(lam, top=120)
    assert counts["gap"].count == k
    assert counts["ratio"].count == k
    assert counts["ratio_shifted"].count == k + 1
    assert counts["elbow"].count == k
    assert counts["edge"].count == k


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 30), seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-4, 1e3))
def test_count_equals_number_above_cutoff_and_scale_invariant(k: int, seed: int, scale: float) -> None:
    lam = planted(k, seed) * scale
    base = count_all(planted(k, seed), top=120)
    for rule, c in count_all(lam, top=120).items():
        assert c.count == int(np.sum(lam > c.cutoff)), rule
        assert c.count == base[rule].count, rule


def test_gap_beats_ratio_difference_example() -> None:
    # gap picks the largest absolute drop (10 -> 5.5), ratio the largest relative one (1 -> 0.01)
    lam = np.array([10.0, 5.5, 5.2, 5.0, 1.0, 0.01, 0.009, 0.008])
    assert count_outliers(lam, "gap", top=8).count == 1
    assert count_outliers(lam, "ratio", top=8).count == 5
    assert count_outliers(lam, "ratio", top=8, floor=0.01).count == 4  # 0.01 * 10 = 0.1 excludes 0.01


def test_ratio_ignores_non_positive_and_tiny_denominators() -> None:
    lam = np.array([3.0, 2.9, 1.0, 0.99, 1e-9, 0.0, -0.5])
    assert count_outliers(lam, "ratio", top=7).count == 2


def test_elbow_uses_no_class_count_and_reports_first_bulk_value() -> None:
    lam = np.r_[np.linspace(10, 6, 7), np.linspace(1.0, 0.0, 200)]
    c = count_outliers(lam, "elbow", top=120)
    assert c.count == 7 and c.cutoff == pytest.approx(1.0)


def test_edge_rule_tau() -> None:
    lam = np.r_[np.full(100, 1.0), 1.5, 3.0, 30.0]
    assert count_outliers(lam, "edge", top=103, tau=2.0).count == 2
    assert count_outliers(lam, "edge", top=103, tau=10.0).count == 1


def test_flat_spectrum_has_no_elbow_outliers() -> None:
    assert count_outliers(np.ones(50), "elbow").count == 0


def test_spectrum_counts_record() -> None:
    rec = spectrum_counts(planted(3, 0), top=120)
    assert set(rec["rules"]) == set(RULES) and rec["rules"]["gap"]["count"] == 3
    assert rec["lambda_min"] < 0 < rec["lambda_max"] and rec["n_params"] == 503


@pytest.mark.parametrize("eigs,rule,kw,err", [
    (np.array([1.0, 2.0]), "gap", {}, ConfigError),
    (np.array([1.0, np.nan, 0.5, 0.1]), "gap", {}, NnspectraError),
    (np.arange(10.0), "median", {}, ConfigError),
    (np.arange(10.0), "gap", {"top": 2}, ConfigError),
    (-np.arange(1.0, 10.0), "ratio", {}, NnspectraError),
    (np.arange(10.0), "edge", {"tau": 0.0}, ConfigError),
])
def test_bad_input_one_line_errors(eigs: np.ndarray, rule: str, kw: dict, err: type) -> None:
    with pytest.raises(err) as info:
        count_outliers(eigs, rule, **kw)
    assert "\n" not in str(info.value)


# -- rules with a known bulk edge (Wang et al., the MP appendix) and claim 20's isolated eigenvalues ----------
def test_count_beyond_factor_is_strict_and_scales_with_the_factor() -> None:
    lam = np.array([0.5, 1.0, 1.19, 1.2, 1.21, 3.0])
    assert count_beyond_factor(lam, 1.0, 1.2) == 2  # 1.2 itself is not above 1.2 x 1.0
    assert count_beyond_factor(lam, 1.0, 1.0) == 4
    assert count_beyond_factor(lam, 2.0, 1.2) == 1


def test_count_far_outliers_uses_the_noise_mp_edge() -> None:
    n, ratio, factor = 200, 0.25, 3.0
    edge = 0.5 * n * mp_edges(ratio, 1.0)[1]
    assert np.isclose(edge, 0.5 * n * (1 + np.sqrt(ratio)) ** 2)
    lam = np.concatenate([np.linspace(0.0, edge, 50), [factor * edge * 0.99, factor * edge * 1.01, 10 * edge]])
    count, got = count_far_outliers(lam, ratio, n, factor)
    assert count == 2 and got == edge


def _planted_isolated(n_iso: int, p: int = 50, top: float = 0.03, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bulk = rng.uniform(-0.05 * top, 0.05 * top, p - n_iso)
    return np.sort(np.concatenate([bulk, np.linspace(0.6 * top, top, n_iso)]))


def test_isolated_eigenvalues_on_planted_spectra() -> None:
    assert isolated_eigenvalues(_planted_isolated(2)).is_isolated_pair
    assert isolated_eigenvalues(_planted_isolated(3)).count == 3
    neg = _planted_isolated(2)
    neg[0] = -0.2 * neg[-1]  # a large negative eigenvalue is not "within +-0.1 lambda_max of 0"
    reading = isolated_eigenvalues(neg)
    assert reading.count == 2 and not reading.rest_within and not reading.is_isolated_pair
    with pytest.raises(ConfigError, match="isolated_eigenvalues"):
        isolated_eigenvalues(np.array([1.0, np.nan]))


@settings(max_examples=30, deadline=None)
@given(n_iso=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_isolated_count_recovers_planted_outliers(n_iso: int, seed: int) -> None:
    assert isolated_eigenvalues(_planted_isolated(n_iso, seed=seed)).count == n_iso
