"""Spectral-evolution experiment (Wang et al. 2023): data, model, training wiring, metrics, figures, claims."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nnspectra.claims.schema import parse_claims
from nnspectra.data.teacher import mnist_regression, single_index_teacher
from nnspectra.errors import ConfigError, DataNotFoundError
from nnspectra.experiments.wang2023.evolution import (
    EvoAnalysis,
    EvoData,
    EvoModel,
    EvoRun,
    eta_star,
    make_dataset,
    run_evolution,
    run_scaling,
    train_with_checkpoints,
)
from nnspectra.experiments.wang2023.evolution_metrics import EvoClaims, claim_metrics, group_summaries, summary_table
from nnspectra.models.linear_width import LinearWidthMLP

DATA = EvoData(kind="teacher", n_train=40, n_test=30, dim=20, noise_std=0.3)
MODEL = EvoModel(width=30, activation="tanh", init_std=1.0, dtype="float64")
ANALYSIS = EvoAnalysis(checkpoints=(0, 1, 10, 100), outlier_factor=1.2, min_tail=5)
RUNS = {
    "gd_small": EvoRun(regime="invariant", optimizer="gd", lr=0.1, steps=12, batch_size=None, train_a=False),
    "sgd_small": EvoRun(regime="sgd", optimizer="sgd", lr=0.1, steps=6, batch_size=8, train_a=False),
    "gd_large": EvoRun(regime="spike", optimizer="gd", lr="eta_star", lr_factor=1.0, steps=3, batch_size=None,
                       train_a=False),
    "adam": EvoRun(regime="heavy_tail", optimizer="adam", lr=0.5, steps=3, batch_size=None, train_a=True),
}
CLAIMS = {"dataset": "teacher", "real_dataset": None, "gd_small": "gd_small", "sgd_small": "sgd_small",
          "gd_large": "gd_large", "adam": "adam"}
MODEL_CFG = {"width": 30, "activation": "tanh", "init_std": 1.0, "dtype": "float64"}  # as the plots receive it
ANALYSIS_CFG = {"checkpoints": [0, 1, 10, 100], "outlier_factor": 1.2, "min_tail": 5}


def test_teacher_data_shapes_unit_beta_and_determinism() -> None:
    data = single_index_teacher(50, 20, 10, noise_std=0.0, seed=3)
    assert data.x_train.shape == (50, 10) and data.x_test.shape == (20, 10)
    assert np.linalg.norm(data.beta) == pytest.approx(1.0)
    np.testing.assert_allclose(data.y_train, np.logaddexp(0.0, data.x_train @ data.beta))
    again = single_index_teacher(50, 20, 10, noise_std=0.0, seed=3)
    np.testing.assert_array_equal(data.x_train, again.x_train)
    with pytest.raises(ConfigError, match="positive"):
        single_index_teacher(0, 1, 1)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture()
def tiny_mnist(tmp_path: Path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for images, labels, n in (("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60),
                              ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 40)):
        lab = np.arange(n) % 10
        img = rng.integers(0, 256, size=(n, 28, 28))  # MNIST files are 28x28 (the loader checks)
        img[:, 0, 0] = 7  # a constant pixel: standardisation must not divide by zero
        _write_idx(raw / images, img)
        _write_idx(raw / labels, lab)
    return tmp_path


def test_mnist_regression(tiny_mnist: Path) -> None:
    data = mnist_regression(20, 10, data_dir=tiny_mnist, target="parity", seed=0)
    assert data.x_train.shape == (20, 784) and data.x_test.shape == (10, 784)
    assert np.all(np.isfinite(data.x_train))
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    assert set(np.unique(data.y_train)) == {-1.0, 1.0} and data.y_train.sum() == 0  # class-balanced
    assert np.linalg.norm(data.beta) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="divisible"):
        mnist_regression(15, 10, data_dir=tiny_mnist)


def test_missing_mnist_is_one_readable_line(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="MNIST files missing from") as info:
        mnist_regression(20, 10, data_dir=tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["mnist", "cifar10"])
def test_evolution_datasets_honour_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """config ``download`` reaches the evolution runs' loaders (it used to stop at "download is off")."""
    from torchvision import datasets
    from torchvision.datasets import utils

    def offline(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("Error downloading:\nTried mirror, got: no network here")

    monkeypatch.setattr(datasets.MNIST, "download", offline)
    monkeypatch.setattr(utils, "download_and_extract_archive", offline)
    data = EvoData(kind=kind, n_train=20, n_test=10)
    with pytest.raises(DataNotFoundError, match="download is off"):
        make_dataset(data, 0, data_dir=str(tmp_path))
    with pytest.raises(DataNotFoundError, match="download failed: .*no network here"):
        make_dataset(data, 0, data_dir=str(tmp_path), download=True)


def test_real_mnist_files_when_present(shared_data_dir: Path | None) -> None:
    if shared_data_dir is None or not (shared_data_dir / "MNIST" / "raw").is_dir():
        pytest.skip("shared MNIST not present")
    data = mnist_regression(100, 50, data_dir=shared_data_dir, seed=1)
    assert data.x_train.shape == (100, 784)


def test_eta_star_matches_closed_form_gradient() -> None:
    data = single_index_teacher(30, 5, 8, seed=0)
    model = LinearWidthMLP(8, 12, hidden_layers=1, seed=1)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    w, a = model.Ws[0].detach().numpy(), model.a.numpy()
    z = data.x_train @ w.T / math.sqrt(8)
    resid = np.tanh(z) @ a / math.sqrt(12) - data.y_train
    grad = ((resid[:, None] * (1 - np.tanh(z) ** 2) * a).T @ data.x_train) / (30 * math.sqrt(12) * math.sqrt(8))
    expected = np.linalg.norm(w, 2) / np.linalg.norm(grad, 2)
    assert eta_star(model, x, y) == pytest.approx(expected, rel=1e-10)


def test_one_gd_step_is_w_minus_lr_grad() -> None:
    data = single_index_teacher(30, 5, 8, seed=0)
    run = EvoRun(regime="invariant", optimizer="gd", lr=0.7, steps=1, batch_size=None, train_a=False)
    saved, lr, _, _ = train_with_checkpoints(data, replace(MODEL, width=12), run, [0], seed=0)
    (w0,), a0 = saved[0]
    z = data.x_train @ w0.T / math.sqrt(8)
    resid = np.tanh(z) @ a0 / math.sqrt(12) - data.y_train
    grad = ((resid[:, None] * (1 - np.tanh(z) ** 2) * a0).T @ data.x_train) / (30 * math.sqrt(12) * math.sqrt(8))
    np.testing.assert_allclose(saved[1][0][0], w0 - 0.7 * grad, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(saved[1][1], a0)  # second layer frozen


@pytest.fixture(scope="module")
def tiny_runs() -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for name, run in RUNS.items():
        out[name] = []
        for seed in (0, 1):
            summary, arrays = run_evolution(DATA, MODEL, run, ANALYSIS, seed)
            summary["run"] = name
            summary["_arrays"] = arrays
            out[name].append(summary)
    return out


def test_run_checkpoints_and_init_row(tiny_runs: dict[str, list[dict]]) -> None:
    gd = tiny_runs["gd_small"][0]
    assert [r["step"] for r in gd["rows"]] == [0, 1, 10, 12]
    first = gd["rows"][0]
    assert first["w_ks_init"] == 0.0 and first["dW_op"] == 0.0 and first["ck_dist_init"] == 0.0
    assert first["w_lmax_ratio"] == 1.0
    assert gd["_arrays"]["w_t12"].shape == (20,) and gd["_arrays"]["ck_t0"].shape == (40,)
    # small lr barely moves W; the large-lr step moves it by much more
    assert gd["rows"][-1]["dW_op"] < 0.1 * gd["rows"][-1]["W0_op"]
    large = tiny_runs["gd_large"][0]
    assert large["lr"] > 10 * gd["lr"]
    assert large["rows"][-1]["dW_op"] > 5 * gd["rows"][-1]["dW_op"]
    # adam trains both layers, so its NTK includes the CK block
    assert tiny_runs["adam"][0]["ntk_params"] == "both"


def test_claim_metrics_and_claim_file(tiny_runs: dict[str, list[dict]], repo_root: Path) -> None:
    scaling = {s: [run_scaling(DATA, MODEL, RUNS["gd_small"], s, seed) for seed in (0, 1)] for s in (0.5, 1.0)}
    assert scaling[1.0][0]["dim"] == 20 and scaling[0.5][0]["dim"] == 10
    metrics = claim_metrics({"teacher": tiny_runs}, scaling, EvoClaims(**CLAIMS)).as_dict()
    for name, metric in metrics.items():
        assert len(metric["values"]) == len(metric["seeds"]) == 2, name
        assert all(np.isfinite(metric["values"])), name
    assert metrics["c33_ks_w_gd"]["values"] == [r["rows"][-1]["w_ks_init"] for r in tiny_runs["gd_small"]]
    claims = parse_claims(yaml.safe_load((repo_root / "src/nnspectra/claims/evolution.yaml").read_text()), "evolution.yaml")
    assert {c.metric.split(".", 1)[0] for c in claims} == {"evolution"}
    missing = {c.metric.split(".", 1)[1] for c in claims} - set(metrics) - {"c42_regimes_reproduce"}
    assert not missing


def test_summary_table_and_figures(tiny_runs: dict[str, list[dict]], tmp_path: Path) -> None:
    from nnspectra.plotting.wang2023.evolution import FIGURES, plot_figure
    from nnspectra.plotting.wang2023.evolution_runs import EvoPlot

    summaries = [("teacher", name, s) for name, runs in tiny_runs.items() for s in runs]
    table = summary_table(summaries)
    assert list(table["run"]) == ["gd_small", "sgd_small", "gd_large", "adam"]
    grouped = group_summaries(summaries)
    assert set(grouped) == {"teacher"}
    spectra = {run: s["_arrays"] for _, run, s in summaries if s["seed"] == 0}
    plot = EvoPlot(seed=0, bins=10, top_k=3)
    claims = EvoClaims(**{**CLAIMS, "real_dataset": "teacher"})
    assert set(FIGURES) == {"evolution_invariance", "evolution_spike", "evolution_heavytail", "evolution_realdata"}
    # two of the four (each ~2 s on an idle core); the smoke workflow draws all of them
    for name in ("evolution_spike", "evolution_heavytail"):
        out = tmp_path / f"{name}.png"
        plot_figure(name, grouped, {"teacher": spectra}, plot, EvoModel(**MODEL_CFG), claims, EvoAnalysis(**ANALYSIS_CFG), out)
        assert out.stat().st_size > 10_000
    with pytest.raises(ConfigError, match="unknown"):
        plot_figure("nope", grouped, {"teacher": spectra}, plot, EvoModel(**MODEL_CFG), claims, EvoAnalysis(**ANALYSIS_CFG), tmp_path / "x.png")


def test_sgd_without_batch_size_is_a_config_error() -> None:
    data = single_index_teacher(10, 5, 4, seed=0)
    run = EvoRun(regime="sgd", optimizer="sgd", lr=0.1, steps=2, batch_size=None, train_a=False)
    with pytest.raises(ConfigError, match="batch_size"):
        train_with_checkpoints(data, replace(MODEL, width=6), run, [0], seed=0)
