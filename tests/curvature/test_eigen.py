"""curvature/eigen.py and lanczos.py on the shared cases: the dense eigen helpers on each case's reference
Hessian, and the spectral edges from the one front-end (torch Lanczos on the product operator, ARPACK on the
scipy operator) against the reference Hessian's eigenvalues."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from curvature_cases import CASES_BY_NAME
from curvature_reference import references
from scipy.sparse.linalg import aslinearoperator

from nnspectra.curvature import (HessianProducts, bottom_eigenpairs, eigh_dense, eigvalsh_dense,
                                 lanczos_eigsh, top_eigenpairs)
from nnspectra.curvature.operators import DenseOperator

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from curvature_harness import power_iteration_top  # noqa: E402


def test_dense_eigen_helpers_on_the_reference_hessian(case):
    a = references(case).hessian.numpy()
    exact = references(case).eigenvalues
    p, atol = len(exact), 1e-12 * max(1.0, np.abs(exact).max())
    np.testing.assert_allclose(eigvalsh_dense(a), exact, atol=atol)
    np.testing.assert_allclose(eigvalsh_dense(torch.from_numpy(a)), exact, atol=atol)
    np.testing.assert_allclose(eigvalsh_dense(a, subset=(p - 5, p - 1)), exact[p - 5:], atol=atol)
    vals, vecs = eigh_dense(a)
    np.testing.assert_allclose(vals, exact, atol=atol)
    np.testing.assert_allclose(a @ vecs, vecs * vals, atol=10 * atol)
    vals, vecs = eigh_dense(a, subset=(0, 2))
    assert vecs.shape == (p, 3)
    np.testing.assert_allclose(a @ vecs, vecs * vals, atol=10 * atol)


def test_edges_of_every_front_end_match_the_reference_spectrum(case):
    """Top and bottom k of each case's reference Hessian: torch Lanczos directly and through eigenpairs (on a
    DenseOperator), ARPACK through eigenpairs (on a scipy LinearOperator); the vectors are eigenvectors."""
    ref = references(case).hessian
    exact = references(case).eigenvalues
    scale, k = np.abs(exact).max(), 4
    for which, want, front in (("LA", exact[::-1][:k], top_eigenpairs), ("SA", exact[:k], bottom_eigenpairs)):
        ours = lanczos_eigsh(DenseOperator(ref), k, which, tol=1e-13)
        assert ours.converged
        np.testing.assert_allclose(ours.values.numpy(), want, rtol=0, atol=1e-10 * scale)
        for op in (DenseOperator(ref), aslinearoperator(ref.numpy())):
            vals, vecs = front(op, k, tol=1e-13)
            assert isinstance(vals, np.ndarray) and vecs.shape == (case.n_params, k)
            np.testing.assert_allclose(vals, want, rtol=0, atol=1e-10 * scale)
            np.testing.assert_allclose(ref.numpy() @ vecs, vecs * vals, atol=1e-8 * scale)


def test_edges_on_the_model_operators_of_the_convnet():
    """The same front-ends on the model's operator (torch Lanczos) and its scipy view (ARPACK) agree with the
    reference spectrum of the SPEC convnet case (the operators themselves: test_products/test_operators)."""
    case = CASES_BY_NAME["convnet_spec_tiny"]
    model, x, y = case.build()
    ref, exact = references(case).hessian.numpy(), references(case).eigenvalues
    scale, k = np.abs(exact).max(), 5
    prods = HessianProducts(model, case.loss_fn, x, y)
    sop = HessianProducts(model, case.loss_fn, x, y).to_scipy()
    for which, want, front in (("LA", exact[::-1][:k], top_eigenpairs), ("SA", exact[:k], bottom_eigenpairs)):
        ours = lanczos_eigsh(prods, k, which, tol=1e-13)
        assert ours.converged
        np.testing.assert_allclose(ours.values.numpy(), want, rtol=0, atol=1e-10 * scale)
        for op in (prods, sop):
            vals, vecs = front(op, k, tol=1e-13, seed=3) if op is prods else front(op, k)
            np.testing.assert_allclose(vals, want, rtol=0, atol=1e-10 * scale)
            np.testing.assert_allclose(ref @ vecs, vecs * vals, atol=1e-8 * scale)
    assert 0 < ours.n_products <= prods.n_products


def test_power_iteration_reference_and_indefinite_hessian():
    """The benchmark's PyHessian-style power iteration agrees with the dense spectrum; an ELU net at a random
    point has negative eigenvalues; k must leave room for Lanczos."""
    case = CASES_BY_NAME["mlp_elu_wide"]
    model, x, y = case.build()
    exact = references(case).eigenvalues
    scale = np.abs(exact).max()
    op = HessianProducts(model, case.loss_fn, x, y).to_scipy()
    bottom, _ = bottom_eigenpairs(op, 3)
    assert bottom[0] < 0
    value, used = power_iteration_top(op, iters=500, tol=1e-10)
    assert abs(value - exact[np.argmax(np.abs(exact))]) < 1e-4 * scale and used > 1
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(op, op.shape[0])
