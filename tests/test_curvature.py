"""Curvature engine: every method against independent float64 references (tiny sizes, seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from nnspectra.curvature import (
    GaussNewtonOperator,
    GradientMomentOperator,
    HessianOperator,
    bottom_eigenpairs,
    check_dense_fits,
    eigh_dense,
    eigvalsh_dense,
    flat_parameters,
    gauss_newton,
    gradient_moment,
    hessian,
    hessian_decomposition,
    loss_of_flat_params,
    top_eigenpairs,
)
from nnspectra.curvature.dense import outputs_of_flat_params
from nnspectra.curvature.mlp import mlp_layers
from nnspectra.errors import MemoryBudgetError, NnspectraError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from curvature_harness import power_iteration_top  # noqa: E402

CE = nn.functional.cross_entropy


def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out - target) ** 2).sum(1).mean()


def mlp(widths: list[int], act: type[nn.Module] = nn.Tanh, bias: bool = True, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b, bias=bias), act()]
    return nn.Sequential(*layers[:-1]).double()


def data(n: int, d: int, c: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randint(0, c, (n,), generator=gen)


def reference_hessian(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.func.hessian(loss_of_flat_params(model, loss_fn, x, y))(flat_parameters(model))


def reference_gauss_newton(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """J^T H_out J with the full output Jacobian and the full (N, C, N, C) output Hessian."""
    theta = flat_parameters(model)
    jac = torch.func.jacrev(outputs_of_flat_params(model, x))(theta)  # (N, C, P)
    out = outputs_of_flat_params(model, x)(theta).detach()
    h_out = torch.func.hessian(lambda o: loss_fn(o, y))(out)  # (N, C, N, C)
    return torch.einsum("icp,icjd,jdq->pq", jac, h_out, jac)


class ConvNet(nn.Module):
    """Not an MLP: exercises the generic (HVP / Jacobian) paths."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 3 * 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


@pytest.mark.parametrize("act", [nn.Tanh, nn.ReLU, nn.Softplus, nn.Sigmoid])
@pytest.mark.parametrize("bias", [True, False])
def test_mlp_hessian_matches_torch_func(act, bias):
    model = mlp([5, 4, 3, 3], act, bias)
    x, y = data(17, 5, 3)
    assert mlp_layers(model) is not None
    ref = reference_hessian(model, CE, x, y)
    h = hessian(model, CE, x, y)
    assert h.dtype == torch.float64
    torch.testing.assert_close(h, ref, rtol=1e-10, atol=1e-13)
    assert torch.equal(h, h.T)


