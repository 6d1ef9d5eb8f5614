"""A model as a function of one flat parameter vector (P,): the view that exact curvature (Hessians of
``theta -> loss``), loss along a line between two solutions and batched training of many tiny nets share.

Its home is models/, not curvature/, so a training step that moves flat vectors hashes no curvature code.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import functional_call

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flat_parameters(model: torch.nn.Module, dtype: torch.dtype | None = None) -> torch.Tensor:
    """All parameters concatenated in ``model.named_parameters()`` order, detached: shape (P,)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return flat if dtype is None else flat.to(dtype)


def unflatten(model: torch.nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """The flat vector theta (P,) as ``{name: view}`` in ``model.named_parameters()`` order (no copy). One
    split, so a gradient with respect to theta is assembled by one concatenation in autograd (a slice per
    parameter would add a zero-filled (P,) tensor per parameter)."""
    named = list(model.named_parameters())
    pieces = theta.split([p.numel() for _, p in named])
    return {name: piece.view_as(p) for (name, p), piece in zip(named, pieces)}


def loss_of_flat_params(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor,
                        targets: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """theta -> mean loss of ``model`` with its parameters replaced by the flat vector theta (P,)."""
    buffers = dict(model.named_buffers())

    def f(theta: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (unflatten(model, theta), buffers), (inputs,))
        return loss_fn(out, targets)

    return f


def outputs_of_flat_params(model: torch.nn.Module, inputs: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """theta -> model outputs (N, C) with the parameters replaced by theta (P,)."""
    buffers = dict(model.named_buffers())

    def f(theta: torch.Tensor) -> torch.Tensor:
        return functional_call(model, (unflatten(model, theta), buffers), (inputs,))

    return f
