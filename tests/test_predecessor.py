"""Predecessor paper (P0, Sagun, Bottou & LeCun 2016): data, nets, batched GD, Hessians, claim metrics, figures."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from fakedata import write_fake_mnist

from nnspectra.models.flat import loss_of_flat_params
from nnspectra.data.p0 import mnist_examples, random_patterns, two_blobs
from nnspectra.errors import ConfigError
from nnspectra.experiments.sagun2016 import predecessor as p0
from nnspectra.experiments.sagun2016 import predecessor_training as p0t
from nnspectra.experiments.sagun2016 import predecessor_metrics as pm
from nnspectra.experiments.sagun2016 import predecessor_mnist as p0m
from nnspectra.curvature.batched import batched_hessian_eigvalsh, mlp_hessians_eigvalsh
from nnspectra.training.batched import batched_gd
from nnspectra.training.interpolation import line_losses
from nnspectra.models.mlp import mlp_parameter_count


# ----------------------------------------------------------------------------------------- data
def test_two_blobs_centres_std_labels_and_seeding() -> None:
    x, y = two_blobs(n_per_blob=5000, std=0.3, seed=4)
    assert x.shape == (10_000, 2) and y.shape == (10_000,) and x.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [5000, 5000]
    for label, centre in ((0, (1.0, 1.0)), (1, (-1.0, -1.0))):
        pts = x[y == label]
        np.testing.assert_allclose(pts.mean(axis=0), centre, atol=4 * 0.3 / np.sqrt(5000))
        np.testing.assert_allclose(pts.std(axis=0), 0.3, rtol=0.05)
    x2, y2 = two_blobs(n_per_blob=5000, std=0.3, seed=4)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x, two_blobs(n_per_blob=5000, std=0.3, seed=5)[0])
    assert 0.2 < np.mean(y[:100]) < 0.8  # rows are shuffled: the first batch mixes both classes


def test_two_blobs_same_seed_scales_the_same_draw() -> None:
    (xa, ya), (xb, yb) = two_blobs(50, 0.2, 1), two_blobs(50, 1.0, 1)
    assert np.array_equal(ya, yb)
    centres = np.where(ya[:, None] == 0, 1.0, -1.0)
    np.testing.assert_allclose((xb - centres), 5.0 * (xa - centres), rtol=1e-12)


def test_two_blobs_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="std"):
        two_blobs(10, 0.0, 0)
    with pytest.raises(ConfigError, match="n_per_blob"):
        two_blobs(0, 0.1, 0)


@pytest.mark.parametrize("distribution", ["gaussian", "uniform"])
def test_random_patterns_balanced_seeded_and_scaled(distribution: str) -> None:
    x, y = random_patterns(2000, 784, 10, seed=3, distribution=distribution)
    assert x.shape == (2000, 784) and np.bincount(y).tolist() == [200] * 10
    if distribution == "gaussian":
        assert abs(x.mean()) < 0.01 and abs(x.std() - 1.0) < 0.01
    else:
        np.testing.assert_allclose([x.min(), x.max()], [-0.1307 / 0.3081, (1 - 0.1307) / 0.3081], atol=1e-3)
    assert np.array_equal(x, random_patterns(2000, 784, 10, seed=3, distribution=distribution)[0])
    with pytest.raises(ConfigError, match="multiple"):
        random_patterns(15, 784, 10, seed=0)
    with pytest.raises(ConfigError, match="distribution"):
        random_patterns(10, 784, 10, seed=0, distribution="laplace")


def test_mnist_examples_balanced_normalised_flat(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path, n_per_class=6)
    x, y = mnist_examples(tmp_path, per_class=4, subset_seed=0)
    assert x.shape == (40, 784) and x.dtype == np.float64 and np.bincount(y).tolist() == [4] * 10
    assert x.min() >= -0.1307 / 0.3081 - 1e-6 and x.max() <= (1 - 0.1307) / 0.3081 + 1e-6
    xs, _ = mnist_examples(tmp_path, per_class=4, subset_seed=0, image_size=14)
    assert xs.shape == (40, 196)


# ----------------------------------------------------------------------------------------- nets
@pytest.mark.parametrize("width,expected", [(2, 18), (6, 74), (10, 162), (14, 282), (18, 434)])
def test_blob_parameter_count_is_n2_6n_2(width: int, expected: int) -> None:
    net = p0t.build_net(p0t.blob_sizes(width), seed=0)
    assert p0t.blob_parameter_count(width) == expected == mlp_parameter_count(p0t.blob_sizes(width))
    assert sum(q.numel() for q in net.parameters()) == expected


def test_sphere_parameters_lie_on_the_sphere() -> None:
    theta = p0t.sphere_parameters(200, 74, radius=0.86, seed=1)
    np.testing.assert_allclose(np.linalg.norm(theta, axis=1), 0.86, rtol=1e-12)
    assert np.array_equal(theta, p0t.sphere_parameters(200, 74, 0.86, 1))
    # uniform directions: the mean direction is ~0 and the coordinates are exchangeable
    assert np.abs(theta.mean(axis=0)).max() < 4 * 0.86 / np.sqrt(74 * 200)


def test_init_radius_is_the_typical_init_norm() -> None:
    sizes = p0t.blob_sizes(10)
    assert p0t.init_radius(sizes, "normal", 0.1) == pytest.approx(0.1 * np.sqrt(162))
    sq = [sum(float(q.detach().pow(2).sum()) for q in p0t.build_net(sizes, seed=s, init="torch").parameters())
          for s in range(300)]
    assert np.mean(sq) == pytest.approx(p0t.init_radius(sizes, "torch") ** 2, rel=0.03)
    with pytest.raises(ConfigError, match="init"):
        p0t.init_radius(sizes, "xavier")


def _blobs_tensors(n: int = 20, std: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    return p0t.as_tensors(*two_blobs(n, std, seed))


def test_batched_gd_follows_training_train_exactly() -> None:
    """Same trajectory as nnspectra.training.train (GD, stop before the update at grad norm <= tol)."""
    x, y = _blobs_tensors()
    sizes = p0t.blob_sizes(4)
    template = p0t.build_net(sizes, seed=0)
    f = loss_of_flat_params(template, p0.cross_entropy, x, y)
    theta0 = torch.as_tensor(p0t.sphere_parameters(4, p0t.blob_parameter_count(4), 1.5, seed=2))
    tol, cap = 2e-3, 400
    res = batched_gd(theta0, f, lr=0.5, grad_norm_tol=tol, max_iterations=cap)
    assert res.converged.any() and not res.converged.all()  # both stop reasons are exercised
    for i in range(4):
        model = p0t.set_flat_parameters(p0t.build_net(sizes, seed=0), theta0[i])
        out = p0t.train_gd(model, x, y, p0t.P0Train(lr=0.5, grad_norm_tol=tol, max_iterations=cap))
        theta = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
        assert out.iterations == res.iterations[i] and out.converged == res.converged[i]
        torch.testing.assert_close(res.theta[i], theta, rtol=0, atol=1e-10)
        assert res.grad_norm[i] == pytest.approx(p0.full_grad_norm(model, x, y), rel=1e-9)
        assert res.loss[i] == pytest.approx(p0t.full_loss(model, x, y), rel=1e-12)


def test_batched_gd_snapshots_where_grad_norm_first_falls() -> None:
    x, y = _blobs_tensors()
    f = loss_of_flat_params(p0t.build_net(p0t.blob_sizes(3), seed=0), p0.cross_entropy, x, y)
    theta0 = torch.as_tensor(p0t.sphere_parameters(3, p0t.blob_parameter_count(3), 1.5, seed=0))
    res = batched_gd(theta0, f, lr=0.5, grad_norm_tol=1e-2, max_iterations=3000, snapshot_tols=[5e-2])
    grad = torch.func.vmap(torch.func.grad(f))
    snap = res.snapshots[5e-2]
    for i in np.flatnonzero(res.converged):
        assert torch.isfinite(snap[i]).all() and float(grad(snap[i:i + 1]).norm()) <= 5e-2
    with pytest.raises(ConfigError, match="exceed"):
        batched_gd(theta0, f, lr=0.5, grad_norm_tol=1e-2, max_iterations=3, snapshot_tols=[1e-3])


def _independent_loss(theta: torch.Tensor, sizes: list[int], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Hand-written forward pass of the ReLU MLP from a flat vector (W (out, in) row-major, then b)."""
    h, off = x, 0
    for i, (a, b) in enumerate(pairwise(sizes)):
        w = theta[off:off + a * b].reshape(b, a)
        off += a * b
        bias = theta[off:off + b]
        off += b
        h = h @ w.T + bias
        if i < len(sizes) - 2:
            h = torch.clamp(h, min=0.0)
    logp = h - torch.logsumexp(h, dim=1, keepdim=True)
    return -logp[torch.arange(len(y)), y].mean()


