"""curvature/operators.py: the scipy LinearOperators (Hessian, Gauss-Newton, G-matrix) on every shared case
against the independent references, and their progress log."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from curvature_cases import CASES_BY_NAME, DENSE_PRODUCT_CASES
from curvature_reference import references
from nnspectra.curvature import GaussNewtonOperator, GradientMomentOperator, HessianOperator, top_eigenpairs

FAMILY = {"hessian": HessianOperator, "gauss_newton": GaussNewtonOperator, "gradient_moment": GradientMomentOperator}


@pytest.mark.parametrize("kind", list(FAMILY))
def test_operators_match_reference(case, kind):
    model, x, y = case.build()
    ref = references(case).matrix(kind).numpy()
    vecs = np.random.default_rng(0).standard_normal((case.n_params, 3))
    op = FAMILY[kind](model, case.loss_fn, x, y, block=2)  # blocks of 2: the 3 vectors take two
    assert op.shape == (case.n_params, case.n_params)
    np.testing.assert_allclose(op.matvec(vecs[:, 0]), ref @ vecs[:, 0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(op.matmat(vecs), ref @ vecs, rtol=1e-10, atol=1e-13)
    assert op.n_matvec == 1 + 3
    if case in DENSE_PRODUCT_CASES:  # the whole matrix from P products (cheap cases and unused parameters)
        op.block = 64
        np.testing.assert_allclose(op.dense(), ref, rtol=1e-10, atol=1e-13)
        assert op.n_matvec == 1 + 3 + case.n_params


def test_long_lanczos_logs_progress(monkeypatch, caplog):
    """eigsh has no progress hook, so the operator reports its product count as it goes."""
    import nnspectra.curvature.operators as operators

    monkeypatch.setattr(operators, "PROGRESS_EVERY_S", 0.0)
    case = CASES_BY_NAME["mlp_elu_wide"]
    model, x, y = case.build()
    op = HessianOperator(model, case.loss_fn, x, y)
    with caplog.at_level(logging.INFO, logger="nnspectra.curvature.operators"):
        top_eigenpairs(op, 3)
    reports = [r.getMessage() for r in caplog.records if "products with a" in r.getMessage()]
    assert reports and f"{op.n_matvec} products" in reports[-1]
