"""Dense exact Hessian, Gauss-Newton part and G-matrix of the mean loss, float64 by default.

Reference: Sagun et al. (2018) eq. 1 (Hessian of the mean loss L = (1/N) sum_i l_i) and eqs. 4-5
(H = G + R with G = sum_i J_i^T (d^2 L/df_i^2) J_i the Gauss-Newton part and R the residual).

Methods (chosen by measurement, see docs/performance.md and benchmarks/bench_curvature.py):

* ``"mlp"``: layer-structured GEMMs for ``nn.Sequential`` MLPs (:mod:`nnspectra.curvature.mlp`),
  ~N P^2 multiply-adds, peak memory ~ the P x P result plus a bounded panel;
* ``"hvp"``: any module: layer-block triangular columns from batched products, the fastest of
  vmapped forward-over-reverse / double backward per layer group, blocks sized to the memory budget
  (:mod:`nnspectra.curvature.generic`);
* ``"jacobian"`` (Gauss-Newton / G-matrix of any module): per-sample Jacobians in sample chunks,
  rotated by the eigenvectors of each output-Hessian block, accumulated with one SYRK-like GEMM.

``method="auto"`` takes ``"mlp"`` when the model qualifies, else the generic method.
The loss is ``loss_fn(outputs, targets)`` = the MEAN over the samples of a per-sample loss.
"""

from __future__ import annotations

import copy

import torch
from torch.func import functional_call, vmap

from nnspectra.curvature.memory import check_dense_fits, dense_bytes, memory_budget_bytes
from nnspectra.curvature.mlp import mlp_curvature, mlp_layers, output_hessian_blocks
from nnspectra.curvature.precision import ieee_float32
from nnspectra.models.flat import LossFn, flat_parameters, outputs_of_flat_params, unflatten

METHODS = ("auto", "mlp", "hvp", "jacobian")

#: how a dense matrix was built (``.dense_with_builder`` of the operators in :mod:`nnspectra.curvature.products`; recorded
#: per matrix by ``analyze`` as ``dense_builder``)
EXACT_BUILDER = "exact dense builder (layer-structured / torch.func per-sample and forward-mode transforms)"
PRODUCTS_BUILDER = "double backward on whole-batch products (P products, any autograd layer)"


