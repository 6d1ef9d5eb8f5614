"""Closed-form empirical Hessian and G-matrix of the Ben Arous et al. models (SPEC §2.0, §2.2).

Empirical matrices over M samples (test samples, or samples already seen by SGD):
H = (1/M) sum_m grad^2 L(theta; Y_m),  G = (1/M) sum_m grad L grad L^T  (second moment of gradients).

1-layer softmax regression, x in R^{k x d} flattened class-major (index c d + j), pi = softmax(x Y):
  H = (1/M) sum_m (diag pi_m - pi_m pi_m^T) (x) Y_m Y_m^T,
  G = (1/M) sum_m (pi_m - e_{a_m})(pi_m - e_{a_m})^T (x) Y_m Y_m^T.
Diagonal class blocks are weighted Gram matrices H_cc = (1/M) Y^T diag(pi_c (1 - pi_c)) Y.

2-layer XOR net f = v . relu(W Y) with logistic loss, s = sigmoid(f) - y, sigma' = sigmoid'(f):
  H = (1/M) sum_m sigma'_m grad f grad f^T + s_m grad^2 f, with grad^2 f = 1[W_i Y > 0] Y in the
  (v_i, W_i) entries only (ReLU'' = 0 a.e.); G = (1/M) sum_m s_m^2 grad f grad f^T.
  Unit block (W_i, W_i): (1/M) Y^T diag(w) Y with w = sigma' v_i^2 1_i (H) or s^2 v_i^2 1_i (G);
  second-layer block (v, v): (1/M) h^T diag(sigma') h (H) or (1/M) h^T diag(s^2) h (G), h = relu(Y W^T).

Large matrices are never formed: :func:`weighted_gram_operator` and :func:`softmax_operator` are scipy
LinearOperators with O(M d k) matvecs; :func:`nnspectra.curvature.eigen.top_eigenpairs` runs Lanczos on them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.sparse.linalg import LinearOperator

from nnspectra.errors import ConfigError
from nnspectra.models.mixture_nets import TwoLayerParams, sigmoid, softmax

Kind = Literal["hessian", "gmatrix"]


def _check_kind(kind: str) -> None:
    if kind not in ("hessian", "gmatrix"):
        raise ConfigError(f"matrix kind must be 'hessian' or 'gmatrix', got {kind!r}")


# -- generic weighted Gram matrices ----------------------------------------------------------------

def weighted_gram_dense(Y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(1/M) Y^T diag(w) Y for Y (M, d), w (M,): a d x d symmetric matrix."""
    return (Y.T * w) @ Y / Y.shape[0]


def weighted_gram_operator(Y: np.ndarray, w: np.ndarray) -> LinearOperator:
    """Matrix-free (1/M) Y^T diag(w) Y (d x d)."""
    M, d = Y.shape

    def mv(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v).reshape(d, -1)
        return (Y.T @ (w[:, None] * (Y @ v))) / M

    return LinearOperator((d, d), matvec=mv, matmat=mv, dtype=np.float64)


# -- 1-layer softmax regression --------------------------------------------------------------------

