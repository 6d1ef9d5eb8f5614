"""Dense exact Hessian and Gauss-Newton matrix of the mean loss, in float64 by default.

Reference: Sagun et al. (2018) eq. 1 (Hessian of the mean loss) and eqs. 4-5 (Gauss-Newton split).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import functional_call, hessian as func_hessian, jacrev, vmap

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def flat_parameters(model: torch.nn.Module, dtype: torch.dtype | None = None) -> torch.Tensor:
    """All parameters concatenated in ``model.named_parameters()`` order, detached."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return flat if dtype is None else flat.to(dtype)


def _unflatten(model: torch.nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    params, offset = {}, 0
    for name, p in model.named_parameters():
        params[name] = theta[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
    return params


def loss_of_flat_params(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor,
                        targets: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """theta -> mean loss of ``model`` with its parameters replaced by the flat vector theta."""
    buffers = dict(model.named_buffers())

    def f(theta: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (_unflatten(model, theta), buffers), (inputs,))
        return loss_fn(out, targets)

    return f


def _as_dtype(model: torch.nn.Module, inputs: torch.Tensor, dtype: torch.dtype):
    model = model if next(model.parameters()).dtype == dtype else _copy_to(model, dtype)
    return model, (inputs.to(dtype) if inputs.is_floating_point() else inputs)


def _copy_to(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model).to(dtype)


def hessian(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
            dtype: torch.dtype = torch.float64, chunk: int = 256) -> torch.Tensor:
    """Exact P x P Hessian of the mean loss, built from Hessian-vector products on basis blocks."""
    model, inputs = _as_dtype(model, inputs, dtype)
    f = loss_of_flat_params(model, loss_fn, inputs, targets)
    theta = flat_parameters(model)
    grad_f = torch.func.grad(f)

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return torch.func.jvp(grad_f, (theta,), (v,))[1]

    n = theta.numel()
    out = torch.empty(n, n, dtype=dtype, device=theta.device)
    eye = torch.eye(n, dtype=dtype, device=theta.device)
    for start in range(0, n, chunk):
        out[start : start + chunk] = vmap(hvp)(eye[start : start + chunk])
    return 0.5 * (out + out.T)


def gauss_newton(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                 dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Gauss-Newton part G = sum_i J_i^T (d^2 L / d out_i^2) J_i of the mean-loss Hessian."""
    model, inputs = _as_dtype(model, inputs, dtype)
    theta = flat_parameters(model)
    buffers = dict(model.named_buffers())

    def out_of(theta_: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, (_unflatten(model, theta_), buffers), (x[None],))[0]

    jac = vmap(jacrev(out_of), in_dims=(None, 0))(theta, inputs)  # (N, C, P)
    outputs = functional_call(model, (_unflatten(model, theta), buffers), (inputs,)).detach()
    n = inputs.shape[0]

    def total_loss(o: torch.Tensor) -> torch.Tensor:
        return loss_fn(o, targets)

    h_out = func_hessian(total_loss)(outputs)  # (N, C, N, C), block diagonal for per-sample losses
    idx = torch.arange(n)
    blocks = h_out[idx, :, idx, :]  # (N, C, C)
    return torch.einsum("ncp,ncd,ndq->pq", jac, blocks, jac)


def hessian_decomposition(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                          *, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(H, G, R): the Hessian, its Gauss-Newton part and the residual R = H - G."""
    h = hessian(model, loss_fn, inputs, targets, dtype=dtype)
    g = gauss_newton(model, loss_fn, inputs, targets, dtype=dtype)
    return h, g, h - g
