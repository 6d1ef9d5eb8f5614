"""CK and empirical NTK of the L-hidden-layer linear-width MLP, in closed form (no Jacobian).

The net (SPEC §3.3, the deep variant of §3.0's two-layer net; :mod:`nnspectra.models.linear_width`)::

    h_0 = X,  z_l = h_{l-1} W_l^T / sqrt(fan_in_l),  h_l = sigma(z_l)  (l = 1..L),  f = h_L a / sqrt(h)

Backpropagation gives ``delta_L = sigma'(z_L) diag(a) / sqrt(h)`` and
``delta_{l-1} = sigma'(z_{l-1}) ⊙ (delta_l W_l / sqrt(fan_in_l))`` (n, h): ``delta_l[i] = df(x_i)/dz_l``.
Since ``df(x_i)/dW_l = delta_l[i]^T h_{l-1}[i] / sqrt(fan_in_l)``, the NTK block of ``W_l`` is the
Hadamard product ``(delta_l delta_l^T) ⊙ (h_{l-1} h_{l-1}^T) / fan_in_l``; the NTK is their sum over the
trained layers (plus the CK ``h_L h_L^T / h`` when ``a`` is trained). For L = 1 these are exactly the
two-layer forms of :mod:`nnspectra.curvature.kernels` (tests/test_deep_kernels.py checks both, and a
``torch.func.jacrev`` Jacobian Gram, in float64). Cost: O(L n h (d + h) + L n^2 h), memory O(n^2 + L n h).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnspectra.curvature.kernels import NTK_PARAMS, _act, _act_prime
from nnspectra.errors import ConfigError

__all__ = ["deep_ck", "deep_forward", "deep_ntk", "deep_output", "kernel_points"]


def _check(weights: Sequence[np.ndarray], inputs: np.ndarray) -> list[np.ndarray]:
    mats = [np.asarray(w, dtype=np.float64) for w in weights]
    fan_in = np.shape(inputs)[1]
    for layer, w in enumerate(mats, start=1):
        if w.ndim != 2 or w.shape[1] != fan_in:
            raise ConfigError(f"layer {layer}: W has shape {w.shape}, expected (h, {fan_in})")
        fan_in = w.shape[0]
    return mats


def deep_forward(weights: Sequence[np.ndarray], inputs: np.ndarray, activation: str = "tanh",
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Activations ``[h_0 = X, h_1, ..., h_L]`` and pre-activations ``[z_1, ..., z_L]`` (float64)."""
    x = np.asarray(inputs, dtype=np.float64)
    mats = _check(weights, x)
    acts, pre = [x], []
    for w in mats:
        z = acts[-1] @ w.T / np.sqrt(w.shape[1])
        pre.append(z)
        acts.append(_act(activation, z))
    return acts, pre


def deep_output(weights: Sequence[np.ndarray], head: np.ndarray, inputs: np.ndarray, activation: str = "tanh",
                ) -> np.ndarray:
    """``f(X) = h_L a / sqrt(h)``, shape (n,)."""
    acts, _ = deep_forward(weights, inputs, activation)
    return acts[-1] @ np.asarray(head, dtype=np.float64) / np.sqrt(acts[-1].shape[1])


def deep_ck(weights: Sequence[np.ndarray], inputs: np.ndarray, activation: str = "tanh") -> np.ndarray:
    """CK of the penultimate layer ``h_L h_L^T / h`` (n, n)."""
    feats = deep_forward(weights, inputs, activation)[0][-1]
    return feats @ feats.T / feats.shape[1]


def deep_ntk(weights: Sequence[np.ndarray], head: np.ndarray, inputs: np.ndarray, activation: str = "tanh",
             params: str = "W") -> np.ndarray:
    """Empirical NTK ``J J^T`` (n, n) over every hidden ``W_l`` (``"W"``), plus ``a`` for ``"both"``."""
    if params not in NTK_PARAMS:
        raise ConfigError(f"NTK parameters '{params}' must be one of {NTK_PARAMS}")
    acts, pre = deep_forward(weights, inputs, activation)
    mats = _check(weights, acts[0])
    head = np.asarray(head, dtype=np.float64)
    width = mats[-1].shape[0]
    if head.shape != (width,):
        raise ConfigError(f"readout weights have shape {head.shape}, expected ({width},)")
    delta = _act_prime(activation, pre[-1]) * head / np.sqrt(width)
    kernel = np.zeros((acts[0].shape[0],) * 2)
    for layer in range(len(mats) - 1, -1, -1):
        fan_in = mats[layer].shape[1]
        kernel += (delta @ delta.T) * (acts[layer] @ acts[layer].T) / fan_in
        if layer:
            delta = _act_prime(activation, pre[layer - 1]) * (delta @ mats[layer]) / np.sqrt(fan_in)
    if params == "both":
        kernel += acts[-1] @ acts[-1].T / width
    return kernel


def kernel_points(n: int, points: int | None) -> np.ndarray:
    """Indices of the ``points`` training inputs a kernel is computed on: evenly spaced over 0..n-1 (all of
    them for ``None`` or ``points >= n``), so a class-sorted subset stays class-balanced (n = 2,000 -> every 2nd)."""
    if points is None or points >= n:
        return np.arange(n)
    if points < 2:
        raise ConfigError(f"ntk_points must be >= 2 (or null for all n), got {points}")
    return np.floor(np.arange(points) * (n / points)).astype(np.int64)
