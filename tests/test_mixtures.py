"""Generators of the Ben Arous et al. mixtures: moments, labels, Bayes accuracies, errors."""

import numpy as np
import pytest

from nnspectra.data.mixtures import GaussianMixture, XorMixture, orthonormal_means, random_unit_means
from nnspectra.errors import ConfigError


def test_gmm_moments_match_the_model():
    d, k, lam, n = 12, 3, 4.0, 60_000
    mix = GaussianMixture(orthonormal_means(k, d), lam)
    Y, labels = mix.sample(n, np.random.default_rng(0))
    assert Y.shape == (n, d) and Y.dtype == np.float64
    np.testing.assert_allclose(np.bincount(labels, minlength=k) / n, 1 / k, atol=0.01)
    for a in range(k):
        Z = Y[labels == a] - mix.means[a]
        np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=0.02)
        # noise covariance I_d / lam: diagonal 0.25, off-diagonal 0
        np.testing.assert_allclose(np.cov(Z.T), np.eye(d) / lam, atol=0.02)


def test_gmm_null_mixture_has_no_means_and_is_seeded():
    mix = GaussianMixture(orthonormal_means(2, 5), 9.0)
    Y, _ = mix.sample(40_000, np.random.default_rng(1), mean_scale=0.0)
    np.testing.assert_allclose(Y.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(Y.var(axis=0), 1 / 9.0, rtol=0.03)
    a, b = mix.sample(5, np.random.default_rng(3)), mix.sample(5, np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])


def test_random_means_are_unit_and_not_orthogonal():
    m = random_unit_means(4, 10, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0)
    assert np.linalg.matrix_rank(m) == 4
    assert np.max(np.abs(m @ m.T - np.eye(4))) > 1e-3


@pytest.mark.parametrize("lam", [1.0, 4.0])
def test_gmm_bayes_accuracy_quadrature_matches_monte_carlo(lam):
    mix = GaussianMixture(orthonormal_means(3, 6), lam)
    exact = mix.bayes_accuracy()
    Y, labels = mix.sample(200_000, np.random.default_rng(2))
    mc = np.mean((Y @ mix.means.T).argmax(axis=1) == labels)
    assert abs(exact - mc) < 4e-3
    assert 1 / 3 < exact < 1


def test_xor_moments_labels_and_bayes_accuracy():
    mix = XorMixture.standard(6, 5.0)
    Y, labels, comp = mix.sample(80_000, np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(comp) / len(comp), 0.25, atol=0.01)
    np.testing.assert_array_equal(labels, (comp < 2).astype(int))
    # class-conditional first moment is 0 (means +-mu cancel); second moment mu mu^T + I/lam
    Y1 = Y[labels == 1]
    np.testing.assert_allclose(Y1.mean(axis=0), 0.0, atol=0.02)
    expected = np.eye(6) / 5.0
    expected[0, 0] += 1.0
    np.testing.assert_allclose(Y1.T @ Y1 / len(Y1), expected, atol=0.02)
    bayes = mix.bayes_accuracy()
    mc = np.mean((np.abs(Y[:, 0]) > np.abs(Y[:, 1])) == (labels == 1))
    assert abs(bayes - mc) < 5e-3


def test_bad_inputs_raise_one_line_errors():
    with pytest.raises(ConfigError, match="lam"):
        GaussianMixture(orthonormal_means(2, 3), -1.0)
    with pytest.raises(ConfigError, match="k <= d"):
        orthonormal_means(5, 3)
    with pytest.raises(ConfigError, match="d >= 2"):
        XorMixture.standard(1, 1.0)