def test_hessian_of_tiny_net_matches_torch_func_and_finite_differences() -> None:
    x, y = _blobs_tensors(10, 0.5, 1)
    sizes = p0t.blob_sizes(3)
    model = p0t.build_net(sizes, seed=3, init_scale=0.7)
    theta = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
    h = p0.hessian_matrix(model, x, y)
    ref = torch.func.hessian(lambda t: _independent_loss(t, sizes, x, y))(theta)
    torch.testing.assert_close(h, ref, rtol=1e-10, atol=1e-12)
    grad = torch.func.grad(lambda t: _independent_loss(t, sizes, x, y))
    eps = 1e-6
    for j in (0, 7, theta.numel() - 1):
        e = torch.zeros_like(theta)
        e[j] = eps
        fd = (grad(theta + e) - grad(theta - e)) / (2 * eps)
        torch.testing.assert_close(h[:, j], fd, rtol=1e-5, atol=1e-7)
    f = loss_of_flat_params(model, p0.cross_entropy, x, y)
    batched = batched_hessian_eigvalsh(torch.stack([theta, 0.5 * theta]), f)
    np.testing.assert_allclose(batched[0], p0.eigvalsh_dense(h), atol=1e-12)
    p0t.set_flat_parameters(model, 0.5 * theta)
    np.testing.assert_allclose(batched[1], p0.spectrum(model, x, y), atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_mlp_hessians_eigvalsh_equal_the_vmapped_torch_func_hessians(activation: str) -> None:
    """The MLP engine (P0 Fig 6's final Hessians) against vmap(torch.func.hessian), net by net, NaN rows kept."""
    from nnspectra.models.mlp import make_mlp

    x, y = (torch.as_tensor(a) for a in two_blobs(12, 0.3, 1))
    model = make_mlp([2, 4, 3, 2], activation, init="torch", seed=5, dtype=torch.float64)
    theta0 = torch.cat([q.detach().reshape(-1) for q in model.parameters()])
    gen = torch.Generator().manual_seed(2)
    theta = theta0 + 0.5 * torch.randn(5, theta0.numel(), generator=gen, dtype=torch.float64)
    theta[3] = float("nan")
    f = loss_of_flat_params(model, p0.cross_entropy, x, y)
    ref = batched_hessian_eigvalsh(theta, f, chunk=2)
    ours = mlp_hessians_eigvalsh(theta, model, p0.cross_entropy, x, y, chunk=2)
    assert np.isnan(ours[3]).all() and np.isfinite(np.delete(ours, 3, axis=0)).all()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.cat([q.detach().reshape(-1) for q in model.parameters()]), theta0)  # unchanged
    with pytest.raises(ValueError, match="needs an MLP"):
        mlp_hessians_eigvalsh(theta, torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1)), p0.cross_entropy, x, y)


