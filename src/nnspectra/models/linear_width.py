"""L-hidden-layer MLP in the linear-width parameterisation of SPEC §3.0 (Fan & Wang 2020) and §3.3.

    h_0 = x,  h_l = sigma(W_l h_{l-1} / sqrt(fan_in_l)),  f(x) = a^T h_L / sqrt(h),
    W_1 in R^{h x d}, W_l in R^{h x h} (l >= 2), entries and a ~ N(0, init_std^2), no biases.

``hidden_layers = 1`` is §3.0's two-layer network ``f(x) = a^T sigma(W x / sqrt(d)) / sqrt(h)``; "3-layer
MLP" in SPEC §3.3 counts weight layers the same way: it is ``hidden_layers = 2``. Parameters are drawn from
one generator in the order W_1, ..., W_L, a (at L = 1: W then a, the draws of the former ``TwoLayer`` class,
bit for bit; ``tests/test_deep_kernels.py`` checks them against that explicit draw sequence). Inputs are rows:
``x`` has shape (n, d) and ``f`` returns (n,). ``train_a=False`` freezes the head (``a`` is a buffer), the
"W only" setting of SPEC §3.1.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnspectra.errors import ConfigError

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "softplus": nn.functional.softplus}


def activation_fn(name: str):  # type: ignore[no-untyped-def]
    """The elementwise activation named in the config (tanh is odd and centred, as FW20 assumes)."""
    if name not in ACTIVATIONS:
        raise ConfigError(f"activation '{name}' is not one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


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
