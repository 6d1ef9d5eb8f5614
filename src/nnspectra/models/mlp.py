"""Fully connected networks of Sagun et al. (2018): 100-30-30-k with biases, ReLU or tanh.

The official code initialises every weight and bias i.i.d. N(0, 0.1^2) (``param_scale = 0.1``); the
``init="torch"`` option keeps PyTorch's default (Kaiming-uniform) initialisation instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nnspectra.errors import ConfigError
from nnspectra.models.sizes import mlp_parameter_count

__all__ = ["ACTIVATIONS", "INITS", "make_mlp", "mlp_parameter_count"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
INITS = ("normal", "torch")


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
