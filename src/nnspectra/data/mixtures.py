"""Gaussian mixtures of Ben Arous, Gheissari, Huang & Jagannath (ICLR 2024), SPEC.md §2.0.

* k-GMM: Y = mu_a + Z with class a ~ p, Z ~ N(0, I_d / lam), label a (one-hot e_a in the loss).
* XOR-GMM: class 1 has means +-mu, class 0 has means +-nu (mu _|_ nu unit vectors), each of the four
  components with probability 1/4; Y = (component mean) + N(0, I_d / lam).

``lam`` is the inverse noise variance (the paper's signal-to-noise ratio). Samples are drawn on demand
from a caller-owned ``numpy.random.Generator`` (online SGD uses a fresh sample per step); every
array is float64. ``mean_scale = 0`` gives the *null* mixture (pure noise with the same labels), used
to estimate the bulk edge of the empirical matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from nnspectra.errors import ConfigError


def orthonormal_means(k: int, d: int) -> np.ndarray:
    """The k x d matrix of means mu_a = e_a (orthonormal; the sharper case of the paper)."""
    if not 1 <= k <= d:
        raise ConfigError(f"orthonormal means need 1 <= k <= d, got k={k}, d={d}; lower k or raise d")
    means = np.zeros((k, d))
    means[np.arange(k), np.arange(k)] = 1.0
    return means


def random_unit_means(k: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """k random unit vectors in R^d (linearly independent with probability 1, not orthogonal)."""
    if not 1 <= k <= d:
        raise ConfigError(f"random means need 1 <= k <= d, got k={k}, d={d}; lower k or raise d")
    means = rng.standard_normal((k, d))
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def _check_lam(lam: float) -> float:
    lam = float(lam)
    if not np.isfinite(lam) or lam <= 0:
        raise ConfigError(f"the inverse noise variance lam must be a positive number, got {lam}")
    return lam


@dataclass(frozen=True)
class GaussianMixture:
    """k-component mixture Y = mu_a + Z, Z ~ N(0, I_d/lam); ``means`` has shape (k, d)."""

    means: np.ndarray
    lam: float
    probs: np.ndarray | None = None

    def __post_init__(self) -> None:
        _check_lam(self.lam)
        if self.means.ndim != 2:
            raise ConfigError(f"mixture means must be a (k, d) array, got shape {self.means.shape}")
        if self.probs is not None:
            p = np.asarray(self.probs, dtype=float)
            if p.shape != (self.k,) or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
                raise ConfigError(f"class probabilities must be {self.k} non-negative numbers summing to 1")

    @property
    def k(self) -> int:
        return int(self.means.shape[0])

    @property
    def d(self) -> int:
        return int(self.means.shape[1])

    def class_probs(self) -> np.ndarray:
        return np.full(self.k, 1.0 / self.k) if self.probs is None else np.asarray(self.probs, dtype=float)

    def sample(self, n: int, rng: np.random.Generator, mean_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """n samples: inputs (n, d) float64 and integer labels (n,) in {0..k-1}."""
        labels = rng.choice(self.k, size=n, p=self.class_probs())
        noise = rng.standard_normal((n, self.d)) / np.sqrt(self.lam)
        return mean_scale * self.means[labels] + noise, labels

    def bayes_accuracy(self, n_mc: int = 200_000, seed: int = 0) -> float:
        """Accuracy of the Bayes classifier argmax_a [lam <mu_a, Y> - lam |mu_a|^2 / 2 + log p_a].

        Exact 1-D quadrature for orthonormal means with equal priors,
        P(correct) = int phi(z) Phi(z + sqrt(lam))^(k-1) dz; otherwise a Monte Carlo estimate.
        """
        p = self.class_probs()
        gram = self.means @ self.means.T
        if np.allclose(gram, np.eye(self.k)) and np.allclose(p, p[0]):
            s = np.sqrt(self.lam)
            val, _ = integrate.quad(lambda z: stats.norm.pdf(z) * stats.norm.cdf(z + s) ** (self.k - 1),
                                    -np.inf, np.inf, epsabs=1e-12)
            return float(val)
        rng = np.random.default_rng(seed)
        Y, labels = self.sample(n_mc, rng)
        score = self.lam * (Y @ self.means.T - 0.5 * np.diag(gram)) + np.log(p)
        return float(np.mean(score.argmax(axis=1) == labels))


@dataclass(frozen=True)
class XorMixture:
    """XOR-GMM in R^d: label 1 for components +-mu, label 0 for +-nu, noise N(0, I_d/lam)."""

    mu: np.ndarray
    nu: np.ndarray
    lam: float

    def __post_init__(self) -> None:
        _check_lam(self.lam)
        if self.mu.shape != self.nu.shape or self.mu.ndim != 1:
            raise ConfigError("XOR means mu and nu must be two vectors of the same length d")

    @classmethod
    def standard(cls, d: int, lam: float) -> "XorMixture":
        """mu = e_1, nu = e_2 (SPEC §2.2 default)."""
        if d < 2:
            raise ConfigError(f"the XOR mixture needs d >= 2, got d={d}")
        means = orthonormal_means(2, d)
        return cls(means[0], means[1], lam)

    @property
    def d(self) -> int:
        return int(self.mu.shape[0])

    def component_means(self) -> np.ndarray:
        """(4, d): +mu, -mu (label 1), +nu, -nu (label 0)."""
        return np.stack([self.mu, -self.mu, self.nu, -self.nu])

    def sample(self, n: int, rng: np.random.Generator, mean_scale: float = 1.0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n samples: inputs (n, d), labels (n,) in {0, 1} and component index (n,) in {0..3}."""
        comp = rng.integers(0, 4, size=n)
        labels = (comp < 2).astype(np.int64)
        noise = rng.standard_normal((n, self.d)) / np.sqrt(self.lam)
        return mean_scale * self.component_means()[comp] + noise, labels, comp

    def bayes_accuracy(self) -> float:
        """Bayes accuracy for mu _|_ nu unit: predict 1 iff |<mu,Y>| > |<nu,Y>|.

        With a, b ~ N(0, 1/lam) independent, P(correct) = P(|1 + a| > |b|)
        = E_a[2 Phi(sqrt(lam) |1 + a|) - 1] (1-D quadrature).
        """
        if not np.isclose(self.mu @ self.nu, 0.0) or not np.isclose(self.mu @ self.mu, self.nu @ self.nu):
            raise ConfigError("the closed-form XOR Bayes accuracy needs orthogonal means of equal norm")
        s = np.sqrt(self.lam)
        m = float(np.linalg.norm(self.mu))
        val, _ = integrate.quad(lambda a: stats.norm.pdf(a) * (2 * stats.norm.cdf(abs(s * m + a)) - 1),
                                -np.inf, np.inf, epsabs=1e-12)
        return float(val)