def test_blob_width_run_outputs_are_consistent() -> None:
    x, y = two_blobs(15, 0.1, 0)
    run = p0.blob_width_run(x, y, 3, p0t.P0Train(lr=0.5, grad_norm_tol=1e-3, max_iterations=300),
                            p0t.P0Model(seed_offset=0, init_scale=0.5), 2)
    h = run["hessian_final"]
    assert h.shape == (29, 29) and np.allclose(h, h.T, atol=1e-14)
    np.testing.assert_allclose(np.linalg.eigvalsh(h), run["eig_final"], atol=1e-12)
    assert run["lambda_max"] == pytest.approx(run["eig_final"][-1])
    assert run["n_isolated"] == int(np.sum(run["eig_final"] > 0.1 * run["eig_final"][-1]))
    assert run["converged"] == (run["final_grad_norm"] <= 1e-3)


def test_blob_runs_read_their_settings() -> None:
    """The run seed draws the init through ``model.seed_for`` and the data through ``data.seed_for``; Fig 7's
    sweep is the width run of each std; MNIST's section caps GD with its own ``max_iterations``."""
    train = p0t.P0Train(lr=0.5, grad_norm_tol=1e-3, max_iterations=40)
    data, fig7 = p0t.P0Blobs(seed_offset=7, n_per_blob=10), p0.P0Fig7(stds=(0.3,), width=3)
    sweep = p0.blob_std_sweep(data, fig7, train, p0t.P0Model(seed_offset=2), 1)
    x, y = two_blobs(10, 0.3, 8)
    run = p0.blob_width_run(x, y, 3, train, p0t.P0Model(seed_offset=0), 3)
    assert sweep["eig_final"][0].tobytes() == run["eig_final"].tobytes() and sweep["iterations"][0] == run["iterations"]
    capped = p0m.P0Mnist(max_iterations=5).train_settings(train)
    assert capped == p0t.P0Train(lr=0.5, grad_norm_tol=1e-3, max_iterations=5)


