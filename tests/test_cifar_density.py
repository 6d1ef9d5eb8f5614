"""Beyond the paper (issue 15, item 4): the CIFAR-10 density experiment, its figure and its place in every DAG."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_snakemake

from nnspectra.curvature import hessian
from nnspectra.errors import ConfigError
from nnspectra.experiments.sagun2018.cifar import AlexNetModel, build_alexnet
from nnspectra.experiments.sagun2018.cifar_density import DensitySettings, curvature_density, sample_images
from nnspectra.plotting.sagun2018.cifar_density import plot_spectral_densities
from nnspectra.training.evaluate import cross_entropy


def _tiny(seed: int = 0, n: int = 24):
    model = build_alexnet(AlexNetModel(channels=(2, 2), hidden=(4, 4)), seed)
    gen = torch.Generator().manual_seed(seed)
    return model, torch.randn(n, 3, 32, 32, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.fixture(scope="module")
def tiny_density():
    model, x, y = _tiny()
    settings = DensitySettings(probes=6, lanczos_steps=30, grid_points=2048, n_samples=None, top_k=3, top_tol=1e-10,
                               top_restarts=200, hutchinson_probes=60, gauss_newton=True)
    out = curvature_density(model, cross_entropy, x, y, settings)
    exact = np.linalg.eigvalsh(hessian(model, cross_entropy, x, y, dtype=torch.float64).numpy())
    return out, exact


def test_density_integrates_to_one_and_top_matches_dense(tiny_density):
    out, exact = tiny_density
    assert int(out["n_params"]) == exact.size
    for prefix in ("", "gn_"):
        mass = np.trapezoid(out[f"{prefix}density"], out[f"{prefix}grid"])
        assert abs(mass - 1.0) < 0.02, (prefix, mass)
    np.testing.assert_allclose(out["top"], exact[::-1][:3], rtol=1e-8)
    assert bool(out["top_converged"])
    assert out["grid"][0] <= exact[0] and out["grid"][-1] >= exact[-1]  # the grid covers the spectrum


def test_traces_match_exact_within_probe_spread(tiny_density):
    out, exact = tiny_density
    trace = exact.sum()
    n = out["trace_samples"].size
    assert abs(float(out["trace_mean"]) - trace) <= 3 * float(out["trace_std"]) / np.sqrt(n)
    assert abs(float(out["slq_trace_mean"]) - trace) <= 3 * float(out["slq_trace_std"]) / np.sqrt(6)
    assert float(out["trace_std"]) > 0  # a real spread, not a hard-coded number
    assert float(out["gn_trace_mean"]) > 0  # the Gauss-Newton part is positive semi-definite


def test_sample_is_seeded_and_settings_are_checked():
    x, y = torch.arange(50.0)[:, None], torch.arange(50)
    a, b = sample_images(x, y, 10, 3), sample_images(x, y, 10, 3)
    assert torch.equal(a[1], b[1]) and a[1].numel() == 10 and not torch.equal(a[1], sample_images(x, y, 10, 4)[1])
    assert sample_images(x, y, None, 0)[1].numel() == 50
    with pytest.raises(ConfigError, match="realdata.cifar.density.dtype"):
        DensitySettings(dtype="float16")
    with pytest.raises(ConfigError, match="realdata.cifar.density.reorth"):
        DensitySettings(reorth="selective")


def test_partial_reorthogonalisation_gives_the_same_density(tiny_density):
    """reorth: partial (opt-in) changes the SLQ bytes, not the density: equal to the default's to rounding."""
    model, x, y = _tiny()
    settings = DensitySettings(probes=6, lanczos_steps=30, grid_points=2048, n_samples=None, top_k=1, top_tol=1e-2,
                               hutchinson_probes=2, gauss_newton=False, reorth="partial")
    out, (full, _) = curvature_density(model, cross_entropy, x, y, settings), tiny_density
    np.testing.assert_allclose(out["density"], full["density"], rtol=0, atol=1e-9 * float(full["density"].max()))
    np.testing.assert_allclose(out["slq_trace_mean"], full["slq_trace_mean"], rtol=1e-10)


def test_figure_renders(tiny_density, tmp_path: Path):
    out, _ = tiny_density
    for scale in ("symlog", "linear"):
        path = tmp_path / f"density_{scale}.png"
        plot_spectral_densities({"Part I (large batch)": out, "Part II (small batch)": out}, path, "test", scale)
        assert path.stat().st_size > 10_000
    with pytest.raises(ValueError, match="xscale"):
        plot_spectral_densities({"a": out}, tmp_path / "x.png", xscale="log")


@pytest.mark.workflow
@pytest.mark.parametrize("preset", ["paper", "cpu", "smoke"])
def test_every_preset_dag_contains_fig_cifar_density(preset: str, tmp_path: Path, copy_workflow,
                                                     shared_data_dir) -> None:
    work = copy_workflow(tmp_path / "work")
    args = [] if preset == "paper" else ["--configfile", f"config/{preset}.yaml"]
    dry = run_snakemake(work, "-n", "--cores", "2", *args)
    assert dry.returncode == 0, dry.stdout[-3000:]
    table = dry.stdout.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE)}
    assert jobs.get("realdata_cifar_density_figure") == 1 and jobs.get("realdata_cifar_density") == 2, jobs
    assert jobs.get("all") == 1
