"""Weight Gram matrix, conjugate kernel (CK) and neural tangent kernel (NTK) of the two-layer net.

For ``f(x) = a^T sigma(W x / sqrt(d)) / sqrt(h)`` (SPEC §3.0, Fan & Wang 2020) and inputs ``X`` of
shape (n, d) (rows are samples), with ``Z = X W^T / sqrt(d)`` (n, h):

* weight Gram ``W^T W / h`` (d, d): its ESD is Marchenko–Pastur with ratio d/h at init;
* CK ``K_CK = sigma(Z) sigma(Z)^T / h`` (n, n) = the NTK block of the second layer ``a``;
* NTK block of ``W``: ``d f(x_i)/d W_jk = a_j sigma'(Z_ij) x_ik / sqrt(h d)``, so
  ``K_W = (X X^T / d) ⊙ (sigma'(Z) diag(a^2) sigma'(Z)^T / h)``;
* NTK ``= K_W`` when only W is trained, ``K_W + K_CK`` when both layers are.

All functions take and return float64 numpy arrays (closed forms; checked against autodiff
Jacobians from ``torch.func`` in tests/test_kernels.py).
"""

from __future__ import annotations

import numpy as np

from nnspectra.errors import ConfigError

NTK_PARAMS = ("W", "both")


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softplus":
        return np.logaddexp(0.0, z)
    raise ConfigError(f"activation '{name}' has no closed-form kernel; use tanh, relu or softplus")


def _act_prime(name: str, z: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "softplus":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # logistic sigmoid, overflow-free
    raise ConfigError(f"activation '{name}' has no closed-form kernel; use tanh, relu or softplus")


def _preact(weight: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    weight = np.asarray(weight, dtype=np.float64)
    inputs = np.asarray(inputs, dtype=np.float64)
    if weight.ndim != 2 or inputs.ndim != 2 or weight.shape[1] != inputs.shape[1]:
        raise ConfigError(f"kernel shapes disagree: W {weight.shape} must be (h, d) and X {inputs.shape} (n, d)")
    return inputs @ weight.T / np.sqrt(weight.shape[1])


def weight_gram(weight: np.ndarray) -> np.ndarray:
    """``W^T W / h`` of shape (d, d) for ``W`` of shape (h, d)."""
    weight = np.asarray(weight, dtype=np.float64)
    return weight.T @ weight / weight.shape[0]


def features(weight: np.ndarray, inputs: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """Hidden features ``sigma(X W^T / sqrt(d)) / sqrt(h)`` (n, h), readout scale included: ``f(X) = features @ a``."""
    feats = _act(activation, _preact(weight, inputs))
    return feats / np.sqrt(feats.shape[1])


def network_output(weight: np.ndarray, head: np.ndarray, inputs: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """``f(X) = sigma(X W^T / sqrt(d)) a / sqrt(h)``, shape (n,)."""
    return features(weight, inputs, activation) @ np.asarray(head, dtype=np.float64)


def conjugate_kernel(weight: np.ndarray, inputs: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """CK ``sigma(Z) sigma(Z)^T / h`` (n, n), ``Z = X W^T / sqrt(d)``."""
    feats = _act(activation, _preact(weight, inputs))
    return feats @ feats.T / feats.shape[1]


def ntk(weight: np.ndarray, head: np.ndarray, inputs: np.ndarray, activation: str = "tanh",
        params: str = "W") -> np.ndarray:
    """Empirical NTK ``J J^T`` (n, n) over the trained parameters: ``"W"`` or ``"both"`` (W and a)."""
    if params not in NTK_PARAMS:
        raise ConfigError(f"NTK parameters '{params}' must be one of {NTK_PARAMS}")
    head = np.asarray(head, dtype=np.float64)
    z = _preact(weight, inputs)
    h, d = np.shape(weight)
    if head.shape != (h,):
        raise ConfigError(f"second-layer weights have shape {head.shape}, expected ({h},)")
    inputs = np.asarray(inputs, dtype=np.float64)
    scaled = _act_prime(activation, z) * head  # sigma'(Z) diag(a), (n, h)
    kernel = (inputs @ inputs.T / d) * (scaled @ scaled.T / h)
    if params == "both":
        kernel += conjugate_kernel(weight, inputs, activation)
    return kernel


def label_alignment(vector: np.ndarray, labels: np.ndarray) -> float:
    """``<v, y>^2 / (||v||^2 ||y||^2)``: share of the labels' energy along ``v`` (random v: ≈ 1/n)."""
    vector = np.asarray(vector, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    denom = float(vector @ vector) * float(labels @ labels)
    return float((vector @ labels) ** 2 / denom) if denom > 0 else 0.0


def direction_alignment(vector: np.ndarray, direction: np.ndarray) -> float:
    """``|<u, beta>| / (||u|| ||beta||)`` (random u in R^d: ≈ 1/sqrt(d))."""
    vector = np.asarray(vector, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    denom = float(np.linalg.norm(vector) * np.linalg.norm(direction))
    return float(abs(vector @ direction) / denom) if denom > 0 else 0.0