def test_mnist_random_spectra_share_the_init() -> None:
    xm, ym = random_patterns(20, 16, 2, seed=0, distribution="uniform")
    xr, yr = random_patterns(20, 16, 2, seed=1)
    train, model = p0t.P0Train(max_iterations=5), p0t.P0Model(seed_offset=0)
    out = p0m.mnist_random_spectra(xm, ym, xr, yr, [3], train, model, 5, n_classes=2, heatmap_side=10)
    assert out["mnist"]["n_params"] == out["random"]["n_params"] == 17 * 3 + 4 * 2
    assert out["mnist"]["heatmap_final"].shape == (9, 9)  # P = 59: blocks of 6
    with pytest.raises(ConfigError, match="n_features"):
        p0m.mnist_random_spectra(xm, ym, xr[:, :8], yr, [3], train, model, 0, n_classes=2)


def test_coarse_grain_block_means() -> None:
    a = np.arange(36, dtype=float).reshape(6, 6)
    c = p0m.coarse_grain(a, max_side=3)
    assert c.shape == (3, 3) and c[0, 0] == pytest.approx(np.mean([0, 1, 6, 7]))
    assert np.array_equal(p0m.coarse_grain(a, 10), a)


def test_line_losses_end_points_and_flat_profile() -> None:
    x, y = _blobs_tensors()
    model = p0t.build_net(p0t.blob_sizes(3), seed=0)
    f = loss_of_flat_params(model, p0.cross_entropy, x, y)
    ta = torch.as_tensor(p0t.sphere_parameters(3, 29, 1.0, 0))
    tb = torch.as_tensor(p0t.sphere_parameters(3, 29, 1.0, 1))
    prof = line_losses(ta.numpy(), tb.numpy(), np.array([0.0, 0.5, 1.0]), f)
    np.testing.assert_allclose(prof[:, 0], [float(f(t)) for t in ta], rtol=1e-12)
    np.testing.assert_allclose(prof[:, 2], [float(f(t)) for t in tb], rtol=1e-12)
    np.testing.assert_allclose(prof[:, 1], [float(f(0.5 * (a + b))) for a, b in zip(ta, tb)], rtol=1e-12)
    same = line_losses(ta.numpy(), ta.numpy(), np.linspace(0, 1, 5), f)
    assert np.ptp(same, axis=1).max() < 1e-14


