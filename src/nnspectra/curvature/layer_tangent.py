"""Hessian columns of one layer group from its layer OUTPUT, whose tangent is written in closed form.

For a model that is a (nested) ``nn.Sequential`` and a layer group owned by one of its ``nn.Linear`` or
``nn.Conv2d`` leaves, split the model at that layer: a = head(x) does not depend on the group or on
anything after it, and the layer output z = M(a) theta_b is LINEAR in the group's parameters theta_b
(M: the input rows for a Linear, the im2col patches of a for a Conv2d). With Phi(z, theta_rest) the loss
of the rest of the network,

    H[rest, b] v = d^2 Phi / (d theta_rest dz) . (M v),      H[b, b] v = M^T (d^2 Phi / dz^2) (M v),

so a block of columns is ONE vmapped forward-over-reverse product of Phi w.r.t. z with the tangents M e_j
written directly (a copy of patch rows, no flops), followed by one GEMM with M^T. Against the plain
forward-over-reverse product (``strategy="jvp"`` in :mod:`nnspectra.curvature.generic`) this skips the
forward tangent of the layer itself, a dense convolution with one-hot weights; on the SPEC §1.7 convnet
that is the larger part of the float64 CPU cost of the conv2 columns (see docs/performance.md).
Exact for any layers after the split (nothing assumes piecewise linearity).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, vmap

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def sequential_leaves(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """(qualified name, module) of the non-Sequential children of a plain, possibly nested ``nn.Sequential``
    in call order; None for any other model (whose forward may not be the composition of its children)."""
    if type(model) is not nn.Sequential:
        return None
    leaves: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, seq: nn.Module) -> None:
        for name, child in seq.named_children():
            if type(child) is nn.Sequential:
                walk(f"{prefix}{name}.", child)
            else:
                leaves.append((f"{prefix}{name}", child))

    walk("", model)
    return leaves


def _linear_in_params(module: nn.Module) -> str | None:
    """Why ``module`` has no closed-form output tangent here (None if it has one)."""
    if type(module) is nn.Linear:
        return None
    if type(module) is nn.Conv2d:
        if module.groups != 1:
            return "grouped convolution"
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            return f"padding {module.padding!r} / {module.padding_mode!r}"
        return None
    return f"{type(module).__name__} is not nn.Linear or nn.Conv2d"


def output_tangent_plan(model: nn.Module, block: list[str]) -> tuple[int, list[tuple[str, nn.Module]]] | str:
    """(index of the group's layer among the leaves, the leaves) when the group qualifies, else the reason."""
    leaves = sequential_leaves(model)
    if leaves is None:
        return "the model is not a plain nn.Sequential"
    owner = block[0].rsplit(".", 1)[0]
    names = [q for q, _ in leaves]
    if owner not in names:
        return f"{owner} is not a leaf of the Sequential"
    index = names.index(owner)
    layer = leaves[index][1]
    why = _linear_in_params(layer)
    if why:
        return why
    expected = [f"{owner}.weight"] + ([f"{owner}.bias"] if layer.bias is not None else [])
    if block != expected:
        return f"group {block} is not the layer's weight and bias"
    leaf_params = {f"{q}.{n}" for q, m in leaves for n, _ in m.named_parameters()}
    if leaf_params != {n for n, _ in model.named_parameters()}:
        return "parameters shared between leaves"
    return index, leaves


class LayerOutputColumns:
    """Columns H[b:, b] of the group owned by ``leaves[index]`` (see the module docstring).

    ``params``: all parameters by name (detached); ``tail_rest``: the names after the group, in the
    order of the output rows; ``inputs``: batched (a Conv2d layer needs its input as (N, C, H, W)).
    Computes a = head(x), the patch matrix M and z once.
    """

    def __init__(self, leaves: list[tuple[str, nn.Module]], index: int, loss_fn: LossFn, inputs: torch.Tensor,
                 targets: torch.Tensor, params: dict[str, torch.Tensor], tail_rest: list[str]):
        name, layer = leaves[index]
        self.has_bias = layer.bias is not None
        with torch.no_grad():
            a = inputs
            for q, leaf in leaves[:index]:
                a = _call(leaf, q, params, a)
            z = _call(layer, name, params, a)
        if isinstance(layer, nn.Conv2d):
            if a.dim() != 4:
                raise ValueError(f"layer {name}: output_jvp needs a batched (N, C, H, W) input, got {tuple(a.shape)}")
            cols = nn.functional.unfold(a, layer.kernel_size, dilation=layer.dilation, padding=layer.padding,
                                        stride=layer.stride)  # (N, K, L)
        else:
            cols = a.reshape(-1, a.shape[-1], 1)  # (M, K, 1): rows of a Linear's input
        self.m, self.k, self.l = cols.shape
        self.o = z.shape[1] if isinstance(layer, nn.Conv2d) else z.shape[-1]
        self.patches = cols.permute(0, 2, 1).reshape(self.m * self.l, self.k).contiguous()  # (M L, K)
        self.z = z
        self.n_weight = self.o * self.k
        rest_leaves = leaves[index + 1 :]
        rest_params = {n: params[n] for n in tail_rest}

        def phi(z_: torch.Tensor, rp: dict[str, torch.Tensor]) -> torch.Tensor:
            for q, leaf in rest_leaves:
                z_ = _call(leaf, q, rp, z_)
            return loss_fn(z_, targets)

        grad_fn = torch.func.grad(phi, argnums=(0, 1))

        def grads(z_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            gz, gr = grad_fn(z_, rest_params)
            flat = [gr[n].reshape(-1) for n in tail_rest]
            return gz, (torch.cat(flat) if flat else z_.new_zeros(0))

        self._grads = grads

    def _product(self, z_tangent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(d^2 Phi/dz^2 t, d^2 Phi/(d theta_rest dz) t) for one output tangent t (forward over reverse)."""
        return torch.func.jvp(self._grads, (self.z,), (z_tangent,))[1]

    def tangents(self, start: int, stop: int) -> torch.Tensor:
        """M e_j for the group's parameters j in [start, stop) (weight entries (o, k) row-major, then bias o)."""
        j = torch.arange(start, stop, device=self.z.device)
        out = self.z.new_zeros(stop - start, self.m, self.o, self.l)
        col = torch.arange(stop - start, device=self.z.device)
        weight = j < self.n_weight
        patches = self.patches.view(self.m, self.l, self.k)
        out[col[weight], :, j[weight] // self.k, :] = patches[:, :, j[weight] % self.k].permute(2, 0, 1)
        out[col[~weight], :, j[~weight] - self.n_weight, :] = 1.0
        return out.view(stop - start, *self.z.shape)

    def columns(self, start: int, stop: int) -> torch.Tensor:
        """Rows H[j, b:] for j in [start, stop): (stop - start, n_block + n_rest)."""
        width = stop - start
        u_z, u_rest = vmap(self._product)(self.tangents(start, stop))
        u = u_z.reshape(width, self.m, self.o, self.l)
        weight = torch.matmul(u.permute(0, 2, 1, 3).reshape(width, self.o, self.m * self.l), self.patches)
        parts = [weight.reshape(width, self.n_weight)]
        if self.has_bias:
            parts.append(u.sum(dim=(1, 3)))
        return torch.cat(parts + [u_rest], dim=1)


def _call(leaf: nn.Module, qualified: str, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``leaf(x)`` with its parameters taken from ``params`` (qualified names)."""
    local = {n: params[f"{qualified}.{n}"] for n, _ in leaf.named_parameters()}
    return functional_call(leaf, local, (x,)) if local else leaf(x)
