"""The two networks of Ben Arous et al. (ICLR 2024) with closed-form per-sample gradients.

* Softmax regression without biases (SPEC §2.0): parameters x in R^{k x d},
  L(x; Y, a) = -<x^a, Y> + log sum_c exp <x^c, Y>, gradient (pi - e_a) (x) Y with pi = softmax(x Y).
* Two-layer XOR net (SPEC §2.2): f(Y) = v . relu(W Y), W in R^{K x d}, v in R^K, logistic loss
  L = log(1 + e^f) - y f; gradient (sigmoid(f) - y) * grad f with grad_v f = relu(W Y),
  grad_{W_i} f = v_i 1[W_i Y > 0] Y.

Online SGD over these gradients lives in :mod:`nnspectra.training.online`. Everything is numpy float64;
the torch versions of the losses (``*_loss_torch``) are the autodiff references.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np



def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, k) logits (max-shifted for stability)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(f: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large |f|."""
    return np.where(f >= 0, 1.0 / (1.0 + np.exp(-np.abs(f))), np.exp(-np.abs(f)) / (1.0 + np.exp(-np.abs(f))))


# -- 1-layer softmax regression --------------------------------------------------------------------

def softmax_loss(x: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of softmax regression: x (k, d), Y (n, d), labels (n,)."""
    logits = Y @ x.T
    m = logits.max(axis=1, keepdims=True)
    lse = (m[:, 0] + np.log(np.exp(logits - m).sum(axis=1)))
    return float(np.mean(lse - logits[np.arange(len(labels)), labels]))


def softmax_per_sample_grads(x: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample gradients (n, k, d) = (pi_n - e_{a_n}) (x) Y_n (SPEC §2.0)."""
    resid = softmax(Y @ x.T)
    resid[np.arange(len(labels)), labels] -= 1.0
    return resid[:, :, None] * Y[:, None, :]


def softmax_loss_torch(x, Y, labels):  # type: ignore[no-untyped-def]
    """Torch reference of :func:`softmax_loss` (for autodiff checks)."""
    import torch

    return torch.nn.functional.cross_entropy(Y @ x.T, labels)


# -- 2-layer XOR network ---------------------------------------------------------------------------

@dataclass
class TwoLayerParams:
    """First layer W (K, d) and scalar readout v (K,)."""

    W: np.ndarray
    v: np.ndarray

    def flat(self) -> np.ndarray:
        """Parameters in the order (W row-major, v): length K d + K."""
        return np.concatenate([self.W.ravel(), self.v])

    @classmethod
    def from_flat(cls, theta: np.ndarray, K: int, d: int) -> "TwoLayerParams":
        return cls(theta[: K * d].reshape(K, d).copy(), theta[K * d:].copy())

    def copy(self) -> "TwoLayerParams":
        return TwoLayerParams(self.W.copy(), self.v.copy())


def two_layer_logits(p: TwoLayerParams, Y: np.ndarray) -> np.ndarray:
    """Logits f(Y) = relu(Y W^T) v, shape (n,)."""
    return np.maximum(Y @ p.W.T, 0.0) @ p.v


def two_layer_loss(p: TwoLayerParams, Y: np.ndarray, labels: np.ndarray) -> float:
    """Mean logistic (binary cross-entropy) loss, labels in {0, 1}."""
    f = two_layer_logits(p, Y)
    return float(np.mean(np.logaddexp(0.0, f) - labels * f))


def two_layer_per_sample_grads(p: TwoLayerParams, Y: np.ndarray, labels: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample gradients: (n, K, d) for W and (n, K) for v."""
    pre = Y @ p.W.T
    h = np.maximum(pre, 0.0)
    s = sigmoid(h @ p.v) - labels
    gv = s[:, None] * h
    gW = (s[:, None] * p.v[None, :] * (pre > 0))[:, :, None] * Y[:, None, :]
    return gW, gv


def two_layer_loss_torch(theta, Y, labels, K: int):  # type: ignore[no-untyped-def]
    """Torch reference of :func:`two_layer_loss` on the flat parameter vector (W, v)."""
    import torch

    d = Y.shape[1]
    W, v = theta[: K * d].reshape(K, d), theta[K * d:]
    f = torch.relu(Y @ W.T) @ v
    return torch.nn.functional.binary_cross_entropy_with_logits(f, labels.to(f.dtype))


def softmax_step_grad(k: int, d: int) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """Per-sample gradient of softmax regression on the flat x (k d,): (pi - e_a) (x) Y."""
    def grad(theta: np.ndarray, y: np.ndarray, a: int) -> np.ndarray:
        x = theta.reshape(k, d)
        z = x @ y
        pi = np.exp(z - z.max())
        pi /= pi.sum()
        pi[a] -= 1.0
        return np.outer(pi, y).ravel()
    return grad


def two_layer_step_grad(K: int, d: int) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """Per-sample gradient of the XOR net on the flat (W, v) (K d + K,)."""
    def grad(theta: np.ndarray, y: np.ndarray, label: int) -> np.ndarray:
        W, v = theta[: K * d].reshape(K, d), theta[K * d:]
        pre = W @ y
        h = np.maximum(pre, 0.0)
        f = h @ v
        s = (1.0 / (1.0 + np.exp(-f)) if f >= 0 else np.exp(f) / (1.0 + np.exp(f))) - label
        out = np.empty_like(theta)
        out[: K * d] = np.outer(s * v * (pre > 0), y).ravel()
        out[K * d:] = s * h
        return out
    return grad
