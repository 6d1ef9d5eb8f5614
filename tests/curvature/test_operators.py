"""curvature/operators.py: the adaptors of the one operator family on every shared case against the
independent references: ``.to_scipy()`` (scipy LinearOperator view) and ``.dense(strategy)`` of the Hessian,
Gauss-Newton and G-matrix operators, and the view's progress log."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from curvature_cases import CASES_BY_NAME, DENSE_CASES, DENSE_PRODUCT_CASES, case_id
from curvature_reference import references, rel
from nnspectra.curvature import GaussNewtonProducts, GradientMomentProducts, HessianProducts, top_eigenpairs
from nnspectra.curvature.operators import ScipyView, as_torch_operator

FAMILY = {"hessian": HessianProducts, "gauss_newton": GaussNewtonProducts, "gradient_moment": GradientMomentProducts}
RTOL = 1e-10


@pytest.mark.parametrize("kind", list(FAMILY))
def test_scipy_view_matches_reference(case, kind):
    model, x, y = case.build()
    ref = references(case).matrix(kind).numpy()
    vecs = np.random.default_rng(0).standard_normal((case.n_params, 3))
    op = FAMILY[kind](model, case.loss_fn, x, y).to_scipy()
    assert isinstance(op, ScipyView) and op.shape == (case.n_params, case.n_params) and op.dtype == np.float64
    np.testing.assert_allclose(op.matvec(vecs[:, 0]), ref @ vecs[:, 0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(op.matmat(vecs), ref @ vecs, rtol=1e-10, atol=1e-13)
    assert op.n_matvec == 1 + 3
    assert as_torch_operator(op) is op.op  # back to torch without a numpy round trip
    if case in DENSE_PRODUCT_CASES:  # the whole matrix from P products (cheap cases and unused parameters)
        np.testing.assert_allclose(op @ np.eye(case.n_params), ref, rtol=1e-10, atol=1e-13)


DENSE_STRATEGIES = {"hessian": ("auto", "hvp", "products"), "gauss_newton": ("auto", "jacobian", "products"),
                    "gradient_moment": ("auto", "jacobian", "products")}


@pytest.mark.parametrize("case", DENSE_CASES, ids=case_id)
@pytest.mark.parametrize("kind", list(FAMILY))
def test_dense_strategies_match_reference(case, kind):
    """Every dense strategy of every operator (the builders' ``mlp`` where the model qualifies)."""
    model, x, y = case.build()
    op = FAMILY[kind](model, case.loss_fn, x, y)
    strategies = DENSE_STRATEGIES[kind] + (("mlp",) if case.mlp else ())
    if case not in DENSE_PRODUCT_CASES:
        strategies = tuple(s for s in strategies if s != "products")
    for strategy in strategies:
        mat = op.dense(strategy)
        assert mat.dtype == torch.float64 and rel(mat, references(case).matrix(kind)) <= RTOL, strategy
    assert op.n_products == (case.n_params if case in DENSE_PRODUCT_CASES else 0)  # builders use no products


def test_dense_strategy_errors_name_the_strategy():
    case = CASES_BY_NAME["mlp_tanh"]
    model, x, y = case.build()
    with pytest.raises(ValueError, match="method must be one of"):
        HessianProducts(model, case.loss_fn, x, y).dense("lanczos")
    with pytest.raises(ValueError, match="computes the Hessian only"):
        GaussNewtonProducts(model, case.loss_fn, x, y).dense("hvp")
    with pytest.raises(ValueError, match="takes strategy 'products'"):
        as_torch_operator(torch.eye(3, dtype=torch.float64)).dense("auto")


def test_long_lanczos_logs_progress(monkeypatch, caplog):
    """eigsh has no progress hook, so the scipy view reports its product count as it goes."""
    import nnspectra.curvature.operators as operators

    monkeypatch.setattr(operators, "PROGRESS_EVERY_S", 0.0)
    case = CASES_BY_NAME["mlp_elu_wide"]
    model, x, y = case.build()
    op = HessianProducts(model, case.loss_fn, x, y).to_scipy()
    with caplog.at_level(logging.INFO, logger="nnspectra.curvature.operators"):
        top_eigenpairs(op, 3)
    reports = [r.getMessage() for r in caplog.records if "products with a" in r.getMessage()]
    assert reports and f"{op.n_matvec} products" in reports[-1]


# -- the one "auto" dense chain: where the exact builders cannot run, products (and it says so) -------------

def _whole_batch_hessian(model, loss_fn, x, y):  # type: ignore[no-untyped-def]
    """Reference: torch.autograd.functional.hessian of the whole-batch loss (plain autograd, no transforms)."""
    names = [n for n, _ in model.named_parameters()]
    params = tuple(p.detach() for p in model.parameters())
    buffers = {n: b.clone() for n, b in model.named_buffers()}

    def loss(*flat):  # type: ignore[no-untyped-def]
        return loss_fn(torch.func.functional_call(model, ({**dict(zip(names, flat)), **buffers},), (x,)), y)

    blocks = torch.autograd.functional.hessian(loss, params)
    return torch.cat([torch.cat([blocks[i][j].reshape(params[i].numel(), params[j].numel())
                                 for j in range(len(params))], 1) for i in range(len(params))])


@pytest.mark.parametrize("kind", list(FAMILY))
def test_auto_falls_back_to_products_for_a_layer_torch_func_cannot_transform_and_says_so(kind, user_pkg, caplog):
    import importlib

    from nnspectra.curvature.dense import PRODUCTS_BUILDER
    from nnspectra.training.evaluate import cross_entropy

    torch.manual_seed(1)
    model = importlib.import_module(user_pkg).custom_function_mlp().to(torch.float64)  # Linear, Cubic, Linear
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(12, 6, generator=gen, dtype=torch.float64), torch.randint(0, 3, (12,), generator=gen)
    op = FAMILY[kind](model, cross_entropy, x, y)
    with caplog.at_level(logging.WARNING, logger="nnspectra.curvature.products"):
        mat, how = op.dense_with_builder("auto")
    assert how.startswith(f"{PRODUCTS_BUILDER}: fallback") and "layer 1 (Cubic)" in how, how
    warned = [r.getMessage() for r in caplog.records if "fallback" in r.getMessage()]
    assert len(warned) == 1 and "1 (Cubic)" in warned[0] and kind in warned[0]
    assert op.n_products == op.size and torch.equal(op.dense("auto"), mat)  # dense("auto") takes the same chain
    if kind == "hessian":
        assert rel(mat, _whole_batch_hessian(model, cross_entropy, x, y)) <= RTOL
    with pytest.raises((RuntimeError, NotImplementedError)):  # a named builder does not fall back
        op.dense("hvp" if kind == "hessian" else "jacobian")


@pytest.mark.parametrize("train", [True, False])
def test_auto_takes_products_where_batch_norm_couples_the_samples(train):
    from nnspectra.curvature.dense import EXACT_BUILDER, PRODUCTS_BUILDER
    from nnspectra.training.evaluate import cross_entropy

    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                                torch.nn.Linear(5, 3)).to(torch.float64).train(train)
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(10, 4, generator=gen, dtype=torch.float64), torch.randint(0, 3, (10,), generator=gen)
    op = HessianProducts(model, cross_entropy, x, y)
    mat, how = op.dense_with_builder("auto")
    if train:  # batch statistics: whole-batch products, the exact builders' per-sample transforms do not apply
        assert how == f"{PRODUCTS_BUILDER}: batch norm on batch statistics couples the samples"
        assert op.n_products == op.size
    else:
        assert how == EXACT_BUILDER and op.n_products == 0
    assert rel(mat, _whole_batch_hessian(model, cross_entropy, x, y)) <= RTOL
