"""Real-data experiments of Sagun et al. (2018) §4: spectra, metrics and every stage at toy scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import functional_call

from nnspectra.curvature.spectrum import SpectrumSettings, hessian_spectrum as _hessian_spectrum, spectrum_arrays
from nnspectra.data.vision import cifar_sets, mnist_subset
from nnspectra.errors import ConfigError
from nnspectra.experiments.sagun2018 import cifar as cf
from nnspectra.experiments.sagun2018 import lbsb
from nnspectra.experiments.sagun2018 import lbsb_training as lbt
from nnspectra.experiments.sagun2018 import mnist as mw
from nnspectra.experiments.sagun2018 import mnist_training as mwt
from nnspectra.experiments.sagun2018.mp import MpSettings, mp_metrics, run_mp_appendix
from nnspectra.experiments.sagun2018.realdata_metrics import realdata_record
from nnspectra.pipeline.io import load_arrays, load_json, load_model, save_arrays, save_json, save_model, save_table
from nnspectra.training.evaluate import cross_entropy
from nnspectra.training.interpolation import paper_alphas

from fakedata import write_fake_cifar, write_fake_mnist

CURV = {"method": "dense", "dtype": "float64", "top_k": 8, "bottom_k": 8, "max_dense_params": 10_000, "chunk": 64,
        "lanczos_tol": 1e-10, "lanczos_maxiter": 5000}


def _toy(seed: int = 0, n: int = 40, d: int = 6, width: int = 5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    model = mwt.build_mlp(d, width, mwt.MlpModel(activation="relu", init="normal", init_scale=0.5), seed)
    return model, x, y


def hessian_spectrum(model, x, y, curv, memory_budget_gb=None):
    """The spectrum step with the cross-entropy loss and settings from a config-like dict."""
    return _hessian_spectrum(model, cross_entropy, x, y, SpectrumSettings(**curv), memory_budget_gb)


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
    spec = hessian_spectrum(model, x, y, CURV)
    ref = _reference_eigs(model, x, y)
    assert spec["method"] == "dense" and spec["n_params"] == ref.size == 6 * 5 + 5 + 5 * 10 + 10
    assert np.allclose(spec["eigenvalues"], ref, atol=1e-12)
    assert np.allclose(spec["top"], ref[::-1][:8]) and np.allclose(spec["bottom"], ref[:8])
    assert spec["n_negative"] == int(np.sum(ref < -spec["negative_tolerance"]))
    assert spec["negative_count_exact"]


def test_lanczos_edges_match_dense():
    model, x, y = _toy(seed=1)
    dense = hessian_spectrum(model, x, y, CURV)
    lanczos = hessian_spectrum(model, x, y, {**CURV, "method": "lanczos", "top_k": 4, "bottom_k": 3})
    assert lanczos["method"] == "lanczos" and lanczos["eigenvalues"].size == 0
    assert np.allclose(lanczos["top"], dense["top"][:4], rtol=1e-7, atol=1e-10)
    assert np.allclose(lanczos["bottom"], dense["bottom"][:3], rtol=1e-7, atol=1e-10)


def test_auto_falls_back_to_lanczos_when_dense_does_not_fit():
    model, x, y = _toy(seed=2)
    spec = hessian_spectrum(model, x, y, {**CURV, "method": "auto", "top_k": 2, "bottom_k": 2, "lanczos_tol": 1e-6},
                               memory_budget_gb=1e-9)
    assert spec["method"] == "lanczos"
    spec = hessian_spectrum(model, x, y, {**CURV, "method": "auto", "max_dense_params": 10, "top_k": 2,
                                             "bottom_k": 2, "lanczos_tol": 1e-6})
    assert spec["method"] == "lanczos"
    with pytest.raises(ConfigError):
        hessian_spectrum(model, x, y, {**CURV, "method": "power"})


def test_auto_on_a_convnet_picks_dense_or_lanczos_by_budget_and_both_agree(caplog):
    """method: auto on a tiny convnet: dense under a big budget, Lanczos (torch, on HessianProducts) under a
    tiny one; the choice and its reason are logged and recorded; both give the same edges (float64)."""
    import logging

    model = lbt.build_convnet(12, lbt.ConvnetModel(channels=(2, 3), kernel=3, hidden=6), 0)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(30, 1, 12, 12, generator=gen), torch.randint(0, 10, (30,), generator=gen)
    auto = {**CURV, "method": "auto", "top_k": 4, "bottom_k": 3, "lanczos_tol": 1e-12}
    with caplog.at_level(logging.INFO, logger="nnspectra.curvature.spectrum"):
        dense = hessian_spectrum(model, x, y, auto, memory_budget_gb=8.0)
    assert dense["method"] == "dense" and dense["eigenvalues"].size == dense["n_params"]
    assert "auto -> dense" in dense["method_reason"] and "<=" in dense["method_reason"]
    assert any("auto -> dense" in r.getMessage() for r in caplog.records)
    tiny = 2 * dense["n_params"] ** 2 * 8 / 2**30 / 2  # half of what the dense spectrum needs
    lanczos = hessian_spectrum(model, x, y, auto, memory_budget_gb=tiny)
    assert lanczos["method"] == "lanczos" and "auto -> lanczos" in lanczos["method_reason"]
    assert lanczos["hvps"] > 0 and lanczos["eigenvalues"].size == 0
    scale = np.abs(dense["eigenvalues"]).max()
    np.testing.assert_allclose(lanczos["top"], dense["top"][:4], rtol=1e-9, atol=1e-10 * scale)
    np.testing.assert_allclose(lanczos["bottom"], dense["bottom"][:3], rtol=1e-9, atol=1e-10 * scale)
    arrays = spectrum_arrays(lanczos)  # the reason quotes the machine's memory: sidecar only, not the result file
    assert "method_reason" not in arrays and str(arrays["method"]) == "lanczos"


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
    m = mw.mnist_width_metrics(specs, compare_top=20, outlier_tau=10.0, window=120)
    assert m["top20_max_rel_dev"] == pytest.approx(0.1)
    assert m["lambda_max_min"] == pytest.approx(0.1) and m["lambda_max_max"] == pytest.approx(0.11)
    assert m["neg_frac_pct_n10"] == pytest.approx(1.1) and m["neg_frac_pct_n30"] == pytest.approx(1.0)
    assert m["neg_frac_spread_pp"] == pytest.approx(0.1)
    assert m["outliers_n10"] == m["outliers_n30"] == 10 and m["outlier_count_change"] == 0
    assert m["min_over_max_ratio"] == pytest.approx(3e-5 / 0.11)
    lanczos = {10: _fake_spec(top, [-1e-5] * 3, 1000, exact=False)}
    assert np.isnan(mw.mnist_width_metrics(lanczos)["neg_frac_mean_pct"])


def test_lbsb_metrics():
    lam = np.r_[np.linspace(20, 5, 9), np.full(31, 0.3)]
    lb = _fake_spec(lam, [-0.007], 100)
    sb = _fake_spec(lam / 4, [-0.034], 100)
    m = lbsb.lbsb_metrics(lb, sb, rule="gap", window=40)
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
    m = cf.cifar_metrics(part1, part2, interp)
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
    """Every real-data stage as the workflow chains them (train -> spectrum -> analysis -> metrics)."""
    data = mwt.MnistData(per_class=4, subset_seed=0, image_size=14)
    x, y = mnist_subset(fake_root, False, data.per_class, data.subset_seed, data.image_size)
    model_cfg = mwt.MlpModel(activation="relu", init="normal", init_scale=0.1)
    train = mwt.GDTrain(lr=0.1, iterations=30, batch_size=None, grad_norm_tol=None, log_every=10)
    curv = SpectrumSettings(**{**CURV, "bottom_k": 50, "top_k": 20})
    spectra = {}
    for width in (2, 3):
        d = tmp_path / f"n{width}" / "seed0"
        model, history = mwt.train_mnist_mlp(x, y, width, model_cfg, train, 0)
        save_model(model, d / "model.pt", width=width, seed=0)
        save_table(history, d / "history.csv")
        hist = pd.read_csv(d / "history.csv")
        assert hist["step"].iloc[-1] == 30 and hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
        flat = x.reshape(len(x), -1)
        loaded = load_model(mwt.build_mlp(flat.shape[1], width, model_cfg, 0), d / "model.pt")
        spec = _hessian_spectrum(loaded, cross_entropy, flat, y, curv)
        assert spec["n_params"] == 207 * width + 10  # (196 + 1) n + (n + 1) 10
        save_arrays(d / "spectrum.npz", width=width, **spectrum_arrays(spec))
        spectra[width] = load_arrays(d / "spectrum.npz")
    analyses = {"mnist": {0: mw.mnist_width_metrics(spectra, compare_top=5, outlier_tau=10.0, window=20)}}
    data28 = mwt.MnistData(per_class=4, subset_seed=0, image_size=28)
    x28, y28 = mnist_subset(fake_root, False, data28.per_class, data28.subset_seed, data28.image_size)
    conv = lbt.ConvnetModel(channels=(2, 3), kernel=5, hidden=4)
    lbsb_train = lbt.LbsbTrain(lr=0.05, iterations=20, batch_lb=20, batch_sb=4, schedule="shuffle", log_every=10)
    lbsb_curv = SpectrumSettings(**{**CURV, "method": "lanczos", "dtype": "float32", "top_k": 6, "bottom_k": 3,
                                    "lanczos_tol": 1e-4})
    pair = {}
    for regime in ("lb", "sb"):
        d = tmp_path / regime / "seed0"
        model, _ = lbt.train_lbsb_convnet(x28, y28, lbsb_train.batch_size(regime), conv, lbsb_train, 0)
        save_model(model, d / "model.pt")
        loaded = load_model(lbt.build_convnet(28, conv, 0), d / "model.pt")
        save_arrays(d / "spectrum.npz", regime=regime,
                    **spectrum_arrays(_hessian_spectrum(loaded, cross_entropy, x28, y28, lbsb_curv)))
        arrays = load_arrays(d / "spectrum.npz")
        assert arrays["top"].size == 6 and np.all(np.diff(arrays["top"]) <= 0)
        pair[regime] = arrays
    analyses["lbsb"] = {0: lbsb.lbsb_metrics(pair["lb"], pair["sb"], "elbow", 6)}
    sets = cifar_sets(fake_root, False, False, 20, 20, 0)
    alex = cf.AlexNetModel(channels=(2, 2), hidden=(4, 4))
    ctrain = cf.CifarTrain(lr=0.01, batch_lb=10, batch_sb=2, steps_per_part=6, record_every=3, schedule="shuffle",
                           eval_batch=7, checkpoint_every=2)
    c = tmp_path / "cifar" / "seed0"
    c.mkdir(parents=True)
    model = cf.build_alexnet(alex, 0)
    h1 = cf.train_cifar_part(sets, model, 1, ctrain, 0, checkpoint_path=c / "p1.ckpt")
    save_model(model, c / "part1.pt")
    model2 = load_model(cf.build_alexnet(alex, 0), c / "part1.pt")
    h2 = cf.train_cifar_part(sets, model2, 2, ctrain, 0, checkpoint_path=c / "p2.ckpt")
    save_model(model2, c / "part2.pt")
    assert list(h1["step"]) == [0, 3, 6] and list(h2["step"]) == [6, 9, 12]
    assert h2["train_loss"].iloc[0] == pytest.approx(h1["train_loss"].iloc[-1], rel=1e-6)  # Part II starts at Part I
    assert not (c / "p1.ckpt").exists()  # checkpoints are removed after a finished run
    a = load_model(cf.build_alexnet(alex, 0), c / "part1.pt")
    b = load_model(cf.build_alexnet(alex, 0), c / "part2.pt")
    frame = cf.interpolate_cifar(sets, a, b, paper_alphas(-1.0, 2.0, 4), ctrain.eval_batch)
    assert list(frame["alpha"]) == [-1.0, 0.0, 1.0, 2.0]
    assert frame["train_loss"].iloc[1] == pytest.approx(h1["train_loss"].iloc[-1], rel=1e-5)
    assert frame["test_acc"].iloc[2] == pytest.approx(h2["test_acc"].iloc[-1])
    analyses["cifar"] = {0: cf.cifar_metrics(h1, h2, frame)}
    mp = MpSettings(n_samples=40, ratios=(0.5,), two_blob_ratios=(0.5, 1.0), blob_distance=3.0, outlier_factor=10.0,
                    bins=10)
    spectra_mp = run_mp_appendix(mp, 0)
    analyses["mp"] = {0: mp_metrics(spectra_mp, mp.ratios, mp.two_blob_ratios)}
    save_json(tmp_path / "metrics.json", realdata_record(analyses).as_dict(sort=True))
    loaded = load_json(tmp_path / "metrics.json")
    for name in ("mnist_top20_max_rel_dev", "lbsb_lambda_max_ratio_lb_sb", "cifar_barrier_train_loss", "mp_ks_max"):
        assert loaded[name]["seeds"] == [0] and len(loaded[name]["values"]) == 1 and loaded[name]["description"]


def test_width_agreement_compares_every_pair_of_widths():
    """SPEC's "agree across n": the largest deviation over every pair, not only against the narrowest net."""
    top = np.r_[np.linspace(0.1, 0.01, 10), np.full(110, 1e-4)]
    specs = {10: _fake_spec(top, [-1e-5, 0.0], 1000), 30: _fake_spec(top * 1.2, [-1e-5, 0.0], 3000),
             50: _fake_spec(top * 0.9, [-1e-5, 0.0], 5000)}
    m = mw.mnist_width_metrics(specs, compare_top=20, outlier_tau=10.0, window=120)
    assert m["top20_max_rel_dev"] == pytest.approx(0.3 / 1.2)   # 30 vs 50; each against n = 10 is <= 0.2
    assert np.isnan(m["neg_closest_n10"])                      # planted records without the edge pair


