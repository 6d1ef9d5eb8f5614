"""Two-layer network in the linear-width parameterisation of SPEC §3.0 (Fan & Wang 2020).

    f(x) = a^T sigma(W x / sqrt(d)) / sqrt(h),   W in R^{h x d},  a in R^h,  W_ij, a_j ~ N(0, init_std^2),

no biases. Inputs are rows: ``x`` has shape (n, d) and ``f`` returns (n,). ``train_a=False`` freezes
the second layer (``a`` is a buffer), the "W only" setting of SPEC §3.1.
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


class TwoLayer(nn.Module):
    """``f(x) = a^T sigma(W x / sqrt(d)) / sqrt(h)`` with Gaussian init from a dedicated generator."""

    def __init__(self, dim: int, width: int, activation: str = "tanh", train_a: bool = False,
                 init_std: float = 1.0, seed: int = 0, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if dim < 1 or width < 1:
            raise ConfigError(f"two-layer net needs d >= 1 and h >= 1, got d={dim}, h={width}")
        self.dim, self.width, self.activation = dim, width, activation
        self.sigma = activation_fn(activation)
        gen = torch.Generator().manual_seed(int(seed))
        weight = init_std * torch.randn(width, dim, generator=gen, dtype=dtype)
        head = init_std * torch.randn(width, generator=gen, dtype=dtype)
        self.W = nn.Parameter(weight)
        if train_a:
            self.a = nn.Parameter(head)
        else:
            self.register_buffer("a", head)
        self.train_a = train_a

    def hidden_weights(self) -> list[torch.Tensor]:
        """``[W]`` (the one hidden layer; :class:`~nnspectra.models.linear_width.LinearWidthMLP` has L)."""
        return [self.W]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations ``sigma(x W^T / sqrt(d))``, shape (n, h)."""
        return self.sigma(x @ self.W.T / math.sqrt(self.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) @ self.a / math.sqrt(self.width)
