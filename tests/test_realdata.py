"""Real-data experiments of Sagun et al. (2018) §4: spectra, metrics and every stage at toy scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import functional_call

from nnspectra.errors import ConfigError
from nnspectra.experiments import realdata as rd
from nnspectra.io import load_arrays, load_json

from fakedata import write_fake_cifar, write_fake_mnist

CURV = {"method": "dense", "dtype": "float64", "top_k": 8, "bottom_k": 8, "max_dense_params": 10_000, "chunk": 64,
        "lanczos_tol": 1e-10, "lanczos_maxiter": 5000}


def _toy(seed: int = 0, n: int = 40, d: int = 6, width: int = 5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    model = rd.build_mlp(d, width, {"activation": "relu", "init": "normal", "init_scale": 0.5}, seed)
    return model, x, y


def _reference_eigs(model, x, y) -> np.ndarray:
    """Hessian by torch.func.hessian over the parameter dict (an independent code path)."""
    m = model.double()
    params = {k: v.detach() for k, v in m.named_parameters()}
    names = list(params)

    def loss(*flat):
        out = functional_call(m, dict(zip(names, flat)), (x.double(),))
        return torch.nn.functional.cross_entropy(out, y)

    blocks = torch.func.hessian(loss, argnums=tuple(range(len(names))))(*params.values())
    rows = [torch.cat([blocks[i][j].reshape(params[names[i]].numel(), -1) for j in range(len(names))], 1)
            for i in range(len(names))]
    return np.linalg.eigvalsh(torch.cat(rows, 0).numpy())


def test_dense_spectrum_matches_torch_func_hessian():
    model, x, y = _toy()
    spec = rd.hessian_spectrum(model, x, y, CURV)
    ref = _reference_eigs(model, x, y)
    assert spec["method"] == "dense" and spec["n_params"] == ref.size == 6 * 5 + 5 + 5 * 10 + 10
    assert np.allclose(spec["eigenvalues"], ref, atol=1e-12)
    assert np.allclose(spec["top"], ref[::-1][:8]) and np.allclose(spec["bottom"], ref[:8])
    assert spec["n_negative"] == int(np.sum(ref < -spec["negative_tolerance"]))
    assert spec["negative_count_exact"]


def test_lanczos_edges_match_dense():
    model, x, y = _toy(seed=1)
    dense = rd.hessian_spectrum(model, x, y, CURV)
    lanczos = rd.hessian_spectrum(model, x, y, {**CURV, "method": "lanczos", "top_k": 4, "bottom_k": 3})
    assert lanczos["method"] == "lanczos" and lanczos["eigenvalues"].size == 0
    assert np.allclose(lanczos["top"], dense["top"][:4], rtol=1e-7, atol=1e-10)
    assert np.allclose(lanczos["bottom"], dense["bottom"][:3], rtol=1e-7, atol=1e-10)


def test_auto_falls_back_to_lanczos_when_dense_does_not_fit():
    model, x, y = _toy(seed=2)
    spec = rd.hessian_spectrum(model, x, y, {**CURV, "method": "auto", "top_k": 2, "bottom_k": 2, "lanczos_tol": 1e-6},
                               memory_budget_gb=1e-9)
    assert spec["method"] == "lanczos"
    spec = rd.hessian_spectrum(model, x, y, {**CURV, "method": "auto", "max_dense_params": 10, "top_k": 2,
                                             "bottom_k": 2, "lanczos_tol": 1e-6})
    assert spec["method"] == "lanczos"
    with pytest.raises(ConfigError):
        rd.hessian_spectrum(model, x, y, {**CURV, "method": "power"})


def _fake_spec(top, bottom, p, eigs=None, exact=True, n_neg=None):
    bottom = np.asarray(bottom, dtype=float)
    return {"top": np.asarray(top, dtype=float), "bottom": bottom, "n_params": np.asarray(p),
            "eigenvalues": np.asarray(eigs if eigs is not None else []), "negative_tolerance": np.asarray(1e-12),
            "n_negative": np.asarray(n_neg if n_neg is not None else int(np.sum(bottom < 0))),
            "negative_count_exact": np.asarray(exact), "method": np.asarray("dense")}


def test_width_metrics_on_planted_spectra():
    top = np.r_[np.linspace(0.1, 0.01, 10), np.full(110, 1e-4)]
    specs = {10: _fake_spec(top, [-2e-5, -1e-5, 0.0], 1000, n_neg=11),
             30: _fake_spec(top * 1.1, [-3e-5, 0.0], 3000, n_neg=30)}
    m = rd.mnist_width_metrics(specs, compare_top=20, outlier_tau=10.0, window=120)
    assert m["top20_max_rel_dev"] == pytest.approx(0.1)
    assert m["lambda_max_min"] == pytest.approx(0.1) and m["lambda_max_max"] == pytest.approx(0.11)
    assert m["neg_frac_pct_n10"] == pytest.approx(1.1) and m["neg_frac_pct_n30"] == pytest.approx(1.0)
    assert m["neg_frac_spread_pp"] == pytest.approx(0.1)
    assert m["outliers_n10"] == m["outliers_n30"] == 10 and m["outlier_count_change"] == 0
    assert m["min_over_max_ratio"] == pytest.approx(3e-5 / 0.11)
    lanczos = {10: _fake_spec(top, [-1e-5] * 3, 1000, exact=False)}
    assert np.isnan(rd.mnist_width_metrics(lanczos)["neg_frac_mean_pct"])


def test_lbsb_metrics():
    lam = np.r_[np.linspace(20, 5, 9), np.full(31, 0.3)]
    lb = _fake_spec(lam, [-0.007], 100)
    sb = _fake_spec(lam / 4, [-0.034], 100)
    m = rd.lbsb_metrics(lb, sb, rule="gap", window=40)
    assert m["lambda_max_ratio_lb_sb"] == pytest.approx(4.0)
    assert m["count_lb"] == m["count_sb"] == 9 and m["count_diff"] == 0
    assert m["pos_neg_ratio_min"] == pytest.approx(5 / 0.034)


def test_cifar_metrics_on_synthetic_histories():
    part1 = pd.DataFrame({"step": [0, 100, 200], "train_loss": [2.3, 0.5, 0.01], "test_acc": [0.1, 0.7, 0.745],
                          "test_loss": [2.3, 1.0, 1.2], "train_acc": [0.1, 0.9, 1.0]})
    part2 = pd.DataFrame({"step": [200, 300, 400], "train_loss": [0.01, 0.6, 0.02], "test_acc": [0.745, 0.71, 0.755],
                          "test_loss": [1.2, 1.0, 1.9], "train_acc": [1.0, 0.85, 1.0]})
    a = np.linspace(-1, 2, 22)
    interp = pd.DataFrame({"alpha": a, "train_loss": np.where(a < 0, 5.3 * a**2, 0.0) + 0.01,
                           "test_acc": 0.745 + 0.01 * np.clip(a, 0, 1), "test_loss": 1.6 + 0.3 * a})
    m = rd.cifar_metrics(part1, part2, interp)
    assert m["switch_train_loss_jump"] == pytest.approx(0.59)
    assert m["switch_test_acc_dip_pp"] == pytest.approx(3.5)
    assert m["test_acc_gain_pp"] == pytest.approx(1.0)
    assert m["barrier_train_loss"] == pytest.approx(0.0)
    assert m["test_acc_monotone_violation_pp"] == pytest.approx(0.0, abs=1e-12)
    assert m["train_loss_ratio_m1_over_2"] == pytest.approx(5.31 / 0.01)


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_fake_mnist(root, n_per_class=6)
    write_fake_cifar(root, n_per_class=3)
    return root


def test_all_stages_at_toy_scale(fake_root, tmp_path):
    glob = {"data_dir": str(fake_root), "download": False, "device": "cpu", "memory_budget_gb": None}
    data = {"per_class": 4, "subset_seed": 0, "image_size": 14}
    mnist_cfg = {**glob, "realdata.mnist.data": data,
                 "realdata.mnist.model": {"activation": "relu", "init": "normal", "init_scale": 0.1},
                 "realdata.mnist.train": {"lr": 0.1, "iterations": 30, "batch_size": None, "grad_norm_tol": None,
                                          "log_every": 10},
                 "realdata.mnist.curvature": {**CURV, "bottom_k": 50, "top_k": 20}}
    paths = []
    for width in (2, 3):
        d = tmp_path / f"n{width}" / "seed0"
        rd.stage_mnist_train(mnist_cfg, width, 0, str(d / "model.pt"), str(d / "history.csv"))
        hist = pd.read_csv(d / "history.csv")
        assert hist["step"].iloc[-1] == 30 and hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
        spec = rd.stage_mnist_spectrum(mnist_cfg, width, 0, str(d / "model.pt"), str(d / "spectrum.npz"))
        assert spec["n_params"] == 207 * width + 10  # (196 + 1) n + (n + 1) 10
        paths.append(str(d / "spectrum.npz"))
    lbsb_cfg = {**glob, "realdata.lbsb.data": {**data, "image_size": 28},
                "realdata.lbsb.model": {"channels": [2, 3], "kernel": 5, "hidden": 4},
                "realdata.lbsb.train": {"lr": 0.05, "iterations": 20, "batch_lb": 20, "batch_sb": 4,
                                        "schedule": "shuffle", "log_every": 10},
                "realdata.lbsb.curvature": {**CURV, "method": "lanczos", "dtype": "float32", "top_k": 6,
                                            "bottom_k": 3, "lanczos_tol": 1e-4}}
    lb_paths = []
    for regime in ("lb", "sb"):
        d = tmp_path / regime / "seed0"
        rd.stage_lbsb_train(lbsb_cfg, regime, 0, str(d / "model.pt"), str(d / "history.csv"))
        rd.stage_lbsb_spectrum(lbsb_cfg, regime, 0, str(d / "model.pt"), str(d / "spectrum.npz"))
        arrays = load_arrays(d / "spectrum.npz")
        assert arrays["top"].size == 6 and np.all(np.diff(arrays["top"]) <= 0)
        lb_paths.append(str(d / "spectrum.npz"))
    cifar_cfg = {**glob, "realdata.cifar.data": {"n_train": 20, "n_test": 20, "subset_seed": 0,
                                                 "skip_archive_md5": True},
                 "realdata.cifar.model": {"channels": [2, 2], "hidden": [4, 4]},
                 "realdata.cifar.train": {"lr": 0.01, "batch_lb": 10, "batch_sb": 2, "steps_per_part": 6,
                                          "record_every": 3, "schedule": "shuffle", "eval_batch": 7,
                                          "checkpoint_every": 2},
                 "realdata.cifar.interpolation": {"alpha_min": -1.0, "alpha_max": 2.0, "points": 4}}
    c = tmp_path / "cifar" / "seed0"
    rd.stage_cifar_part(cifar_cfg, 1, 0, str(c / "part1.pt"), str(c / "history1.csv"), checkpoint=str(c / "p1.ckpt"))
    rd.stage_cifar_part(cifar_cfg, 2, 0, str(c / "part2.pt"), str(c / "history2.csv"),
                        start_model=str(c / "part1.pt"), checkpoint=str(c / "p2.ckpt"))
    h1, h2 = pd.read_csv(c / "history1.csv"), pd.read_csv(c / "history2.csv")
    assert list(h1["step"]) == [0, 3, 6] and list(h2["step"]) == [6, 9, 12]
    assert h2["train_loss"].iloc[0] == pytest.approx(h1["train_loss"].iloc[-1], rel=1e-6)  # Part II starts at Part I
    assert not (c / "p1.ckpt").exists()  # checkpoints are removed after a finished run
    frame = rd.stage_cifar_interp(cifar_cfg, 0, str(c / "part1.pt"), str(c / "part2.pt"), str(c / "interpolation.csv"))
    assert list(frame["alpha"]) == [-1.0, 0.0, 1.0, 2.0]
    assert frame["train_loss"].iloc[1] == pytest.approx(h1["train_loss"].iloc[-1], rel=1e-5)
    assert frame["test_acc"].iloc[2] == pytest.approx(h2["test_acc"].iloc[-1])
    from nnspectra.experiments.mp_appendix import run_mp_appendix
    from nnspectra.io import save_arrays, save_json

    mp_cfg = {"n_samples": 40, "ratios": [0.5], "two_blob_ratios": [0.5, 1.0], "blob_distance": 3.0,
              "outlier_factor": 10.0, "bins": 10}
    save_arrays(tmp_path / "mp" / "seed0" / "mp.npz", **run_mp_appendix(mp_cfg, 0))
    cfg = {"realdata.mnist.analysis": {"compare_top": 5, "outlier_tau": 10.0, "window": 20},
           "realdata.lbsb.analysis": {"count_rule": "elbow", "window": 6}, "realdata.mp": mp_cfg}
    record = rd.collect_metrics(cfg, paths, lb_paths, [str(c / f) for f in ("history1.csv", "history2.csv",
                                                                             "interpolation.csv")],
                                [str(tmp_path / "mp" / "seed0" / "mp.npz")])
    save_json(tmp_path / "metrics.json", record)
    loaded = load_json(tmp_path / "metrics.json")
    for name in ("mnist_top20_max_rel_dev", "lbsb_lambda_max_ratio_lb_sb", "cifar_barrier_train_loss", "mp_ks_max"):
        assert loaded[name]["seeds"] == [0] and len(loaded[name]["values"]) == 1 and loaded[name]["description"]