def test_cifar_training_layout_is_deterministic_and_returns_a_default_layout_model(fake_root):
    """channels_last (the measured-fastest CPU layout) trains the same bytes twice, lands within float32 rounding
    of the contiguous layout, runs its convolutions in NHWC and hands back a default-layout model."""
    sets = cifar_sets(fake_root, False, False, 20, 20, 0)
    alex = cf.AlexNetModel(channels=(3, 4), hidden=(5, 4))
    runs = {}
    for name, layout in (("nhwc", "channels_last"), ("nhwc2", "channels_last"), ("nchw", "contiguous")):
        ctrain = cf.CifarTrain(lr=0.05, batch_lb=6, steps_per_part=5, record_every=5, eval_batch=7,
                               checkpoint_every=None, memory_format=layout)
        model = cf.build_alexnet(alex, 0)
        if name == "nhwc":
            seen = []
            model[0].register_forward_hook(lambda m, i, o: seen.append(o.is_contiguous(memory_format=torch.channels_last)))
        cf.train_cifar_part(sets, model, 1, ctrain, 0)
        runs[name] = torch.cat([p.detach().flatten() for p in model.parameters()])
        assert all(p.is_contiguous() for p in model.parameters())
        if name == "nhwc":
            assert seen and all(seen)
    assert torch.equal(runs["nhwc"], runs["nhwc2"])
    torch.testing.assert_close(runs["nhwc"], runs["nchw"], rtol=1e-4, atol=1e-5)
