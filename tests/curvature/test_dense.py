"""curvature/dense.py (and mlp.py behind it): the public dense Hessian, Gauss-Newton part, G-matrix and
decomposition, every method, on every shared case against the independent references; then the special
cases the list cannot express (closed forms, finite differences, guards, float32, random shapes)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from curvature_cases import ALL_CASES, CASES_BY_NAME, DENSE_CASES, MLP_CASES, case_id, classes, mlp
from curvature_reference import reference_hessian, references
from nnspectra.models.flat import flat_parameters, loss_of_flat_params
from nnspectra.curvature import (
    HessianProducts,
    check_dense_fits,
    gauss_newton,
    gradient_moment,
    hessian,
    hessian_decomposition,
)
from nnspectra.curvature.mlp import mlp_curvature, mlp_layers
from nnspectra.curvature.reduced import one_hidden_layer
from nnspectra.errors import MemoryBudgetError, NnspectraError

CE = nn.functional.cross_entropy
TOL = {"rtol": 1e-10, "atol": 1e-13}


@pytest.mark.parametrize("case", ALL_CASES, ids=case_id)
def test_case_flags_match_the_library(case):
    """A case marked mlp takes the layer-structured path; one marked one_hidden_relu the m x m reduction."""
    model, _, _ = case.build()
    assert (mlp_layers(model) is not None) == case.mlp
    assert (one_hidden_layer(model) is not None) == case.one_hidden_relu
    assert sum(p.numel() for p in model.parameters()) == case.n_params <= 600


@pytest.mark.parametrize("case", DENSE_CASES, ids=case_id)
def test_hessian_every_method_matches_reference(case):
    model, x, y = case.build()
    ref = references(case).hessian
    h = hessian(model, case.loss_fn, x, y)
    assert h.dtype == torch.float64 and torch.equal(h, h.T)
    torch.testing.assert_close(h, ref, **TOL)
    if case.mlp or case.name == "convnet_spec_tiny":  # (elsewhere auto is hvp, tested in test_generic.py)
        torch.testing.assert_close(hessian(model, case.loss_fn, x, y, method="hvp", chunk=7), ref, **TOL)
    if case.mlp:
        torch.testing.assert_close(hessian(model, case.loss_fn, x, y, method="mlp"), ref, **TOL)
    else:
        with pytest.raises(ValueError, match="method='mlp' needs"):
            hessian(model, case.loss_fn, x, y, method="mlp")


@pytest.mark.parametrize("case", MLP_CASES, ids=case_id)
def test_mlp_panels_of_one_unit_match_reference(case):
    model, x, y = case.build()
    panels = mlp_curvature(mlp_layers(model), case.loss_fn, x, y, temp_bytes=1)  # one unit per panel
    torch.testing.assert_close(panels, references(case).hessian, **TOL)


@pytest.mark.parametrize("case", DENSE_CASES, ids=case_id)
@pytest.mark.parametrize("kind,fn", [("gauss_newton", gauss_newton), ("gradient_moment", gradient_moment)])
def test_outer_curvature_every_method_matches_reference(case, kind, fn):
    model, x, y = case.build()
    ref = references(case).matrix(kind)
    torch.testing.assert_close(fn(model, case.loss_fn, x, y), ref, **TOL)  # auto: mlp if case.mlp, else jacobian
    if case.mlp:
        torch.testing.assert_close(fn(model, case.loss_fn, x, y, method="jacobian"), ref, **TOL)
        torch.testing.assert_close(fn(model, case.loss_fn, x, y, method="mlp"), ref, **TOL)
    with pytest.raises(ValueError, match="Hessian only"):
        fn(model, case.loss_fn, x, y, method="hvp")


@pytest.mark.parametrize("case", MLP_CASES + [CASES_BY_NAME["branchy_custom_forward"]], ids=case_id)
def test_decomposition_matches_references(case):
    """H, G and R = H - G (the layer-structured path, and the generic one on the custom-forward model)."""
    model, x, y = case.build()
    ref = references(case)
    h, g, r = hessian_decomposition(model, case.loss_fn, x, y)
    torch.testing.assert_close(h, ref.hessian, **TOL)
    torch.testing.assert_close(g, ref.gauss_newton, **TOL)
    torch.testing.assert_close(h - g, r)


@pytest.mark.parametrize("name", ["mlp_relu", "mlp_relu_mse"])
def test_relu_residual_lives_only_in_cross_layer_blocks(name):
    """ReLU'' = 0: the residual R = H - G has no block within the first layer, and is not zero elsewhere."""
    model, x, y = CASES_BY_NAME[name].build()
    _, _, r = hessian_decomposition(model, CASES_BY_NAME[name].loss_fn, x, y)
    first = model[0].weight.numel() + model[0].bias.numel()
    assert float(r[:first, :first].abs().max()) < 1e-15
    assert float(r.abs().max()) > 1e-6


# -- special-purpose: references the case list cannot express ------------------------------------------------

def test_hessian_matches_central_finite_differences_of_gradient():
    """A second, non-autodiff reference (kept apart: finite differences need a smooth net and cost P gradients)."""
    model = mlp([4, 5, 3], nn.Tanh)
    x, y = classes((13, 4), 3)()
    f = loss_of_flat_params(model, CE, x, y)
    theta = flat_parameters(model)
    grad = torch.func.grad(f)
    eps = 1e-5
    fd = torch.stack([(grad(theta + eps * e) - grad(theta - eps * e)) / (2 * eps)
                      for e in torch.eye(len(theta), dtype=torch.float64)])
    h = hessian(model, CE, x, y)
    assert (h - fd).abs().max() < 1e-8 * max(1.0, float(h.abs().max()))


def test_softmax_regression_closed_form_and_zero_residual():
    """Closed form (kept apart: a linear model has R = 0 exactly, which no case with a hidden layer shows)."""
    d, c, n = 4, 3, 25
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(d, c)).double()
    x, y = classes((n, d), c)()
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


def test_bare_linear_binary_logistic_regression_closed_form():
    """Sagun et al. 2018 App. B setting: f = <w, x>, BCE loss; H = (1/N) sum s(1-s) x x^T, R = 0 (kept apart:
    a bare nn.Linear, one output and a BCE loss)."""
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


def test_memory_guard_refuses_oversized_request():
    with pytest.raises(MemoryBudgetError) as err:
        check_dense_fits(10**6, 10**6, torch.float64)
    message = str(err.value)
    assert "\n" not in message
    for word in ("1,000,000 x 1,000,000", "7450.58 GiB", "Lanczos", "float32", "GPU", "available"):
        assert word in message
    assert check_dense_fits(100, 100, torch.float32, budget_gb=1.0) == 40000
    model, x, y = CASES_BY_NAME["mlp_tanh"].build()
    with pytest.raises(MemoryBudgetError, match="budget 1e-06 GiB"):
        hessian(model, CE, x, y, budget_gb=1e-6)
    with pytest.raises(MemoryBudgetError, match="x3 buffers"):
        hessian_decomposition(model, CE, x, y, budget_gb=3e-6)


@pytest.mark.parametrize("name", ["mlp_tanh", "convnet_spec_tiny"])
def test_float32_option(name):
    case = CASES_BY_NAME[name]
    model, x, y = case.build()
    ref = references(case).hessian
    for method in ("mlp", "hvp") if case.mlp else ("hvp",):
        h32 = hessian(model, case.loss_fn, x, y, dtype=torch.float32, method=method)
        assert h32.dtype == torch.float32
        torch.testing.assert_close(h32.double(), ref, rtol=1e-4, atol=1e-6 * float(ref.abs().max()))
    op = HessianProducts(model, case.loss_fn, x, y, dtype=torch.float32)
    assert op.dtype == torch.float32 and op.dense().dtype == torch.float32
    assert next(model.parameters()).dtype == torch.float64  # caller's model untouched


def test_non_separable_loss_is_refused_in_one_line():
    model, x, y = CASES_BY_NAME["mlp_tanh"].build()

    def coupled(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return out.sum() ** 2

    with pytest.raises(NnspectraError, match="not a sum of per-sample terms"):
        gauss_newton(model, coupled, x, y)


@given(widths=st.lists(st.integers(1, 4), min_size=2, max_size=4),
       act=st.sampled_from([nn.Tanh, nn.ReLU, nn.ELU]), seed=st.integers(0, 1000))
@settings(max_examples=15, deadline=None)
def test_property_random_mlps_exact_and_symmetric(widths, act, seed):
    """Random shapes down to width 1 (kept: the case list has fixed shapes)."""
    widths = widths + [2]
    model = mlp(widths, act, seed=seed)
    x, y = classes((5, widths[0]), 2, seed=seed)()
    h = hessian(model, CE, x, y)
    torch.testing.assert_close(h, reference_hessian(model, CE, x, y), rtol=1e-9, atol=1e-13)
    assert torch.equal(h, h.T)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_reference():
    import numpy as np

    for case in DENSE_CASES:
        model, x, y = case.build()
        ref = references(case).hessian
        gpu = hessian(model, case.loss_fn, x, y, device="cuda")
        assert gpu.is_cuda
        torch.testing.assert_close(gpu.cpu(), ref, **TOL, msg=case.name)
        op = HessianProducts(model, case.loss_fn, x, y, device="cuda").to_scipy()
        v = np.ones(op.shape[0])
        np.testing.assert_allclose(op.matvec(v), ref.numpy() @ v, rtol=1e-10, atol=1e-12, err_msg=case.name)
