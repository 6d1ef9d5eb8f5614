"""Blobs experiment: exact Hessian spectra vs finite differences, training run, Table 1 and metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from nnspectra.data.blobs import blob_dataset
from nnspectra.errors import ConfigError
from nnspectra.curvature.spectrum import dense_spectra
from nnspectra.experiments.sagun2018.blobs import attach_rows, collect_counts, paper_table1, table1
from nnspectra.experiments.sagun2018.blobs_training import BlobModel, BlobTrain, build_model, train_run
from nnspectra.experiments.sagun2018.blobs_metrics import blobs_metrics
from nnspectra.experiments.sagun2018.blobs_runs import PAPER_TABLE1, selected_runs
from nnspectra.models.mlp import mlp_parameter_count
from reference_mlp import NumpyMLP
from nnspectra.spectra.outliers import spectrum_counts

MODEL = BlobModel(hidden=(4, 3), init="normal", init_scale=0.5, seed_offset=0)
TRAIN = BlobTrain(lr=0.5, sgd_batch_size=4, schedule="cyclic", max_iterations=20000, grad_norm_tol=1e-2, log_every=50)


def spectrum_of_model(model, data, decompose=False):
    x = torch.as_tensor(data["x_train"], dtype=torch.float64)
    y = torch.as_tensor(data["y_train"], dtype=torch.long)
    return dense_spectra(model, torch.nn.functional.cross_entropy, x, y, decompose)


def _data(k: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    return blob_dataset(12, 5, k, 1.0, seed).as_arrays()


def _fd_hessian(net: NumpyMLP, x: np.ndarray, y: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences of the hand-written numpy gradient (an independent code path)."""
    shapes = [p.shape for p in net.params]
    theta0 = np.concatenate([p.ravel() for p in net.params])

    def grad(theta: np.ndarray) -> np.ndarray:
        parts, off = [], 0
        for s in shapes:
            n = int(np.prod(s))
            parts.append(theta[off:off + n].reshape(s))
            off += n
        _, g = NumpyMLP(parts, net.activation).loss_and_grad(x, y)
        return np.concatenate([a.ravel() for a in g])

    cols = []
    for i in range(theta0.size):
        e = np.zeros_like(theta0)
        e[i] = eps
        cols.append((grad(theta0 + e) - grad(theta0 - e)) / (2 * eps))
    h = np.array(cols)
    return 0.5 * (h + h.T)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_hessian_spectrum_matches_finite_differences(act: str) -> None:
    data = _data()
    model = build_model(MODEL, 5, 3, act, seed=1)
    spec = spectrum_of_model(model, data, decompose=True)
    ref = np.linalg.eigvalsh(_fd_hessian(NumpyMLP.from_torch(model, act), data["x_train"], data["y_train"]))
    p = mlp_parameter_count([5, 4, 3, 3])
    assert spec["eig_H"].shape == (p,)
    np.testing.assert_allclose(spec["eig_H"], ref, atol=1e-7 * max(1.0, np.abs(ref).max()))
    assert spec["eig_G"].min() > -1e-12 * spec["eig_G"].max()  # Gauss-Newton part is PSD
    # trace(H) = trace(G) + trace(R)
    assert spec["eig_H"].sum() == pytest.approx(spec["eig_G"].sum() + spec["eig_R"].sum(), rel=1e-10, abs=1e-12)


def test_train_run_converges_and_saves_distinct_points() -> None:
    data = _data()
    init, final, history, summary = train_run(data, MODEL, TRAIN, "gd", "relu", seed=0, progress=False)
    assert summary["converged"] and summary["final_grad_norm"] <= 1e-2 and summary["train_acc"] == 1.0
    assert not torch.equal(init[0].weight, final[0].weight)
    assert {"train_loss", "test_acc", "batch_grad_norm"} <= set(history.columns)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert summary["n_params"] == sum(p.numel() for p in final.parameters())


def test_paper_table_sizes_match_architecture() -> None:
    df = paper_table1()
    assert len(df) == len(PAPER_TABLE1) == 19
    for _, r in df.iterrows():
        assert r["size"] == mlp_parameter_count([100, 30, 30, int(r.nc)])
    assert [r["name"] for r in selected_runs([8, 13])] == ["gd_relu_k50_cov1", "sgd_relu_k50_cov1"]
    with pytest.raises(ConfigError):
        selected_runs([19])


def _fake_records() -> list[dict]:
    rng = np.random.default_rng(0)
    recs = []
    for r in selected_runs("all"):
        for seed in (0, 1):
            lam = np.r_[rng.uniform(0, 1, 300), rng.uniform(5, 10, r["k"])] * 1e-3
            recs.append({**{k: r[k] for k in ("alg", "act", "k", "cov")}, "seed": seed,
                         "train": {"iterations": 100, "converged": True, "train_acc": 1.0},
                         "counts": spectrum_counts(lam)})
    return recs


def test_table1_and_metrics_from_planted_spectra() -> None:
    long = collect_counts(attach_rows(_fake_records()))
    tab = table1(long)
    assert len(tab) == 19 and tab["seeds"].eq(2).all()
    assert tab.loc[tab.nc == 50, "gap"].iloc[0] == "50 [50-50]"
    assert tab["paper_heur"].iloc[0] == "N/A" and tab["paper_gap"].iloc[4] == 3
    fig1 = {0: {"init": np.r_[-0.05, np.zeros(98), 0.1], "final": np.r_[np.zeros(99), 0.01]}}
    m = blobs_metrics(long, fig1).as_dict()
    assert m["heur_hits_relu_cov1"]["values"] == [10.0, 10.0]
    assert m["gap_hits_tanh_k5plus"]["values"] == [3.0, 3.0]
    assert m["gap_ratio_frac_relu"]["values"] == [1.0, 1.0]
    assert m["fig1_init_small_frac"]["values"] == [0.98]
    assert m["fig1_init_min_over_max"]["values"] == [pytest.approx(-0.5)]
    assert m["fig1_final_outliers"]["values"] == [1.0]
    assert m["sgd_top_eig_in_range_frac"]["values"] == [1.0, 1.0]  # lambda_max in [5e-3, 1e-2]


def test_metrics_skip_configurations_not_run() -> None:
    long = collect_counts(attach_rows([r for r in _fake_records() if r["act"] == "tanh"]))
    m = blobs_metrics(long, {}).as_dict()
    claims = {name for name in m if not name.startswith(("elbow_", "gap_gd_", "gap_sgd_"))}   # less the details
    assert claims == {"gap_hits_tanh_k5plus"} and isinstance(pd.Series(m["gap_hits_tanh_k5plus"]["values"]), pd.Series)
