"""Independent float64 references for the shared curvature cases (tests/curvature_cases.py): written with
``torch.func`` only, nothing from ``nnspectra.curvature``.

* Hessian: ``torch.func.hessian`` of the mean loss as a function of the flat parameter vector;
* Gauss-Newton: J^T H_out J with the full (N, C, P) output Jacobian (``jacrev``) and the full (N, C, N, C)
  output Hessian of the loss;
* G-matrix: (1/N) sum_i g_i g_i^T from per-sample gradients (``vmap`` of ``grad`` on one sample each).

:func:`references` caches them per case name (the case factories are seeded, so a case is one matrix).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from curvature_cases import CASES_BY_NAME, Case


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _as_params(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    out, start = {}, 0
    for name, p in model.named_parameters():
        out[name] = theta[start : start + p.numel()].reshape(p.shape)
        start += p.numel()
    return out


def _outputs(model: nn.Module, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return functional_call(model, ({**_as_params(model, theta), **dict(model.named_buffers())},), (x,))


def reference_hessian(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The full P x P Hessian of the mean loss."""
    return torch.func.hessian(lambda t: loss_fn(_outputs(model, t, x), y))(_flat(model))


def reference_gauss_newton(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """J^T H_out J with the full output Jacobian and the full (N, C, N, C) output Hessian."""
    theta = _flat(model)
    jac = torch.func.jacrev(lambda t: _outputs(model, t, x))(theta)  # (N, C, P)
    out = _outputs(model, theta, x).detach()
    h_out = torch.func.hessian(lambda o: loss_fn(o, y))(out)  # (N, C, N, C)
    return torch.einsum("icp,icjd,jdq->pq", jac, h_out, jac)


def reference_gradient_moment(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/N) sum_i g_i g_i^T with g_i the gradient of sample i's loss (the mean loss on that sample alone)."""
    theta = _flat(model)

    def one(t: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return loss_fn(_outputs(model, t, xi[None]), yi[None])

    grads = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0, 0))(theta, x, y)  # (N, P)
    return grads.T @ grads / len(x)


@dataclass(frozen=True)
class Reference:
    hessian: torch.Tensor
    gauss_newton: torch.Tensor
    gradient_moment: torch.Tensor
    eigenvalues: np.ndarray  # of the Hessian, ascending (numpy LAPACK)

    @property
    def n_params(self) -> int:
        return self.hessian.shape[0]

    def matrix(self, kind: str) -> torch.Tensor:
        return getattr(self, kind)


@cache
def _references(name: str) -> Reference:
    model, x, y = CASES_BY_NAME[name].build()
    loss_fn = CASES_BY_NAME[name].loss_fn
    h = reference_hessian(model, loss_fn, x, y)
    return Reference(h, reference_gauss_newton(model, loss_fn, x, y), reference_gradient_moment(model, loss_fn, x, y),
                     np.linalg.eigvalsh(h.numpy()))


def references(case: Case) -> Reference:
    """The three reference matrices of ``case`` (computed once per test session)."""
    return _references(case.name)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max-abs error relative to the reference's largest entry."""
    return float((a - b).abs().max() / b.abs().max())
