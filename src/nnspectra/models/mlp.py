"""Fully connected networks of Sagun et al. (2018): 100-30-30-k with biases, ReLU or tanh.

The official code initialises every weight and bias i.i.d. N(0, 0.1^2) (``param_scale = 0.1``); the
``init="torch"`` option keeps PyTorch's default (Kaiming-uniform) initialisation instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from nnspectra.errors import ConfigError

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
INITS = ("normal", "torch")


def mlp_parameter_count(sizes: Sequence[int]) -> int:
    """Number of weights and biases of a fully connected net with layer widths ``sizes``."""
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def make_mlp(sizes: Sequence[int], activation: str = "relu", init: str = "normal", init_scale: float = 0.1,
             seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """MLP with widths ``sizes`` (input, hidden..., output), biases, ``activation`` between layers.

    The last layer is linear (logits; softmax lives in the loss). ``init="normal"`` draws all
    parameters from N(0, init_scale^2) with a dedicated generator seeded by ``seed``.
    """
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation '{activation}' is not one of {sorted(ACTIVATIONS)}")
    if init not in INITS:
        raise ConfigError(f"init '{init}' is not one of {INITS}")
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ConfigError(f"MLP layer sizes must be >= 2 positive widths, got {list(sizes)}")
    torch.manual_seed(seed)  # only affects the "torch" init; "normal" uses its own generator below
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(int(a), int(b), dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    model = nn.Sequential(*layers)
    if init == "normal":
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * init_scale)
    return model


class NumpyMLP:
    """Float64 numpy twin of :func:`make_mlp` with a hand-written backward pass, for fast training.

    For a 100-30-30-k net on 100 samples one PyTorch autograd step costs ~0.5-1 ms of per-operator
    overhead; this closed-form backward (the official code's float64 numpy setting) is several times
    cheaper. Parameters are kept in ``model.named_parameters()`` order: ``[W1, b1, W2, b2, ...]`` with
    torch's layout, W_l of shape (out, in). It is checked against torch autograd in the tests.
    """

    def __init__(self, params: list[np.ndarray], activation: str = "relu") -> None:
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation '{activation}' is not one of {sorted(ACTIVATIONS)}")
        self.params = [np.array(p, dtype=np.float64) for p in params]
        self.activation = activation

    @classmethod
    def from_torch(cls, model: nn.Sequential, activation: str) -> "NumpyMLP":
        """Copy the parameters of a :func:`make_mlp` network (in float64)."""
        return cls([p.detach().double().cpu().numpy() for p in model.parameters()], activation)

    def to_torch(self, model: nn.Sequential) -> nn.Sequential:
        """Write the parameters back into ``model`` (same architecture) and return it."""
        with torch.no_grad():
            for p, value in zip(model.parameters(), self.params):
                p.copy_(torch.from_numpy(value))
        return model

    def _act(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0) if self.activation == "relu" else np.tanh(z)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Network outputs (n, k) for inputs (n, d)."""
        h = x
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            h = h @ self.params[2 * i].T + self.params[2 * i + 1]
            if i < n_layers - 1:
                h = self._act(h)
        return h

    def loss_and_grad(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean softmax cross-entropy on (x (n, d), y (n,) int) and its gradient per parameter."""
        n_layers = len(self.params) // 2
        pre, post = [], [x]
        h = x
        for i in range(n_layers):
            z = h @ self.params[2 * i].T + self.params[2 * i + 1]
            if i < n_layers - 1:
                pre.append(z)
                h = self._act(z)
                post.append(h)
            else:
                h = z
        logits = h - h.max(axis=1, keepdims=True)
        expo = np.exp(logits)
        total = expo.sum(axis=1, keepdims=True)
        rows = np.arange(len(y))
        loss = float(np.mean(np.log(total[:, 0]) - logits[rows, y]))
        delta = expo / total
        delta[rows, y] -= 1.0
        delta /= len(y)
        grads: list[np.ndarray] = [np.empty(0)] * len(self.params)
        for i in range(n_layers - 1, -1, -1):
            grads[2 * i] = delta.T @ post[i]
            grads[2 * i + 1] = delta.sum(axis=0)
            if i > 0:
                back = delta @ self.params[2 * i]
                if self.activation == "relu":
                    delta = back * (pre[i - 1] > 0)
                else:
                    delta = back * (1.0 - post[i] ** 2)
        return loss, grads
