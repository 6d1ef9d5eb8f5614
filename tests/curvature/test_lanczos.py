"""curvature/lanczos.py: torch thick-restart Lanczos against scipy's eigsh (ARPACK) and dense eigh, float64, on
matrices with a known spectrum (spiked, low rank, degenerate). On the shared cases' Hessians: test_eigen.py."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import eigsh
from torch import nn

from curvature_cases import CASES_BY_NAME
from nnspectra.curvature import top_eigenpairs
from nnspectra.curvature.lanczos import lanczos_eigsh, lanczos_tridiagonal
from nnspectra.curvature.operators import DenseOperator, TorchOperator
from nnspectra.curvature.products import GaussNewtonProducts

CE = nn.functional.cross_entropy


def spiked_matrix(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric matrix with a Gaussian bulk, separated and nearly degenerate outliers, and negatives."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([0.1 * rng.standard_normal(n - 8), [5.0, 4.0, 3.5, 3.4, 2.0, 2.0 + 1e-7, -1.0, -0.7]])
    a = (u * lam) @ u.T
    a = (a + a.T) / 2
    return a, np.linalg.eigvalsh(a)


def scipy_edge(a, k: int, which: str) -> np.ndarray:
    vals = eigsh(a, k=k, which=which, tol=0, v0=np.ones(a.shape[0]))[0]
    return np.sort(vals)[::-1] if which == "LA" else np.sort(vals)


@pytest.mark.parametrize("n", [60, 400])
@pytest.mark.parametrize("which,k", [("LA", 6), ("SA", 4), ("LA", 1), ("SA", 1)])
def test_dense_matrices_match_eigsh_and_eigh(n, which, k):
    a, exact = spiked_matrix(n)
    res = lanczos_eigsh(torch.from_numpy(a), k, which, tol=1e-14)
    assert res.converged and res.n_converged == k and res.values.shape == (k,)
    got = res.values.numpy()
    ref = scipy_edge(a, k, which)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=0)
    np.testing.assert_allclose(got, exact[::-1][:k] if which == "LA" else exact[:k], rtol=1e-10, atol=0)
    vecs = res.vectors.numpy()
    assert vecs.shape == (n, k)
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(k), atol=1e-12)
    assert np.abs(a @ vecs - vecs * got).max() <= 1e-12 * np.abs(exact).max()
    assert float(res.residuals.max()) <= 1e-14 * np.abs(exact).max()


def test_gauss_newton_edges_and_rank_deficiency():
    """GN of a softmax net has rank <= N (C - 1) < P: Lanczos meets an invariant subspace and goes on (kept apart:
    the SPEC convnet case on its first 3 samples only, so that the rank is far below P)."""
    model, x, y = CASES_BY_NAME["convnet_spec_tiny"].build()
    op = GaussNewtonProducts(model, CE, x[:3], y[:3])
    exact = np.linalg.eigvalsh(op.dense().numpy())
    assert np.sum(exact > 1e-12 * exact.max()) <= 27  # rank <= N (C - 1) = 27 of P = 157
    top = lanczos_eigsh(op, 5, "LA", tol=1e-13, ncv=40)
    np.testing.assert_allclose(top.values.numpy(), exact[::-1][:5], rtol=1e-10)
    bottom = lanczos_eigsh(op, 3, "SA", tol=1e-13, ncv=60)
    assert np.abs(bottom.values.numpy()).max() <= 1e-12 * exact.max()  # the null space


def test_low_rank_matrix_breakdown_and_exact_small_space():
    rng = np.random.default_rng(3)
    u = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    a = (u * np.array([3.0, 2.0, 1.0])) @ u.T
    res = lanczos_eigsh(torch.from_numpy(a), 4, "LA", tol=1e-14, ncv=12)
    np.testing.assert_allclose(res.values.numpy(), [3.0, 2.0, 1.0, 0.0], atol=1e-13)
    assert res.converged


def test_restart_budget_exhausted_is_reported(caplog):
    a, _ = spiked_matrix(300, seed=4)
    with caplog.at_level(logging.WARNING, logger="nnspectra.curvature.lanczos"):
        res = lanczos_eigsh(torch.from_numpy(a), 4, "SA", tol=1e-15, ncv=9, max_restarts=1)
    assert not res.converged and res.n_restarts == 1 and res.n_converged < 4
    assert any("converged for" in r.getMessage() for r in caplog.records)


def test_repeatable_and_float32_operator_gives_float64_basis():
    a, exact = spiked_matrix(120, seed=5)
    r1 = lanczos_eigsh(torch.from_numpy(a), 3, "LA", seed=7)
    r2 = lanczos_eigsh(torch.from_numpy(a), 3, "LA", seed=7)
    assert torch.equal(r1.values, r2.values)
    r32 = lanczos_eigsh(DenseOperator(torch.from_numpy(a).float()), 3, "LA", tol=1e-6)
    assert r32.values.dtype == torch.float64 and r32.vectors.dtype == torch.float64
    np.testing.assert_allclose(r32.values.numpy(), exact[::-1][:3], rtol=1e-5)


def test_bad_arguments_fail_clearly():
    a = torch.eye(10, dtype=torch.float64)
    with pytest.raises(ValueError, match="k must be between 1 and P - 1 = 9"):
        lanczos_eigsh(a, 10)
    with pytest.raises(ValueError, match="which must be"):
        lanczos_eigsh(a, 2, "LM")
    with pytest.raises(ValueError, match="ncv must exceed k"):
        lanczos_eigsh(a, 3, ncv=3)


def test_lockstep_tridiagonal_runs_are_independent_lanczos_runs():
    """Each row's tridiagonal equals that of a run on its own; reorthogonalisation keeps T's eigenvalues
    inside the spectrum, and an invariant subspace stops a run early (with zero trailing entries)."""
    a, exact = spiked_matrix(200, seed=6)
    starts = torch.randn(3, 200, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    together = lanczos_tridiagonal(torch.from_numpy(a), starts, 15)
    for i in range(3):
        alone = lanczos_tridiagonal(torch.from_numpy(a), starts[i : i + 1], 15)
        # batched and single GEMVs round differently and Lanczos amplifies that with the step count
        torch.testing.assert_close(together.alpha[i, :8], alone.alpha[0, :8], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(together.beta[i, :8], alone.beta[0, :8], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(together.alpha[i], alone.alpha[0], rtol=1e-6, atol=1e-9)
        torch.testing.assert_close(together.beta[i], alone.beta[0], rtol=1e-6, atol=1e-9)
    plain = lanczos_tridiagonal(torch.from_numpy(a), starts, 15, reorth=False)
    torch.testing.assert_close(plain.alpha[:, :8], together.alpha[:, :8], rtol=1e-8, atol=1e-10)
    theta = torch.linalg.eigvalsh(together.matrices())
    assert float(theta.min()) >= exact[0] - 1e-12 and float(theta.max()) <= exact[-1] + 1e-12
    # a matrix with 3 distinct eigenvalues: the Krylov space has dimension 3
    diag = torch.diag(torch.tensor([1.0] * 10 + [2.0] * 10 + [5.0] * 10, dtype=torch.float64))
    short = lanczos_tridiagonal(diag, torch.ones(2, 30, dtype=torch.float64), 8)
    assert short.steps.tolist() == [3, 3]
    assert float(short.beta[:, 2:].abs().max()) == 0.0
    np.testing.assert_allclose(np.sort(torch.linalg.eigvalsh(short.matrices()[0, :3, :3]).numpy()), [1, 2, 5],
                               atol=1e-12)


class _LeakyFirstRun(TorchOperator):
    """diag(1..30), except that run 0's products also carry a large multiple of a fixed vector ``u``: its new
    vectors have a large component in its own basis (which holds ``u`` from the start), so the first
    Gram-Schmidt pass removes most of their norm and the second pass (DGKS) is due at every step after the
    first, for run 0 only."""

    def __init__(self, u: torch.Tensor):
        self.u, self.size, self.dtype, self.device = u, 30, torch.float64, torch.device("cpu")
        self.diag = torch.arange(1, 31, dtype=torch.float64)

    def _matmat(self, vecs: torch.Tensor) -> torch.Tensor:
        out = vecs * self.diag
        out[0] += 100.0 * float(vecs[0].sum()) * self.u
        return out


def test_full_reorthogonalisation_second_pass_is_per_run():
    """Full reorthogonalisation's second Gram-Schmidt pass (DGKS) runs only for the runs whose first pass
    removed much: run 0 (see :class:`_LeakyFirstRun`) takes it, while run 1 in the same block reads its
    basis once per step (counted, not timed)."""
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(30, generator=gen, dtype=torch.float64)
    u /= torch.linalg.vector_norm(u)
    starts = torch.stack([u, torch.randn(30, generator=gen, dtype=torch.float64)])
    tri = lanczos_tridiagonal(_LeakyFirstRun(u), starts, 12, reorth="full")
    assert tri.steps.tolist() == [12, 12] and tri.reorthogonalised.tolist() == [12, 12]
    once = 12 * 13 // 2  # one pass per step over the basis so far
    assert int(tri.rows_read[0]) > once + 12  # second passes, run 0
    assert int(tri.rows_read[1]) == once


def outlier_matrix(n: int = 600, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """A bulk on [0, 1] and 10 outliers up to 100: Lanczos without reorthogonalisation loses orthogonality
    within a few dozen steps here (the outliers converge first and come back as ghost copies)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([np.linspace(0.0, 1.0, n - 10), [5, 8, 12, 20, 30, 40, 50, 60, 80, 100]])
    a = (u * lam) @ u.T
    return torch.from_numpy((a + a.T) / 2), lam


