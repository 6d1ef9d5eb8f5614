"""curvature/products.py: the torch product operators (Hessian, Gauss-Newton, G-matrix) with every option on
every shared case against the independent references; the adapters; float32."""

from __future__ import annotations

import pytest
import torch

from curvature_cases import CASES_BY_NAME, DENSE_PRODUCT_CASES, case_id
from curvature_reference import references, rel
from nnspectra.curvature.operators import DenseOperator, ScipyOperator, as_torch_operator
from nnspectra.curvature.products import GaussNewtonProducts, GradientMomentProducts, HessianProducts

RTOL = 1e-10
FAMILY = {"hessian": HessianProducts, "gauss_newton": GaussNewtonProducts, "gradient_moment": GradientMomentProducts}
OPTIONS = [{"sample_chunk": 4}, {"sample_chunk": 2, "cache_graph": False}, {"batched": True, "sample_chunk": 3}]


@pytest.mark.parametrize("case", DENSE_PRODUCT_CASES, ids=case_id)
def test_dense_from_products_matches_reference(case):
    """Default options (one chunk, cached graph, one backward per vector): the whole matrix, P products (on
    DENSE_PRODUCT_CASES; every case's products are checked on a block of vectors below)."""
    model, x, y = case.build()
    for kind, cls in FAMILY.items():
        op = cls(model, case.loss_fn, x, y)
        assert op.size == case.n_params and op.dtype == torch.float64 and op.graph_bytes > 0, kind
        assert rel(op.dense("products", block=50), references(case).matrix(kind)) <= RTOL, kind
        assert op.n_products == case.n_params, kind


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_products_match_reference(case, options):
    """Sample chunks, graphs rebuilt per product, batched backward: blocks of vectors and single vectors, for
    each of the three operators."""
    model, x, y = case.build()
    p = case.n_params
    vecs = torch.randn(3, p, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for kind, cls in FAMILY.items():
        ref = references(case).matrix(kind)
        op = cls(model, case.loss_fn, x, y, **options)
        assert op.size == p and op.dtype == torch.float64, kind
        assert rel(op.matmat(vecs), vecs @ ref) <= RTOL, kind
        assert rel(op.matvec(vecs[0]), ref @ vecs[0]) <= RTOL, kind
        assert op.n_products == 3 + 1, kind
        assert (op.graph_bytes > 0) == options.get("cache_graph", True), kind


def test_float32_products_and_callers_model_untouched(case):
    model, x, y = case.build()
    before = [p.detach().clone() for p in model.parameters()]
    op = HessianProducts(model, case.loss_fn, x, y, dtype=torch.float32)
    v = torch.randn(case.n_params, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = op.matvec(v)
    assert out.dtype == torch.float32
    assert rel(out.double(), references(case).hessian @ v) < 1e-4
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert next(model.parameters()).dtype == torch.float64
    with pytest.raises(ValueError, match=f"size {case.n_params}"):
        op.matvec(torch.ones(5))


def test_adapters_wrap_matrices_and_scipy_operators():
    from scipy.sparse.linalg import aslinearoperator

    case = CASES_BY_NAME["convnet_spec_tiny"]
    model, x, y = case.build()
    ref = references(case).hessian
    vecs = torch.randn(4, case.n_params, dtype=torch.float64)
    dense = as_torch_operator(ref)
    assert isinstance(dense, DenseOperator) and rel(dense.matmat(vecs), vecs @ ref) <= RTOL
    view = HessianProducts(model, case.loss_fn, x, y).to_scipy()
    assert isinstance(as_torch_operator(view), HessianProducts)  # a scipy view unwraps to its torch operator
    generic = as_torch_operator(aslinearoperator(ref.numpy()))
    assert isinstance(generic, ScipyOperator) and rel(generic.matmat(vecs), vecs @ ref) <= RTOL
    with pytest.raises(TypeError, match="cannot use"):
        as_torch_operator("not an operator")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_products_match_reference():
    from curvature_cases import CASES

    for case in CASES:
        model, x, y = case.build()
        for kind, cls in FAMILY.items():
            ref = references(case).matrix(kind)
            op = cls(model, case.loss_fn, x, y, device="cuda")
            v = torch.randn(2, case.n_params, dtype=torch.float64, device="cuda")
            out = op.matmat(v)
            assert out.is_cuda and rel(out.cpu(), v.cpu() @ ref) <= RTOL, (case.name, kind)
            dense = op.dense("products")
            assert dense.is_cuda and rel(dense.cpu(), ref) <= RTOL, (case.name, kind)