def test_mlp_hessian_mse_flatten_identity_and_panels():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.Linear(4, 5), nn.GELU(), nn.Linear(5, 2)).double()
    x = torch.randn(11, 2, 3, dtype=torch.float64)
    y = torch.randn(11, 2, dtype=torch.float64)
    assert mlp_layers(model) is not None
    ref = reference_hessian(model, mse, x, y)
    from nnspectra.curvature.mlp import mlp_curvature

    tiny_panels = mlp_curvature(mlp_layers(model), mse, x, y, temp_bytes=1)  # one unit per panel
    torch.testing.assert_close(tiny_panels, ref, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(hessian(model, mse, x, y), ref, rtol=1e-10, atol=1e-13)


def test_hessian_matches_central_finite_differences_of_gradient():
    model = mlp([4, 5, 3], nn.Tanh)
    x, y = data(13, 4, 3)
    f = loss_of_flat_params(model, CE, x, y)
    theta = flat_parameters(model)
    grad = torch.func.grad(f)
    eps = 1e-5
    fd = torch.stack([(grad(theta + eps * e) - grad(theta - eps * e)) / (2 * eps) for e in torch.eye(len(theta),
                                                                                              dtype=torch.float64)])
    h = hessian(model, CE, x, y)
    assert (h - fd).abs().max() < 1e-8 * max(1.0, float(h.abs().max()))


def test_softmax_regression_closed_form_and_zero_residual():
    d, c, n = 4, 3, 25
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(d, c)).double()
    x, y = data(n, d, c)
    p = torch.softmax(model(x), 1).detach()
    xbar = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], 1)
    blocks = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    closed = sum(torch.kron(blocks[i], torch.outer(xbar[i], xbar[i])) for i in range(n)) / n  # order (c, j)
    # torch order: weight (c, j) for j < d, then bias c
    order = [ci * (d + 1) + j for ci in range(c) for j in range(d)] + [ci * (d + 1) + d for ci in range(c)]
    closed = closed[order][:, order]
    for method in ("mlp", "hvp"):
        torch.testing.assert_close(hessian(model, CE, x, y, method=method), closed, rtol=1e-12, atol=1e-14)
    h, g, r = hessian_decomposition(model, CE, x, y)
    torch.testing.assert_close(g, closed, rtol=1e-12, atol=1e-14)
    assert float(r.abs().max()) < 1e-15
    g_generic = gauss_newton(model, CE, x, y, method="jacobian")
    torch.testing.assert_close(g_generic, closed, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss_fn,regression", [(CE, False), (mse, True)])
def test_gauss_newton_against_independent_jacobian_product(loss_fn, regression):
    model = mlp([4, 6, 5, 3], nn.ReLU)
    x, y = data(9, 4, 3)
    if regression:
        y = torch.randn(9, 3, dtype=torch.float64)
    ref = reference_gauss_newton(model, loss_fn, x, y)
    for method in ("mlp", "jacobian"):
        torch.testing.assert_close(gauss_newton(model, loss_fn, x, y, method=method), ref, rtol=1e-10, atol=1e-13)
    h, g, r = hessian_decomposition(model, loss_fn, x, y)
    torch.testing.assert_close(h - g, r)
    # ReLU residual lives only in cross-layer blocks, and is not zero there
    first = model[0].weight.numel() + model[0].bias.numel()
    assert float(r[:first, :first].abs().max()) < 1e-15
    assert float(r.abs().max()) > 1e-6


def test_gradient_moment_against_per_sample_gradients():
    model = mlp([4, 5, 3], nn.Tanh)
    x, y = data(10, 4, 3)
    theta = flat_parameters(model)

    def per_sample(t: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        return loss_of_flat_params(model, CE, xi[None], yi[None])(t)

    grads = torch.func.vmap(torch.func.grad(per_sample), in_dims=(None, 0, 0))(theta, x, y)  # (N, P)
    ref = grads.T @ grads / len(x)
    for method in ("mlp", "jacobian"):
        torch.testing.assert_close(gradient_moment(model, CE, x, y, method=method), ref, rtol=1e-10, atol=1e-14)


def test_generic_module_paths_match_references():
    torch.manual_seed(4)
    model = ConvNet().double()
    x = torch.randn(8, 1, 5, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (8,))
    assert mlp_layers(model) is None
    ref = reference_hessian(model, CE, x, y)
    torch.testing.assert_close(hessian(model, CE, x, y), ref, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(hessian(model, CE, x, y, chunk=7), ref, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(gauss_newton(model, CE, x, y), reference_gauss_newton(model, CE, x, y),
                               rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("model_kind", ["mlp", "conv"])
def test_operators_match_dense(model_kind):
    if model_kind == "mlp":
        model, (x, y) = mlp([4, 5, 3], nn.Tanh), data(12, 4, 3)
    else:
        torch.manual_seed(5)
        model, x, y = ConvNet().double(), torch.randn(6, 1, 5, 5, dtype=torch.float64), torch.randint(0, 3, (6,))
    vecs = np.random.default_rng(0).standard_normal((sum(p.numel() for p in model.parameters()), 3))
    pairs = [(HessianOperator, hessian), (GaussNewtonOperator, gauss_newton), (GradientMomentOperator, gradient_moment)]
    for op_cls, dense_fn in pairs:
        op = op_cls(model, CE, x, y, block=2)
        dense = dense_fn(model, CE, x, y).numpy()
        np.testing.assert_allclose(op.matvec(vecs[:, 0]), dense @ vecs[:, 0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(op.matmat(vecs), dense @ vecs, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(op.dense(), dense, rtol=1e-10, atol=1e-13)


def test_lanczos_edges_match_dense_eigh():
    model = mlp([6, 8, 4], nn.Tanh)
    x, y = data(30, 6, 4)
    dense = hessian(model, CE, x, y).numpy()
    exact = np.linalg.eigvalsh(dense)
    op = HessianOperator(model, CE, x, y)
    k = 5
    top, top_vecs = top_eigenpairs(op, k)
    bottom, bottom_vecs = bottom_eigenpairs(op, k)
    scale = np.abs(exact).max()
    np.testing.assert_allclose(top, exact[::-1][:k], rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(bottom, exact[:k], rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(dense @ top_vecs, top_vecs * top, atol=1e-7 * scale)
    np.testing.assert_allclose(dense @ bottom_vecs, bottom_vecs * bottom, atol=1e-7 * scale)
    assert bottom[0] < 0  # tanh net at a random point: the Hessian is indefinite
    value, used = power_iteration_top(op, iters=500, tol=1e-10)  # the benchmark's PyHessian-style reference
    assert abs(value - exact[np.argmax(np.abs(exact))]) < 1e-4 * scale and used > 1
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(op, op.shape[0])


def test_long_lanczos_logs_progress(monkeypatch, caplog):
    """eigsh has no progress hook, so the operator reports its product count as it goes."""
    import logging

    import nnspectra.curvature.operators as operators

    monkeypatch.setattr(operators, "PROGRESS_EVERY_S", 0.0)
    model = mlp([6, 8, 4], nn.Tanh)
    x, y = data(30, 6, 4)
    op = HessianOperator(model, CE, x, y)
    with caplog.at_level(logging.INFO, logger="nnspectra.curvature.operators"):
        top_eigenpairs(op, 3)
    reports = [r.getMessage() for r in caplog.records if "products with a" in r.getMessage()]
    assert reports and f"{op.n_matvec} products" in reports[-1]


def test_dense_eigen_helpers():
    a = np.random.default_rng(1).standard_normal((40, 40))
    a = a + a.T
    ref_vals, _ = np.linalg.eigh(a)
    np.testing.assert_allclose(eigvalsh_dense(a), ref_vals, atol=1e-12)
    np.testing.assert_allclose(eigvalsh_dense(torch.from_numpy(a)), ref_vals, atol=1e-12)
    np.testing.assert_allclose(eigvalsh_dense(a, subset=(35, 39)), ref_vals[35:], atol=1e-12)
    vals, vecs = eigh_dense(a)
    np.testing.assert_allclose(vals, ref_vals, atol=1e-12)
    np.testing.assert_allclose(a @ vecs, vecs * vals, atol=1e-11)
    vals, vecs = eigh_dense(a, subset=(0, 2))
    assert vecs.shape == (40, 3)
    np.testing.assert_allclose(a @ vecs, vecs * vals, atol=1e-11)


def test_memory_guard_refuses_oversized_request():
    with pytest.raises(MemoryBudgetError) as err:
        check_dense_fits(10**6, 10**6, torch.float64)
    message = str(err.value)
    assert "\n" not in message
    for word in ("1,000,000 x 1,000,000", "7450.58 GiB", "Lanczos", "float32", "GPU", "available"):
        assert word in message
    assert check_dense_fits(100, 100, torch.float32, budget_gb=1.0) == 40000
    model = mlp([5, 4, 3])
    x, y = data(7, 5, 3)
    with pytest.raises(MemoryBudgetError, match="budget 1e-06 GiB"):
        hessian(model, CE, x, y, budget_gb=1e-6)
    with pytest.raises(MemoryBudgetError, match="x3 buffers"):
        hessian_decomposition(model, CE, x, y, budget_gb=3e-6)


def test_float32_option():
    model = mlp([5, 6, 3], nn.Tanh)
    x, y = data(20, 5, 3)
    h64 = hessian(model, CE, x, y)
    for method in ("mlp", "hvp"):
        h32 = hessian(model, CE, x, y, dtype=torch.float32, method=method)
        assert h32.dtype == torch.float32
        torch.testing.assert_close(h32.double(), h64, rtol=1e-4, atol=1e-6)
    op = HessianOperator(model, CE, x, y, dtype=torch.float32)
    assert op.dtype == np.float32
    assert next(model.parameters()).dtype == torch.float64  # caller's model untouched


def test_non_separable_loss_is_refused_in_one_line():
    model = mlp([3, 4, 2])
    x, y = data(6, 3, 2)

    def coupled(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return out.sum() ** 2

    with pytest.raises(NnspectraError, match="not a sum of per-sample terms"):
        gauss_newton(model, coupled, x, y)


@given(widths=st.lists(st.integers(1, 4), min_size=2, max_size=4),
       act=st.sampled_from([nn.Tanh, nn.ReLU, nn.ELU]), seed=st.integers(0, 1000))
@settings(max_examples=15, deadline=None)
def test_property_random_mlps_exact_and_symmetric(widths, act, seed):
    widths = widths + [2]
    model = mlp(widths, act, seed=seed)
    x, y = data(5, widths[0], 2, seed=seed)
    h = hessian(model, CE, x, y)
    torch.testing.assert_close(h, reference_hessian(model, CE, x, y), rtol=1e-9, atol=1e-13)
    assert torch.equal(h, h.T)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    model = mlp([5, 6, 3], nn.Tanh)
    x, y = data(20, 5, 3)
    cpu = hessian(model, CE, x, y)
    gpu = hessian(model, CE, x, y, device="cuda")
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-10, atol=1e-13)
    op = HessianOperator(model, CE, x, y, device="cuda")
    v = np.ones(op.shape[0])
    np.testing.assert_allclose(op.matvec(v), cpu.numpy() @ v, rtol=1e-10, atol=1e-12)


def test_bare_linear_binary_logistic_regression_closed_form():
    """Sagun et al. 2018 App. B setting: f = <w, x>, BCE loss; H = (1/N) sum s(1-s) x x^T, R = 0."""
    torch.manual_seed(6)
    model = nn.Linear(5, 1, bias=False).double()
    x = torch.randn(40, 5, dtype=torch.float64)
    y = (torch.rand(40) < 0.5).double()

    def bce(out: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(out[:, 0], t)

    assert mlp_layers(model) is not None
    s = torch.sigmoid(model(x)[:, 0]).detach()
    closed = (x.T * (s * (1 - s))) @ x / len(x)
    torch.testing.assert_close(hessian(model, bce, x, y), closed, rtol=1e-12, atol=1e-15)
    h, g, r = hessian_decomposition(model, bce, x, y)
    assert float(r.abs().max()) < 1e-15
