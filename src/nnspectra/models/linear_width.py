"""L-hidden-layer MLP in the linear-width parameterisation (SPEC §3.3's deep variant of §3.0's two-layer net).

    h_0 = x,  h_l = sigma(W_l h_{l-1} / sqrt(fan_in_l)),  f(x) = a^T h_L / sqrt(h),
    W_1 in R^{h x d}, W_l in R^{h x h} (l >= 2), entries and a ~ N(0, init_std^2), no biases.

"3-layer MLP" in SPEC §3.3 counts weight layers as §3.0's "two-layer network" does (one hidden layer): it
is ``hidden_layers = 2``. Parameters are drawn from one generator in the order W_1, ..., W_L, a, so
``hidden_layers = 1`` draws exactly :class:`~nnspectra.models.two_layer.TwoLayer`'s numbers (the
experiment still trains ``TwoLayer`` itself at L = 1, bit for bit as before).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnspectra.errors import ConfigError
from nnspectra.models.two_layer import activation_fn


class LinearWidthMLP(nn.Module):
    """``f(x) = a^T sigma(W_L ... sigma(W_1 x / sqrt(d)) ... / sqrt(h)) / sqrt(h)``; ``train_a=False`` freezes a."""

    def __init__(self, dim: int, width: int, hidden_layers: int = 2, activation: str = "tanh",
                 train_a: bool = False, init_std: float = 1.0, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if dim < 1 or width < 1 or hidden_layers < 1:
            raise ConfigError(f"the MLP needs d, h, hidden_layers >= 1, got d={dim}, h={width}, L={hidden_layers}")
        self.dim, self.width, self.activation = dim, width, activation
        self.sigma = activation_fn(activation)
        gen = torch.Generator().manual_seed(int(seed))
        fans = [dim] + [width] * (hidden_layers - 1)
        self.Ws = nn.ParameterList(init_std * torch.randn(width, fan, generator=gen, dtype=dtype) for fan in fans)
        head = init_std * torch.randn(width, generator=gen, dtype=dtype)
        if train_a:
            self.a = nn.Parameter(head)
        else:
            self.register_buffer("a", head)
        self.train_a = train_a

    def hidden_weights(self) -> list[torch.Tensor]:
        """``[W_1, ..., W_L]``."""
        return list(self.Ws)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden layer ``h_L`` (n, h)."""
        for w in self.Ws:
            x = self.sigma(x @ w.T / math.sqrt(w.shape[1]))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.a / math.sqrt(self.width)