def test_partial_reorthogonalisation_agrees_with_full():
    """Simon's partial reorthogonalisation (reorth="partial") keeps the basis orthogonal to sqrt(eps) while
    orthogonalising at only some steps, and its Gauss quadrature (nodes, weights) agrees with full
    reorthogonalisation to 1e-11 (nodes relative to ||A|| = 100); without reorthogonalisation it does not."""
    from nnspectra.curvature.density import quadrature

    a, lam = outlier_matrix()
    starts = torch.randn(4, a.shape[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    steps = 120
    runs = {mode: lanczos_tridiagonal(a, starts, steps, reorth=mode, keep_basis=True)
            for mode in ("full", "partial", "none")}
    full, part = runs["full"], runs["partial"]
    assert full.reorthogonalised.tolist() == [steps] * 4 and runs["none"].reorthogonalised.tolist() == [0] * 4
    assert runs["none"].basis is None
    assert all(0 < int(n) < 0.75 * steps for n in part.reorthogonalised)  # triggered, and only at some steps
    eye = torch.eye(steps, dtype=torch.float64)
    loss = (torch.einsum("bip,bjp->bij", part.basis, part.basis) - eye).abs().amax()
    assert float(loss) <= float(np.sqrt(np.finfo(np.float64).eps))
    nodes = {mode: quadrature(t.alpha, t.beta, t.steps) for mode, t in runs.items()}
    np.testing.assert_allclose(nodes["partial"][0], nodes["full"][0], rtol=0, atol=1e-11 * lam.max())
    np.testing.assert_allclose(nodes["partial"][1], nodes["full"][1], rtol=0, atol=1e-11)
    assert np.abs(nodes["none"][0] - nodes["full"][0]).max() > 1e-3 * lam.max()  # a case that needs it
    # the 10 outliers are Ritz values of every probe's run, to rounding
    np.testing.assert_allclose(nodes["partial"][0][:, -10:], np.tile(lam[-10:], (4, 1)), rtol=1e-12)
    # True / False are "full" / "none", bit for bit; anything else is refused in one line
    for flag, mode in ((True, "full"), (False, "none")):
        same = lanczos_tridiagonal(a, starts, steps, reorth=flag)
        assert torch.equal(same.alpha, runs[mode].alpha) and torch.equal(same.beta, runs[mode].beta)
    with pytest.raises(ValueError, match="reorth must be True, False or one of"):
        lanczos_tridiagonal(a, starts, 5, reorth="selective")
    diag = torch.diag(torch.tensor([1.0] * 10 + [2.0] * 10 + [5.0] * 10, dtype=torch.float64))
    short = lanczos_tridiagonal(diag, torch.ones(2, 30, dtype=torch.float64), 8, reorth="partial", keep_basis=True)
    assert short.steps.tolist() == [3, 3] and float(short.basis[:, 3:].abs().max()) == 0.0


def test_partial_reorthogonalisation_follows_the_operators_rounding():
    """A float32 operator's products round at float32's eps, and that, not the float64 basis's eps, drives
    the loss of orthogonality: partial reorthogonalisation with float32 products keeps the basis orthogonal
    to sqrt(eps32) and the quadrature of full reorthogonalisation to float32 rounding. (With float64's eps in
    the omega recurrence it reorthogonalised at 4-8 of 120 steps, the basis lost orthogonality entirely and
    the nodes left the spectrum, by 557 on this [0, 100] matrix.)"""
    from nnspectra.curvature.density import quadrature

    eps32 = float(np.finfo(np.float32).eps)
    a, lam = outlier_matrix()
    starts = torch.randn(4, a.shape[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    steps = 120
    single = DenseOperator(a.to(torch.float32))
    full = lanczos_tridiagonal(single, starts, steps, reorth="full")
    part = lanczos_tridiagonal(single, starts, steps, reorth="partial", keep_basis=True)
    double = lanczos_tridiagonal(a, starts, steps, reorth="partial")
    assert bool((part.reorthogonalised > double.reorthogonalised).all())  # float32 rounding: more often
    loss = (torch.einsum("bip,bjp->bij", part.basis, part.basis) - torch.eye(steps, dtype=torch.float64)).abs().amax()
    assert float(loss) <= np.sqrt(eps32)
    nodes, weights = quadrature(part.alpha, part.beta, part.steps)
    ref_nodes, ref_weights = quadrature(full.alpha, full.beta, full.steps)
    assert float(np.abs(nodes).max()) <= lam.max() * (1 + 1e-5)  # inside the spectrum
    np.testing.assert_allclose(nodes, ref_nodes, rtol=0, atol=100 * eps32 * lam.max())
    np.testing.assert_allclose(weights, ref_weights, rtol=0, atol=1e-4)


def test_partial_reorthogonalisation_reports_a_lost_semi_orthogonality(monkeypatch, caplog):
    """Each partial run measures its last vector against its basis (``overlap``, one GEMV per run), so a wrong
    rounding model cannot pass silently: with float64's eps for a float32 operator (the bug fixed above) the
    overlap is reported and logged; with the right one it stays below sqrt(eps32)."""
    import nnspectra.curvature.lanczos as lanczos_module

    a, _lam = outlier_matrix()
    single = DenseOperator(a.to(torch.float32))
    starts = torch.randn(3, a.shape[0], generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    steps = 120
    run = lanczos_tridiagonal(single, starts, steps, reorth="partial", keep_basis=True)
    last = torch.einsum("bkp,bp->bk", run.basis[:, : steps - 1], run.basis[:, steps - 1]).abs().amax(1)
    torch.testing.assert_close(run.overlap, last, rtol=0, atol=1e-15)
    assert float(run.overlap.max()) <= np.sqrt(np.finfo(np.float32).eps)
    assert lanczos_tridiagonal(a, starts, 10, reorth="full").overlap is None
    monkeypatch.setattr(lanczos_module, "unit_roundoff", lambda dtype, device=None: float(np.finfo(np.float64).eps))
    with caplog.at_level(logging.WARNING, logger="nnspectra.curvature.lanczos"):
        broken = lanczos_tridiagonal(single, starts, steps, reorth="partial")
    assert float(broken.overlap.max()) > np.sqrt(np.finfo(np.float32).eps)
    assert "lost semi-orthogonality" in caplog.text and "reorth='full'" in caplog.text


def test_basis_beyond_the_memory_budget_stops_before_the_first_product():
    """The b x steps x P float64 basis is allocated lazily: one too large for the budget is refused in one line
    that says how many runs at a time fit, before any product; "none" keeps no basis and runs."""
    from nnspectra.curvature.density import slq
    from nnspectra.errors import MemoryBudgetError

    a, _lam = outlier_matrix(200)
    op = DenseOperator(a)
    starts = torch.ones(4, 200, dtype=torch.float64)
    budget_gb = 2.5 * 30 * 200 * 8 / 2**30  # room for the basis of 2 runs of 30 steps
    for mode in ("full", "partial"):
        with pytest.raises(MemoryBudgetError, match=r"basis of 4 runs x 30 steps x P = 200 .*slq block=2 fits"):
            lanczos_tridiagonal(op, starts, 30, reorth=mode, budget_gb=budget_gb)
    assert op.n_products == 0
    assert lanczos_tridiagonal(op, starts, 30, reorth="none", budget_gb=budget_gb).steps.tolist() == [30] * 4
    assert slq(op, 4, 30, block=2, budget_gb=budget_gb).n_products == 4 * 30
    with pytest.raises(MemoryBudgetError, match="slq block=2 fits"):
        slq(op, 4, 30, budget_gb=budget_gb)


def test_partial_intervals_read_fewer_basis_rows_than_the_whole_basis():
    """The interval variant of partial reorthogonalisation (PROPACK's compute_int: the runs of |omega_k| >
    eps^(3/4) around estimates above sqrt(eps)) keeps the basis semi-orthogonal and the quadrature of full
    reorthogonalisation while reading fewer basis rows than the whole-basis variant (eta=0); counted, not
    timed."""
    from nnspectra.curvature.density import quadrature
    from nnspectra.curvature.reorth import ETA, intervals

    omega = torch.tensor([1e-13, 1e-11, 1e-7, 1e-11, 1e-14, 1e-10, 1e-13, 1e-6, 1e-10], dtype=torch.float64)
    assert intervals(omega) == [(1, 4), (7, 9)]  # index 5 is above eta, but no estimate near it passes sqrt(eps)
    assert intervals(-omega) == [(1, 4), (7, 9)]
    assert intervals(omega, eta=0.0) == [(0, 9)]
    assert intervals(torch.full((5,), 1e-12, dtype=torch.float64)) == []
    a, lam = outlier_matrix()
    starts = torch.randn(4, a.shape[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    steps = 120
    full = lanczos_tridiagonal(a, starts, steps, reorth="full")
    assert all(int(n) >= steps * (steps + 1) // 2 for n in full.rows_read)  # every step, the whole basis
    assert lanczos_tridiagonal(a, starts, steps, reorth="none").rows_read.tolist() == [0] * 4
    ref = quadrature(full.alpha, full.beta, full.steps)
    eye = torch.eye(steps, dtype=torch.float64)
    runs = {eta: lanczos_tridiagonal(a, starts, steps, reorth="partial", keep_basis=True, eta=eta) for eta in (ETA, 0.0)}
    for run in runs.values():
        loss = (torch.einsum("bip,bjp->bij", run.basis, run.basis) - eye).abs().amax()
        assert float(loss) <= float(np.sqrt(np.finfo(np.float64).eps))
        nodes, weights = quadrature(run.alpha, run.beta, run.steps)
        np.testing.assert_allclose(nodes, ref[0], rtol=0, atol=1e-11 * lam.max())
        np.testing.assert_allclose(weights, ref[1], rtol=0, atol=1e-11)
        assert all(0 < int(n) < 0.75 * steps for n in run.reorthogonalised)
    assert bool((runs[ETA].rows_read < runs[0.0].rows_read).all())
    assert bool((runs[0.0].rows_read < full.rows_read).all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_basis_stays_on_the_device():
    a, exact = spiked_matrix(300, seed=8)
    res = lanczos_eigsh(DenseOperator(torch.from_numpy(a).cuda()), 5, "LA", tol=1e-14)
    assert res.vectors.is_cuda
    np.testing.assert_allclose(res.values.numpy(), exact[::-1][:5], rtol=1e-10)
    tri = lanczos_tridiagonal(DenseOperator(torch.from_numpy(a).cuda()), torch.ones(2, 300), 10)
    assert tri.alpha.shape == (2, 10)
    on_cpu = lanczos_tridiagonal(torch.from_numpy(a), torch.ones(2, 300), 10, reorth="partial")
    part = lanczos_tridiagonal(DenseOperator(torch.from_numpy(a).cuda()), torch.ones(2, 300), 10, reorth="partial")
    torch.testing.assert_close(part.alpha, on_cpu.alpha, rtol=1e-10, atol=1e-12)


# -- the one front-end (eigen.eigenpairs) on torch product operators ----------------------------------

def test_eigenpairs_front_end_partial_and_raise_on_torch_operator():
    a, exact = spiked_matrix(300, seed=2)
    op = DenseOperator(torch.from_numpy(a))
    from scipy.sparse.linalg import ArpackNoConvergence

    with pytest.raises(ArpackNoConvergence):
        top_eigenpairs(op, 6, tol=1e-14, ncv=13, maxiter=0)
    vals, _ = top_eigenpairs(op, 6, tol=1e-14, ncv=13, maxiter=0, on_no_convergence="partial")
    assert vals.size < 6 and all(np.min(np.abs(exact - v)) < 1e-8 for v in vals)
    vals, _ = top_eigenpairs(op, 6, tol=1e-14, ncv=13, maxiter=0, on_no_convergence="dense")
    np.testing.assert_allclose(vals, exact[::-1][:6], atol=1e-12)