def test_interpolation_profiles_shapes_and_same_start() -> None:
    x, y = two_blobs(10, 0.1, 0)
    fig8 = p0t.P0Fig8(width=3, batch_size=5, steps=12, record_every=4)
    out = p0t.interpolation_profiles(x, y, fig8, p0t.P0Train(lr=0.5), p0t.P0Model(seed_offset=0), seed=0)
    assert out["steps"].tolist() == [0, 4, 8, 12] and out["gd_sgd"].shape == (4, 21)
    assert np.ptp(out["gd_sgd"][0]) < 1e-14  # step 0: GD and SGD start from the same init
    assert np.ptp(out["sgd_sgd"][0]) > 0  # two different inits


# -------------------------------------------------------------------------------------- metrics
def test_lambda_max_mode_ignores_a_few_extreme_nets() -> None:
    rng = np.random.default_rng(1)
    sample = np.concatenate([rng.normal(0.024, 0.003, 2000), np.full(15, 0.5), np.full(5, 1e-6)])
    assert pm.lambda_max_mode(sample) == pytest.approx(0.024, abs=0.0015)
    assert pm.lambda_max_mode(np.full(4, 0.03)) == pytest.approx(0.03)
    assert np.isnan(pm.lambda_max_mode(np.array([np.nan])))


