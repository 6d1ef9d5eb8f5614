"""Alignment measures on constructed cases, online SGD, and tiny end-to-end runs of the experiment."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnspectra.errors import ConfigError, DivergenceError
from nnspectra.experiments.benarous2024 import alignment as aln
from nnspectra.experiments.benarous2024.alignment import KINDS, MatrixSettings, OnlineSGD
from nnspectra.experiments.benarous2024.alignment_metrics import AlignmentClaims, alignment_metrics, readout_evolution
from nnspectra.spectra.alignment import alignment, first_crossing, span_basis, subspace_overlap
from nnspectra.spectra.outliers import count_above_edge, count_largest_gap
from nnspectra.training.online import SeenBuffer, checkpoint_steps, online_sgd

CFG = dict(k=3, means="orthonormal", c=0.5, beta=0.0, m_factor=4, matrix_data="test", n_top=8,
           edge_margin=0.05, null_model="noise", dense_max=35)
XCFG = dict(c=0.5, beta=0.0, m_factor=4, matrix_data="test", n_top=6, edge_margin=0.05, null_model="noise",
            dense_max=1000)
MATRIX_KEYS = ("m_factor", "matrix_data", "n_top", "edge_margin", "null_model", "dense_max")


def run_gmm(cfg, d, lam, seed, times, blocks=True, kinds=KINDS):
    """The experiment's typed entry point, fed from one flat dict of the section's keys."""
    mats = MatrixSettings(**{k: cfg[k] for k in MATRIX_KEYS})
    return aln.run_gmm(cfg["k"], cfg["means"], OnlineSGD(cfg["c"], cfg["beta"]), mats, d, lam, seed, times, blocks, kinds)


def run_xor(cfg, d, K, lam, seed, times):
    mats = MatrixSettings(**{k: cfg[k] for k in MATRIX_KEYS})
    return aln.run_xor(OnlineSGD(cfg["c"], cfg["beta"]), mats, d, K, lam, seed, times)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 30), st.integers(1, 5), st.integers(0, 10_000))
def test_vector_inside_its_subspace_has_alignment_one(n, r, seed):
    r = min(r, n)
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, r)))[0]
    assert alignment(Q @ rng.standard_normal(r), Q) == pytest.approx(1.0, abs=1e-10)
    if r < n:                       # a vector in the orthogonal complement has alignment 0
        P = np.eye(n) - Q @ Q.T
        assert alignment(P @ rng.standard_normal(n), Q) == pytest.approx(0.0, abs=1e-10)


def test_alignment_known_angle_and_edge_cases():
    Q = np.eye(3)[:, :1]
    theta = 0.3
    assert alignment(np.array([np.cos(theta), np.sin(theta), 0.0]), Q) == pytest.approx(np.cos(theta) ** 2)
    assert alignment(np.ones(3), np.zeros((3, 0))) == 0.0
    assert alignment(np.zeros(3), Q) == 0.0


def test_subspace_overlap_of_rotated_planes_is_mean_cos2():
    a, b = 0.4, 1.1
    Q1 = np.eye(4)[:, :2]
    Q2 = np.stack([[np.cos(a), 0, np.sin(a), 0], [0, np.cos(b), 0, np.sin(b)]], axis=1)
    assert subspace_overlap(Q1, Q2) == pytest.approx((np.cos(a) ** 2 + np.cos(b) ** 2) / 2)
    assert subspace_overlap(Q1, Q1) == pytest.approx(1.0)
    assert subspace_overlap(Q1[:, :1], Q1) == pytest.approx(1.0)   # smaller space inside larger
    basis = span_basis(np.array([[1.0, 1.0, 0, 0], [2.0, 2.0, 0, 0], [0, 0, 1.0, 0]]))
    assert basis.shape == (4, 2)
    with pytest.raises(ConfigError):
        subspace_overlap(np.eye(3)[:, :1], np.eye(4)[:, :1])


def test_outlier_counts_on_planted_spectra():
    bulk = np.linspace(1.0, 0.5, 30)
    eigs = np.concatenate([[9.0, 7.0, 5.0], bulk])
    assert count_above_edge(eigs, 1.0, margin=0.05) == 3
    assert count_above_edge(eigs, 1.0, margin=0.0) == 3
    assert count_above_edge(eigs, 6.0) == 2
    assert count_largest_gap(eigs, max_count=10) == 3


def test_first_crossing_interpolates_in_log_time():
    times = np.array([0.0, 1.0, 4.0])
    vals = np.array([0.0, 0.5, 1.0])
    assert first_crossing(times, vals, 0.75) == pytest.approx(2.0)
    assert np.isnan(first_crossing(times, vals, 1.5))
    assert first_crossing(times, vals, 0.5) == 1.0


def test_online_sgd_matches_a_manual_loop_and_records_checkpoints():
    rng_data = np.random.default_rng(0)
    data = rng_data.standard_normal((10, 3))
    labels = np.zeros(10, dtype=int)
    pos = {"i": 0}

    def sample(n):
        out = data[pos["i"]:pos["i"] + n], labels[pos["i"]:pos["i"] + n]
        pos["i"] += n
        return out

    grad = lambda th, y, a: th - y  # noqa: E731  (gradient of |th - y|^2 / 2)
    seen = SeenBuffer(4, 3)
    outs = online_sgd(np.zeros(3), grad, sample, np.array([0, 3, 10]), delta=0.1, beta=0.5, chunk=2, seen=seen)
    th = np.zeros(3)
    manual = [th.copy()]
    for i in range(10):
        th = th * (1 - 0.1 * 0.5) - 0.1 * (th - data[i])
        if i + 1 == 3:
            manual.append(th.copy())
    manual.append(th)
    for a, b in zip(outs, manual):
        np.testing.assert_allclose(a, b, atol=1e-14)
    Ys, _ = seen.get()
    np.testing.assert_array_equal(np.sort(Ys, axis=0), np.sort(data[6:], axis=0))
    with pytest.raises(DivergenceError):
        online_sgd(np.full(3, np.nan), grad, sample, np.array([0]), delta=0.1)
    np.testing.assert_array_equal(checkpoint_steps([0, 0.1, 1, 1.0], 50), [0, 5, 50])


def test_gmm_run_aligns_and_is_deterministic():
    times = [0, 0.5, 2, 10]
    a = run_gmm(CFG, 40, 20.0, seed=0, times=times)
    b = run_gmm(CFG, 40, 20.0, seed=0, times=times)
    np.testing.assert_array_equal(a["hessian_align"], b["hessian_align"])
    assert a["hessian_block_eigs"].shape == (4, 3, 8)
    assert a["acc"][-1] > a["acc"][0] and a["acc"][-1] > 0.9
    # the iterate moves into the outlier space and the block eigenspaces contain the means
    assert a["hessian_align"][-1] > a["hessian_align"][0] + 0.2
    assert a["hessian_block_mean_overlap"][-1].min() > 0.8
    assert np.all(a["hessian_r"] <= 3 * 3) and a["hessian_r"][-1] >= 1
    c = run_gmm({**CFG, "matrix_data": "train", "null_model": "zero_means"}, 40, 20.0, seed=0, times=[0, 1], blocks=False,
                kinds=("hessian",))
    assert "hessian_block_eigs" not in c and "gmatrix_eigs" not in c and c["hessian_eigs"].shape == (2, 8)


def test_xor_run_and_metrics_on_tiny_runs():
    times = [0, 1, 5, 10, 100]
    runs = [run_xor(XCFG, 30, 4, 20.0, seed=s, times=times) for s in (1, 2)]
    r = runs[0]
    assert r["hessian_unit_eigs"].shape == (5, 4, 6) and r["hessian_v_vecs"].shape == (5, 4, 4)
    assert 0.5 < r["bayes"] <= 1.0
    assert r["acc"][-1] > 0.9 and r["acc"][0] < 0.7
    assert r["hessian_v_r"][-1] > r["hessian_v_r"][0]          # readout outliers emerge
    assert 0.0 <= readout_evolution(r, 1, 10) <= 1.0 + 1e-12
    assert readout_evolution(r, 10, 10) == pytest.approx(1.0)
    gmm = [run_gmm(CFG, 30, lam, seed=0, times=[0, 1, 2, 5]) for lam in (2.0, 10.0, 50.0)]
    claims = dict(lam=10.0, align_window=[1, 5], emerge_time=5, snr_time=5, align_level=0.5,
                  xor_window=[5, 10], evolve_early=[1, 5], evolve_late=[5, 10], suboptimal_gap=0.05)
    m = alignment_metrics(gmm, gmm[1:], runs, AlignmentClaims(**claims)).as_dict()
    for key in ("gmm_min_align_hessian", "gmm_min_align_gmatrix", "gmm_min_block_mean_overlap",
                "gmm_outlier_growth", "gmm_snr_spearman", "gmm_align_time_spread", "xor_min_unit_align",
                "xor_readout_overlap_early", "xor_rank_deficit", "xor_n_suboptimal"):
        assert key in m and len(m[key]["values"]) == len(m[key]["seeds"])
    assert len(m["xor_min_unit_align"]["values"]) == 2


def test_bad_configs_give_one_line_errors():
    with pytest.raises(ConfigError):
        run_gmm({**CFG, "k": 1}, 10, 5.0, 0, [0])
    with pytest.raises(ConfigError):
        run_xor(XCFG, 10, 0, 5.0, 0, [0])


def test_figures_render_from_tiny_runs(tmp_path):
    from nnspectra.experiments.benarous2024.alignment_metrics import AlignmentClaims, gmm_figure_numbers, xor_figure_numbers
    from nnspectra.plotting.benarous2024.alignment import AlignmentPlot, plot_gmm_alignment, plot_gmm_spectra, plot_xor

    claims = dict(lam=10.0, align_level=0.5, snr_time=2, suboptimal_gap=0.05)
    typed = AlignmentClaims(**claims)
    gmm = [run_gmm(CFG, 20, lam, seed=0, times=[0, 1, 2]) for lam in (2.0, 10.0, 50.0)]
    plot_gmm_alignment(gmm, gmm[1:], typed, tmp_path / "a.png", gmm_figure_numbers(gmm, gmm[1:], typed))
    plot_gmm_spectra(gmm, typed, AlignmentPlot(seed=0), tmp_path / "b.png")
    xor = [run_xor(XCFG, 12, 3, 10.0, seed=s, times=[0, 1, 2]) for s in (0, 1)]
    plot_xor(xor, typed, AlignmentPlot(seed=0), tmp_path / "c.png", xor_figure_numbers(xor, typed))
    assert all((tmp_path / f).stat().st_size > 10_000 for f in ("a.png", "b.png", "c.png"))
