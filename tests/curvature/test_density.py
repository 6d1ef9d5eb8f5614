"""curvature/density.py: SLQ spectral density and Hutchinson trace against exact spectra of dense cases, and
against curvlinops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from curvature_cases import small_convnet
from nnspectra.curvature.density import (SpectralDensity, hutchinson_trace, quadrature, slq, slq_w1_bound,
                                         smooth_density, w1_distance)
from nnspectra.curvature.lanczos import lanczos_tridiagonal
from nnspectra.curvature.products import GaussNewtonProducts, HessianProducts

CE = nn.functional.cross_entropy


def density_case(n: int = 64, seed: int = 0):  # type: ignore[no-untyped-def]
    """Tiny SPEC §1.7-shaped convnet (P = 414) on random MNIST-like data. Larger than the shared cases of
    tests/curvature_cases.py (P = 157): SLQ's W1 bounds and the comparison with curvlinops need a spectrum of
    some hundreds of eigenvalues and N = 64 samples, which would slow every family run on the case list."""
    model = small_convnet(image_size=14, channels=(3, 4), hidden=6, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, 1, 14, 14, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 10, (n,), generator=gen)
    return model, x, y


@pytest.fixture(scope="module")
def hessian_case():  # type: ignore[no-untyped-def]
    model, x, y = density_case()
    op = HessianProducts(model, CE, x, y)
    mat = op.dense()
    return op, mat, np.linalg.eigvalsh(mat.numpy())


def w1_threshold(eigs: np.ndarray, n_probes: int, n_steps: int, std_factor: float = 4.0) -> float:
    """Quadrature part + sampling part of W1(SLQ, spectrum), for probes uniform on the sphere.

    Quadrature: each probe's m-node Gauss rule matches its spectral measure's moments up to degree 2m - 1,
    so for any 1-Lipschitz f, |int f (dmu - dnu)| <= 2 E_{2m-1}(f) <= pi (b - a) / (4 m) by Jackson's
    theorem on [a, b] = [lambda_min, lambda_max] (Ritz values lie in it). Sampling: F_q(x) of one probe
    is Beta(k/2, (P-k)/2) with variance <= 2 F (1 - F) / (P + 2) <= 1 / (2 (P + 2)), so
    E W1(mean of n probe measures, spectrum) <= (b - a) / sqrt(2 (P + 2) n); ``std_factor`` times it.
    """
    width, size = eigs[-1] - eigs[0], len(eigs)
    return math.pi * width / (4 * n_steps) + std_factor * width / math.sqrt(2 * (size + 2) * n_probes)


def test_gauss_quadrature_reproduces_probe_moments_to_degree_2m_minus_1():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    a = (u * np.linspace(-1, 1, 300)) @ u.T
    a = (a + a.T) / 2
    starts = torch.randn(3, 300, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    m = 12
    tri = lanczos_tridiagonal(torch.from_numpy(a), starts, m)
    nodes, weights = quadrature(tri.alpha, tri.beta, tri.steps)
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-13)
    q = (starts / starts.norm(dim=1, keepdim=True)).numpy()
    power = q.copy()
    for p in range(2 * m):
        exact = (q * power).sum(1)  # q^T A^p q
        quad = (weights * nodes**p).sum(1)
        np.testing.assert_allclose(quad, exact, rtol=0, atol=1e-13)
        power = power @ a
    # degree 2m is NOT matched (the m-point rule is exact up to degree 2m - 1 only)
    assert np.abs((weights * nodes ** (2 * m)).sum(1) - (q * power).sum(1)).max() > 1e-9


@pytest.mark.parametrize("n_probes,n_steps", [(4, 20), (16, 40)])
def test_hessian_density_close_to_exact_spectrum_in_w1(hessian_case, n_probes, n_steps):
    op, _, eigs = hessian_case
    dens = slq(op, n_probes, n_steps, probe="gaussian", seed=1)
    assert isinstance(dens, SpectralDensity)
    assert dens.nodes.shape == (n_probes, n_steps) and dens.density_per_probe.shape == (n_probes, 1024)
    assert dens.n_products == n_probes * n_steps
    w1 = w1_distance(dens.nodes, dens.weights, eigs)
    assert w1 <= w1_threshold(eigs, n_probes, n_steps)
    assert w1 <= slq_w1_bound(op.size, n_probes, n_steps) * (eigs[-1] - eigs[0])  # Chen et al. 2021, Thm. 1
    # the extreme nodes converge to the extreme eigenvalues first
    assert abs(dens.nodes.max() - eigs[-1]) <= 1e-8 * abs(eigs[-1])
    np.testing.assert_allclose(np.trapezoid(dens.density, dens.grid), 1.0, atol=1e-3)
    np.testing.assert_allclose(dens.density, dens.density_per_probe.mean(0))


def test_more_probes_and_steps_get_closer(hessian_case):
    op, _, eigs = hessian_case
    coarse = slq(op, 2, 8, probe="gaussian", seed=2)
    fine = slq(op, 12, 40, probe="gaussian", seed=2)
    assert w1_distance(fine.nodes, fine.weights, eigs) < 0.5 * w1_distance(coarse.nodes, coarse.weights, eigs)


def test_gauss_newton_density_is_nonnegative_and_matches_its_spectrum():
    model, x, y = density_case(n=8)
    op = GaussNewtonProducts(model, CE, x, y)
    eigs = np.linalg.eigvalsh(op.dense().numpy())
    dens = slq(op, 8, 30, probe="gaussian", seed=3)
    assert dens.nodes[dens.weights > 0].min() >= -1e-12 * eigs[-1]
    # most of the mass sits at 0 (rank <= N (C - 1) = 72 of P = 414)
    assert dens.weights[np.abs(dens.nodes) < 1e-9 * eigs[-1]].sum() / 8 > 0.5
    assert w1_distance(dens.nodes, dens.weights, eigs) <= w1_threshold(eigs, 8, 30)


def test_trace_estimates(hessian_case):
    op, mat, eigs = hessian_case
    exact = float(eigs.sum())
    hutch = hutchinson_trace(op, 200, seed=4, block=32)
    assert hutch.samples.shape == (200,) and hutch.n_products == 200
    assert abs(hutch.mean - exact) <= 4 * hutch.std / math.sqrt(200)
    # Rademacher probes: P * q^T A q == z^T A z, so SLQ's trace is Hutchinson's on the same probes
    dens = slq(op, 5, 10, seed=9)
    gen = torch.Generator().manual_seed(9)
    z = torch.randint(0, 2, (5, op.size), generator=gen, dtype=torch.int8).to(torch.float64) * 2 - 1
    direct = ((z @ mat) * z).sum(1).numpy()
    np.testing.assert_allclose(dens.trace_per_probe, direct, rtol=1e-10)
    assert dens.trace_std == pytest.approx(direct.std(ddof=1), rel=1e-9)


def test_smoothing_and_blocks():
    nodes = np.array([[0.0, 1.0]])
    weights = np.array([[0.25, 0.75]])
    grid = np.linspace(-3, 4, 2001)
    dens = smooth_density(nodes, weights, grid, 0.2)[0]
    np.testing.assert_allclose(np.trapezoid(dens, grid), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.trapezoid(dens * grid, grid), 0.75, rtol=1e-6)
    a = torch.diag(torch.linspace(-1, 2, 50, dtype=torch.float64))
    one = slq(a, 6, 10, seed=0)
    split = slq(a, 6, 10, seed=0, block=4)
    np.testing.assert_allclose(one.nodes, split.nodes, atol=1e-12)
    np.testing.assert_allclose(one.density, split.density, atol=1e-12)
    with pytest.raises(ValueError, match="probe must be"):
        slq(a, 2, 3, probe="uniform")
    with pytest.raises(ValueError, match="at least one probe"):
        slq(a, 0, 3)


def test_density_records_its_probes_and_measured_overlap():
    """``probe`` says which probes were drawn ("given" only for explicit starts; it was "given" always), also in
    ``arrays()``; with "partial" reorthogonalisation ``meta["overlap"]`` holds the measured overlap of the last
    Lanczos vectors (within semi-orthogonality here), and nothing for "full"."""
    a = torch.diag(torch.linspace(-1, 2, 50, dtype=torch.float64))
    assert slq(a, 3, 10).probe == "rademacher" and str(slq(a, 3, 10).arrays()["probe"]) == "rademacher"
    assert slq(a, 3, 10, probe="gaussian").probe == "gaussian"
    assert slq(a, 3, 10, starts=torch.ones(2, 50, dtype=torch.float64)).probe == "given"
    assert slq(a, 3, 10).meta == {}
    part = slq(a, 3, 30, reorth="partial", block=2)
    assert 0.0 <= part.meta["overlap"] <= math.sqrt(np.finfo(np.float64).eps)
    assert "overlap" not in part.arrays()  # the .npz arrays are unchanged


curvlinops = pytest.importorskip("curvlinops", reason="curvlinops-for-pytorch not installed")


def test_same_algorithm_as_curvlinops_on_the_same_operator():
    """Papyan's Alg. 2 as implemented by curvlinops (no reorthogonalisation, Gaussian start) and ours with
    the same start vectors: same nodes and weights, same density on the same grid, on curvlinops' own
    Hessian operator of the same model and data."""
    from curvlinops import HessianLinearOperator
    from curvlinops.papyan2020traces.spectrum import fast_lanczos, lanczos_approximate_spectrum

    model, x, y = density_case(n=32)
    params = [p for p in model.parameters()]
    theirs = HessianLinearOperator(model, nn.CrossEntropyLoss(), params, [(x, y)])
    ours = HessianProducts(model, CE, x, y)
    v = torch.randn(ours.size, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(theirs @ v, ours.matvec(v), rtol=1e-10, atol=1e-13)

    eigs = np.linalg.eigvalsh(ours.dense().numpy())
    bounds = (float(eigs[0]), float(eigs[-1]))
    steps, repeats = 25, 3
    torch.manual_seed(11)
    starts = torch.stack([torch.randn(ours.size, dtype=torch.float64) for _ in range(repeats)])
    torch.manual_seed(11)
    grid, dens_theirs = lanczos_approximate_spectrum(theirs, steps, num_points=512, num_repeats=repeats,
                                                     boundaries=bounds)
    mine = slq(ours, starts=starts, n_steps=steps, reorth=False, bounds=bounds, grid_points=512)
    np.testing.assert_allclose(mine.grid, grid.numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine.density, dens_theirs.numpy(), rtol=0, atol=1e-9 * dens_theirs.max().item())
    torch.manual_seed(11)
    evals, evecs = fast_lanczos(theirs, steps)
    np.testing.assert_allclose(mine.nodes[0], evals.numpy(), rtol=0, atol=1e-9 * abs(eigs).max())
    np.testing.assert_allclose(mine.weights[0], (evecs[0] ** 2).numpy(), atol=1e-9)


def test_equal_probes_and_steps_as_accurate_as_curvlinops():
    """At equal probes and steps both SLQs are within the W1 threshold of the exact spectrum, and ours
    (full reorthogonalisation) is not worse than curvlinops' (none) by more than the sampling term."""
    from curvlinops import HessianLinearOperator
    from curvlinops.papyan2020traces.spectrum import fast_lanczos

    model, x, y = density_case(n=32)
    theirs = HessianLinearOperator(model, nn.CrossEntropyLoss(), list(model.parameters()), [(x, y)])
    ours = HessianProducts(model, CE, x, y)
    eigs = np.linalg.eigvalsh(ours.dense().numpy())
    probes, steps = 6, 30
    torch.manual_seed(0)
    runs = [fast_lanczos(theirs, steps) for _ in range(probes)]
    w1_theirs = w1_distance(np.stack([r[0].numpy() for r in runs]), np.stack([(r[1][0] ** 2).numpy() for r in runs]),
                            eigs)
    mine = slq(ours, probes, steps, probe="gaussian", seed=0)
    w1_ours = w1_distance(mine.nodes, mine.weights, eigs)
    limit = w1_threshold(eigs, probes, steps)
    assert w1_ours <= limit and w1_theirs <= limit
    assert w1_ours <= w1_theirs + 4 * (eigs[-1] - eigs[0]) / math.sqrt(2 * (len(eigs) + 2) * probes)