def batch_coupled(model: torch.nn.Module) -> bool:
    """Whether a batch-norm layer normalises with batch statistics (training mode), coupling the samples: the
    exact builders' per-sample transforms do not apply, whole-batch products do."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training for m in model.modules())


class LayerTrace:
    """Forward hooks naming the innermost module whose forward was running when an error was raised
    (:attr:`innermost`), so a failed dense builder can say which layer it could not transform."""

    def __init__(self, model: torch.nn.Module):
        self.stack: list[str] = []
        self.handles = []
        for name, module in model.named_modules():
            label = f"{name or '<model>'} ({type(module).__name__})"
            self.handles.append(module.register_forward_pre_hook(lambda m, a, label=label: self.stack.append(label)))
            self.handles.append(module.register_forward_hook(lambda m, a, o: self._leave()))

    @property
    def innermost(self) -> str:
        return self.stack[-1] if self.stack else "a layer"

    def _leave(self) -> None:  # a forward hook must return None (anything else replaces the output)
        if self.stack:
            self.stack.pop()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def prepare(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, dtype: torch.dtype,
            device: torch.device | str | None = None) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """The model, inputs and targets in ``dtype`` on ``device`` (default: the model's device).

    The model is copied only when its dtype or device differ, so the caller's model is never changed.
    """
    first = next(model.parameters())
    device = first.device if device is None else torch.device(device)
    if first.dtype != dtype or first.device != device:
        model = copy.deepcopy(model).to(device=device, dtype=dtype)
    inputs = inputs.to(device=device, dtype=dtype) if inputs.is_floating_point() else inputs.to(device)
    targets = targets.to(device=device, dtype=dtype) if targets.is_floating_point() else targets.to(device)
    return model, inputs, targets


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _pick(method: str, model: torch.nn.Module, generic: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        return "mlp" if mlp_layers(model) is not None else generic
    if method == "mlp" and mlp_layers(model) is None:
        raise ValueError("method='mlp' needs an nn.Sequential of Linear layers and elementwise activations")
    return method


def _outer_curvature_jacobian(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                              kind: str, budget: int) -> torch.Tensor:
    """sum_i J_i^T B_i J_i with B_i the output-Hessian block (GN) or N g_i g_i^T (G-matrix), any module.

    Each B_i = V diag(lam) V^T (eigh of a C x C block) so the sum is one GEMM (V^T J)^T diag(lam) (V^T J)
    per chunk of samples; the (N, C, N, C) output Hessian is never formed.
    """
    theta = flat_parameters(model)
    outputs = outputs_of_flat_params(model, inputs)(theta).detach()
    n, c = outputs.shape
    g, blocks = output_hessian_blocks(loss_fn, outputs, targets, check=(kind == "gauss_newton"))
    if kind == "gradient_moment":
        blocks = n * g[:, :, None] * g[:, None, :]
    lam, vecs = torch.linalg.eigh(blocks)  # (N, C), (N, C, C)
    p = theta.numel()
    buffers = dict(model.named_buffers())

    def out_one(theta_: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, (unflatten(model, theta_), buffers), (x[None],))[0]

    jac_fn = vmap(torch.func.jacrev(out_one), in_dims=(None, 0))
    per_sample = 3 * c * p * theta.element_size()
    step = int(max(1, min(n, (budget // 4) // max(1, per_sample))))
    out = torch.zeros(p, p, dtype=theta.dtype, device=theta.device)
    for s0 in range(0, n, step):
        s1 = min(n, s0 + step)
        jac = jac_fn(theta, inputs[s0:s1])  # (n_s, C, P)
        rot = torch.matmul(vecs[s0:s1].transpose(1, 2), jac).reshape(-1, p)  # rows: eigen-directions
        weights = lam[s0:s1].reshape(-1)
        out.addmm_(rot.T, weights[:, None] * rot)
    from nnspectra.curvature.mlp import symmetrize_from_upper

    symmetrize_from_upper(out)
    return out


@ieee_float32()
def dense_curvature(kind: str, model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
           dtype: torch.dtype, method: str, budget_gb: float | None, device: torch.device | str | None,
           chunk: int | None = None) -> torch.Tensor:
    """The dense P x P ``kind`` ("hessian", "gauss_newton" or "gradient_moment") by ``method`` (module
    docstring): the one dense chain behind :func:`hessian`, :func:`gauss_newton`, :func:`gradient_moment` and
    the operators' ``.dense()`` (:mod:`nnspectra.curvature.products`). At IEEE float32 precision on CUDA, never
    TensorFloat-32 (:func:`nnspectra.curvature.precision.ieee_float32`)."""
    model, inputs, targets = prepare(model, inputs, targets, dtype, device)
    dev = next(model.parameters()).device
    p = _n_params(model)
    what = {"hessian": "Hessian", "gauss_newton": "Gauss-Newton matrix", "gradient_moment": "G-matrix"}[kind]
    check_dense_fits(p, p, dtype, budget_gb=budget_gb, what=what, device=dev)
    budget = memory_budget_bytes(budget_gb, dev)
    chosen = _pick(method, model, "hvp" if kind == "hessian" else "jacobian")
    if chosen == "mlp":
        return mlp_curvature(mlp_layers(model), loss_fn, inputs, targets, kind=kind)  # type: ignore[arg-type]
    if chosen == "hvp":
        if kind != "hessian":
            raise ValueError("method='hvp' computes the Hessian only; use 'jacobian' or 'mlp' for G")
        from nnspectra.curvature.generic import hessian_any

        return hessian_any(model, loss_fn, inputs, targets, budget=max(0, budget - dense_bytes(p, p, dtype)),
                           chunk=chunk)
    if kind == "hessian":
        raise ValueError("method='jacobian' computes the Gauss-Newton part or the G-matrix, not the Hessian")
    return _outer_curvature_jacobian(model, loss_fn, inputs, targets, kind, budget)


def hessian(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
            dtype: torch.dtype = torch.float64, chunk: int | None = None, method: str = "auto",
            budget_gb: float | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Exact P x P Hessian of the mean loss (Sagun et al. 2018 eq. 1), symmetric, on ``device``.

    ``method``: auto | mlp | hvp (see module docstring); ``chunk``: at most this many basis vectors
    per vmapped block (hvp only; the memory budget sets the block and may allow fewer). Raises
    MemoryBudgetError if P x P does not fit in ``budget_gb`` (default 80% of the available memory).
    """
    return dense_curvature("hessian", model, loss_fn, inputs, targets, dtype=dtype, method=method, budget_gb=budget_gb,
                  device=device, chunk=chunk)


def gauss_newton(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                 dtype: torch.dtype = torch.float64, method: str = "auto", budget_gb: float | None = None,
                 device: torch.device | str | None = None) -> torch.Tensor:
    """Gauss-Newton part G = sum_i J_i^T (d^2 L / d f_i^2) J_i of the mean-loss Hessian (P x P, PSD for
    convex losses); Sagun et al. 2018 eq. 5, first term. ``method``: auto | mlp | jacobian."""
    return dense_curvature("gauss_newton", model, loss_fn, inputs, targets, dtype=dtype, method=method,
                  budget_gb=budget_gb, device=device)


def gradient_moment(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
                    dtype: torch.dtype = torch.float64, method: str = "auto", budget_gb: float | None = None,
                    device: torch.device | str | None = None) -> torch.Tensor:
    """G-matrix (1/N) sum_i grad l_i grad l_i^T of the per-sample gradients (P x P), with l_i the
    per-sample loss whose mean is ``loss_fn``. ``method``: auto | mlp | jacobian."""
    return dense_curvature("gradient_moment", model, loss_fn, inputs, targets, dtype=dtype, method=method,
                  budget_gb=budget_gb, device=device)


def hessian_decomposition(model: torch.nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                          *, dtype: torch.dtype = torch.float64, method: str = "auto", budget_gb: float | None = None,
                          device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(H, G, R): the Hessian, its Gauss-Newton part and the residual R = H - G (three P x P matrices)."""
    model, inputs, targets = prepare(model, inputs, targets, dtype, device)
    p = _n_params(model)
    check_dense_fits(p, p, dtype, budget_gb=budget_gb, what="Hessian decomposition (H, G, R)",
                     device=next(model.parameters()).device, copies=3)
    h = hessian(model, loss_fn, inputs, targets, dtype=dtype, method=method, budget_gb=budget_gb)
    g = gauss_newton(model, loss_fn, inputs, targets, dtype=dtype,
                     method="auto" if method == "hvp" else method, budget_gb=budget_gb)
    return h, g, h - g