def _planted(n_iso: int, p: int = 50, top: float = 0.03, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bulk = rng.uniform(-0.05 * top, 0.05 * top, p - n_iso)
    return np.sort(np.concatenate([bulk, np.linspace(0.6 * top, top, n_iso)]))


def test_predecessor_metrics_on_planted_inputs() -> None:
    widths = (2, 6, 10, 14, 18)
    fig4 = {0: {w: _planted(2, seed=w) for w in widths},
            1: {**{w: _planted(2, seed=w) for w in widths}, 10: _planted(3)},
            2: {w: _planted(2, seed=w) for w in widths[:3]}}  # two widths did not run
    rng = np.random.default_rng(0)
    lam6 = np.concatenate([rng.uniform(0.020, 0.0215, 600), rng.uniform(0.012, 0.05, 200), [0.001, 0.3]])
    fig7 = {0: dict(zip((0.2, 0.4, 0.6, 0.8, 1.0), (0.02, 0.06, 0.3, 0.95, 1.7))),
            1: dict(zip((0.2, 0.4, 0.6, 0.8, 1.0), (0.02, 0.01, 0.3, 0.95, 1.7))),
            2: dict(zip((0.2, 0.4, 0.6, 1.0), (0.02, 0.06, 0.3, 1.7)))}
    fig2 = {0: (np.array([-1.0, 0.0, 1.7]), np.array([-0.17, 0.29])), 3: (np.array([0.0, 1.0]), np.array([0.0, 1.0]))}
    m = pm.predecessor_metrics(fig4=fig4, fig6={7: lam6}, fig7=fig7, fig2=fig2).as_dict()
    assert m["isolated_pair_widths"]["values"] == [5, 4, 3] and m["isolated_pair_widths"]["seeds"] == [0, 1, 2]
    assert "[5, 5, 3]" in m["isolated_pair_widths"]["description"]
    mode = m["lambda_max_mode"]["values"][0]
    lo, hi = np.percentile(lam6, [1, 99])
    width = (hi - lo) / 40
    assert 0.020 - width <= mode <= 0.0215 + width and m["lambda_max_mode"]["seeds"] == [7]
    assert width < 0.001  # the two extreme nets (0.001, 0.3) do not set the bin width
    assert m["lambda_max_mass_in_band"]["values"] == [pytest.approx(800 / 802)]
    assert m["lambda_max_monotone_in_std"]["values"] == [1.0, 0.0, 0.0]
    assert m["lambda_max_ratio_std1_std02"]["values"] == pytest.approx([85.0, 85.0, 85.0])
    assert m["init_width_ratio_mnist_random"]["values"] == pytest.approx([2.7 / 0.46, 1.0])
    for name, entry in m.items():
        assert set(entry) == {"values", "seeds", "unit", "description", "evidence"}
        assert len(entry["values"]) == len(entry["seeds"])
    # the evidence the claims' `requires` read: only what ran for every seed counts
    assert m["isolated_pair_widths"]["evidence"]["widths"] == sorted(w for w in fig4[0] if all(w in fig4[s] for s in fig4))
    assert m["lambda_max_mode"]["evidence"] == {"seeds": 1, "initialisations": lam6.size}
    assert m["init_width_ratio_mnist_random"]["evidence"] == {"seeds": 2}
    assert pm.predecessor_metrics().as_dict() == {}
    assert set(pm.predecessor_metrics(fig6={0: lam6}).names()) == {"lambda_max_mode", "lambda_max_mass_in_band"}


def test_metric_names_are_the_claims() -> None:
    import yaml

    from nnspectra.claims import __file__ as claims_init

    claims = yaml.safe_load((Path(claims_init).parent / "predecessor.yaml").read_text())
    wanted = {c["metric"].split(".", 1)[1] for c in claims}
    planted = {w: _planted(2) for w in (2, 6, 10, 14, 18)}
    m = pm.predecessor_metrics(fig4={0: planted}, fig6={0: np.array([0.02, 0.03])},
                      fig7={0: dict(zip((0.2, 0.4, 0.6, 0.8, 1.0), (1.0, 2.0, 3.0, 4.0, 5.0)))},
                      fig2={0: (np.array([0.0, 2.0]), np.array([0.0, 1.0]))}).as_dict()
    assert set(m) == wanted


# -------------------------------------------------------------------------------------- figures
def _png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_figures_render(tmp_path: Path) -> None:
    from nnspectra.plotting.sagun2016 import predecessor as plots

    rng = np.random.default_rng(0)
    spec = {p: _planted(2, p=p) for p in (18, 74, 162)}
    plots.plot_fig1({"n=10": rng.normal(size=300), "n=30": rng.normal(size=500)}, rng.normal(size=(40, 40)),
                    tmp_path / "fig1.png", "test", heatmap_label="n=10")
    plots.plot_fig2({"mnist": {"init": rng.normal(size=100), "final": rng.normal(size=100)},
                     "random": {"init": 0.1 * rng.normal(size=100), "final": 0.01 * rng.normal(size=100)}},
                    tmp_path / "fig2.png", "test")
    plots.plot_fig4(spec, tmp_path / "fig4.png", "test")
    plots.plot_fig5({p: rng.normal(size=(p, p)) for p in (18, 74)}, tmp_path / "fig5.png", "test")
    lam = rng.uniform(0.01, 0.04, 300)
    plots.plot_fig6(lam, tmp_path / "fig6.png", "test", mode=pm.lambda_max_mode(lam), band=(0.012, 0.05),
                    at_tolerance={1e-2: 10 * lam, 1e-3: lam}, final_tolerance=1e-4)
    plots.plot_fig7({0.2: _planted(2), 1.0: _planted(2, top=1.7)}, tmp_path / "fig7.png", "test")
    prof = np.exp(-np.linspace(0, 3, 30))[:, None] * (1 + 0.1 * rng.uniform(size=(30, 11)))
    plots.plot_fig8(np.linspace(0, 1, 11), np.arange(30), {"GD vs SGD": prof, "SGD vs SGD": prof},
                    tmp_path / "fig8.png", "test")
    for i in range(1, 9):
        if i != 3:
            _png(tmp_path / f"fig{i}.png")
