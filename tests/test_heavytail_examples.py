"""SPEC §3.2 heavy-tail examples: the constructed matrices have the stated spectra, ridge is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnspectra.errors import ConfigError
from nnspectra.experiments.wang2023 import heavytail_examples as hx

CFG = {"n_train": 300, "n_test": 300, "dim": 60, "width": 90, "noise_std": 0.3, "activation": "tanh",
       "ridges": [0.01, 1.0], "spike_scale": 2.0, "pareto_alpha": 2.0, "min_tail": 5}


def _unit(d: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(d)
    return v / np.linalg.norm(v)


def test_heavy_tailed_matrix_has_its_singular_values_and_top_direction() -> None:
    h, d, beta = 120, 80, _unit(80)
    w = hx.heavy_tailed_matrix(h, d, 2.0, np.random.default_rng(1), beta=beta)
    s = np.linalg.svd(w, compute_uv=False)
    assert np.sum(s**2) == pytest.approx(h * d, rel=1e-10)  # same Frobenius norm as a Gaussian matrix
    _, _, vt = np.linalg.svd(w)
    assert abs(vt[0] @ beta) == pytest.approx(1.0, abs=1e-10)  # the largest singular value goes with beta
    random = hx.heavy_tailed_matrix(h, d, 2.0, np.random.default_rng(1))
    assert abs(np.linalg.svd(random)[2][0] @ beta) < 0.5
    with pytest.raises(ConfigError, match="h >= input dim"):
        hx.heavy_tailed_matrix(10, 20, 2.0, np.random.default_rng(0))


def test_pareto_tail_exponent_is_recovered() -> None:
    """Squared singular values Pareto(a): eigenvalues of W^T W/h have density ~ x^-(a+1)."""
    d = 4000
    s2 = 1.0 + np.random.default_rng(3).pareto(2.0, size=d)
    from nnspectra.spectra.powerlaw import fit_power_law

    assert fit_power_law(s2, min_tail=50).alpha == pytest.approx(3.0, abs=0.35)


def test_spike_sits_outside_the_bulk_along_beta() -> None:
    h, d, beta = 400, 200, _unit(200)
    w = hx.spiked_matrix(h, d, beta, 2.0, np.random.default_rng(0))
    vals, vecs = np.linalg.eigh(w.T @ w / h)
    edge = (1 + np.sqrt(d / h)) ** 2
    assert vals[-1] > 3 * edge and vals[-2] < 1.2 * edge
    assert abs(vecs[:, -1] @ beta) > 0.95


def test_ridge_readout_solves_the_normal_equations() -> None:
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((50, 20)), rng.standard_normal(50)
    a = hx.ridge_readout(z, y, 0.3)
    grad = z.T @ (z @ a - y) + 0.3 * 50 / 20 * a
    assert np.allclose(grad, 0.0, atol=1e-10)


def test_run_summary_and_verdicts_at_toy_size() -> None:
    runs, spectra = hx.run_examples(hx.HtExamples(**CFG), [0, 1])
    assert len(runs) == 2 * len(hx.MATRICES) * 2 and set(spectra) == set(hx.MATRICES)
    assert np.all(runs["test_mse"] > 0) and np.all(runs["train_mse"] <= runs["test_mse"] * 5)
    again, _ = hx.run_examples(hx.HtExamples(**CFG), [0, 1])
    assert again.equals(runs)  # same seeds, same numbers
    table = hx.summary(runs)
    assert list(table["matrix"][:4]) == list(hx.MATRICES) and set(table["seeds"]) == {2}
    verdict = hx.verdicts(runs, 0.01)
    assert verdict["seeds"] == 2 and isinstance(verdict["aligned_beats_gaussian_all_seeds"], bool)
    with pytest.raises(ConfigError, match="ridges"):
        hx.verdicts(runs, 5.0)


def test_figure_is_written(tmp_path: Path) -> None:
    from nnspectra.plotting.wang2023.heavytail_examples import plot_heavytail_examples

    runs, spectra = hx.run_examples(hx.HtExamples(**CFG), [0])
    out = tmp_path / "ht.png"
    table = hx.summary(runs)
    plot_heavytail_examples(runs, spectra, dict(zip(table["matrix"], table["description"])), hx.HtExamples(**CFG), out)
    assert out.stat().st_size > 10_000
