"""Reference implementations for tests (not part of the library): a numpy MLP with a hand-written backward."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from nnspectra.errors import ConfigError
from nnspectra.models.mlp import ACTIVATIONS


class NumpyMLP:
    """Float64 numpy twin of :func:`nnspectra.models.mlp.make_mlp` with a hand-written backward pass.

    A reference written independently of torch (the official code's float64 numpy setting), used by the
    tests to check the fast gradient path and, through finite differences of its gradient, the Hessians.
    Parameters in ``model.named_parameters()`` order: ``[W1, b1, W2, b2, ...]``, W_l of shape (out, in).
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