def softmax_outer_factors(x: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pi (M, k) and residual r = pi - e_a (M, k) at parameters x (k, d)."""
    pi = softmax(Y @ x.T)
    r = pi.copy()
    r[np.arange(len(labels)), labels] -= 1.0
    return pi, r


def softmax_matrix_dense(x: np.ndarray, Y: np.ndarray, labels: np.ndarray, kind: Kind) -> np.ndarray:
    """Full (k d) x (k d) empirical Hessian or G-matrix of softmax regression (closed form)."""
    _check_kind(kind)
    k, d = x.shape
    pi, r = softmax_outer_factors(x, Y, labels)
    out = np.zeros((k, d, k, d))
    for c in range(k):
        for c2 in range(c, k):
            if kind == "hessian":
                w = pi[:, c] * ((c == c2) - pi[:, c2])
            else:
                w = r[:, c] * r[:, c2]
            block = weighted_gram_dense(Y, w)
            out[c, :, c2, :] = block
            out[c2, :, c, :] = block.T
    return out.reshape(k * d, k * d)


def softmax_block_weights(x: np.ndarray, Y: np.ndarray, labels: np.ndarray, kind: Kind) -> np.ndarray:
    """Weights (M, k) of the diagonal class blocks: pi_c (1 - pi_c) (Hessian) or r_c^2 (G-matrix)."""
    _check_kind(kind)
    pi, r = softmax_outer_factors(x, Y, labels)
    return pi * (1.0 - pi) if kind == "hessian" else r**2


def softmax_operator(x: np.ndarray, Y: np.ndarray, labels: np.ndarray, kind: Kind,
                     Y_gram: np.ndarray | None = None) -> LinearOperator:
    """Matrix-free (k d) x (k d) empirical Hessian or G-matrix of softmax regression.

    ``Y_gram`` (M, d), when given, replaces Y in the Kronecker factor Y Y^T while the weights still
    come from (x, Y, labels): with Y_gram = Y - mu_a this is the noise-only ("null") matrix.
    """
    _check_kind(kind)
    k, d = x.shape
    M = Y.shape[0]
    pi, r = softmax_outer_factors(x, Y, labels)
    Y = Y if Y_gram is None else Y_gram

    def mv(v: np.ndarray) -> np.ndarray:
        V = np.asarray(v).reshape(k, d, -1)                      # (k, d, b)
        b = V.shape[2]
        P = (Y @ V.transpose(1, 0, 2).reshape(d, k * b)).reshape(M, k, b)   # <Y_m, v_c> (BLAS)
        if kind == "hessian":                                    # (diag pi - pi pi^T) P_m
            Q = pi[:, :, None] * (P - (pi[:, :, None] * P).sum(axis=1, keepdims=True))
        else:                                                    # r_m (r_m . P_m)
            Q = r[:, :, None] * (r[:, :, None] * P).sum(axis=1, keepdims=True)
        out = (Y.T @ Q.reshape(M, k * b)).reshape(d, k, b).transpose(1, 0, 2)
        return out.reshape(k * d, b) / M

    return LinearOperator((k * d, k * d), matvec=mv, matmat=mv, dtype=np.float64)


# -- 2-layer XOR network ---------------------------------------------------------------------------

def _two_layer_parts(p: TwoLayerParams, Y: np.ndarray, labels: np.ndarray):  # type: ignore[no-untyped-def]
    pre = Y @ p.W.T
    ind = (pre > 0).astype(np.float64)
    h = pre * ind
    f = h @ p.v
    sig = sigmoid(f)
    return ind, h, sig * (1.0 - sig), sig - labels


def two_layer_matrix_dense(p: TwoLayerParams, Y: np.ndarray, labels: np.ndarray, kind: Kind) -> np.ndarray:
    """Full (K d + K)^2 empirical Hessian or G-matrix of the XOR net, parameter order (W, v)."""
    _check_kind(kind)
    K, d = p.W.shape
    M = Y.shape[0]
    ind, h, dsig, s = _two_layer_parts(p, Y, labels)
    J = np.concatenate([((p.v[None, :] * ind)[:, :, None] * Y[:, None, :]).reshape(M, K * d), h], axis=1)
    weight = dsig if kind == "hessian" else s**2
    out = (J.T * weight) @ J / M
    if kind == "hessian":                  # residual term s * grad^2 f: entries (W_i, v_i) = 1_i Y
        cross = ((s[:, None] * ind)[:, :, None] * Y[:, None, :]).mean(axis=0)   # (K, d)
        for i in range(K):
            out[i * d:(i + 1) * d, K * d + i] += cross[i]
            out[K * d + i, i * d:(i + 1) * d] += cross[i]
    return out


def two_layer_unit_weights(p: TwoLayerParams, Y: np.ndarray, labels: np.ndarray, kind: Kind) -> np.ndarray:
    """Weights (M, K) of the first-layer unit blocks (W_i, W_i) = (1/M) Y^T diag(w_i) Y."""
    _check_kind(kind)
    ind, _, dsig, s = _two_layer_parts(p, Y, labels)
    base = dsig if kind == "hessian" else s**2
    return base[:, None] * ind * p.v[None, :] ** 2


def two_layer_readout_block(p: TwoLayerParams, Y: np.ndarray, labels: np.ndarray, kind: Kind,
                            Y_weights: np.ndarray | None = None) -> np.ndarray:
    """Second-layer block (v, v) of size K x K.

    ``Y_weights``, when given, supplies the inputs of the per-sample weights (sigma' or s^2) while
    the features h = relu(W Y) come from Y (used for the noise-only null matrix).
    """
    _check_kind(kind)
    _, h, _, _ = _two_layer_parts(p, Y, labels)
    _, _, dsig, s = _two_layer_parts(p, Y if Y_weights is None else Y_weights, labels)
    return weighted_gram_dense(h, dsig if kind == "hessian" else s**2)
