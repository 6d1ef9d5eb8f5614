"""`snakemake analyze`: bottom-k edges of H, GN and G by both routes against float64 dense references, the
logged and recorded fallback for a layer the dense builders' torch.func transforms do not support, and the
per-study device."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from nnspectra.analyze import AnalysisSettings, analyze_curvature, build_model
from nnspectra.analyze.study import mse_one_hot
from nnspectra.curvature import gauss_newton, gradient_moment
from nnspectra.training.evaluate import cross_entropy

F64 = torch.float64



def _problem(seed: int, n: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """P = 53 parameters, C = 3 and N samples: GN (rank <= 2N) and G (rank <= N) are full rank for N >= 60."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).to(F64)
    return model, torch.randn(n, 6, generator=gen, dtype=F64), torch.randint(0, 3, (n,), generator=gen)


def _settings(**kw) -> AnalysisSettings:  # type: ignore[no-untyped-def]
    base = {"top_k": 4, "bottom_k": 3, "lanczos_tol": 1e-12, "lanczos_maxiter": 500, "slq_probes": 2,
            "slq_steps": 10, "trace_probes": 4, "blocks": "none"}
    return AnalysisSettings(**{**base, **kw})


def test_bottom_k_of_gn_and_g_by_lanczos_and_dense_match_the_dense_reference():
    """Square loss, N C > P: GN and G full rank, a real bottom edge that Lanczos must find."""
    model, x, y = _problem(seed=2, n=120)
    lanczos, _, _ = analyze_curvature(model, mse_one_hot, x, y, 3, _settings(method="lanczos", gradient_moment=True))
    dense, _, _ = analyze_curvature(model, mse_one_hot, x, y, 3, _settings(method="dense", gradient_moment=True))
    for kind, build in (("GN", gauss_newton), ("G", gradient_moment)):
        ref = np.linalg.eigvalsh(build(model, mse_one_hot, x, y, dtype=F64).numpy())
        assert ref[0] > 1e-7 * ref[-1], f"{kind} should be full rank here ({ref[0]})"
        np.testing.assert_allclose(dense[kind]["bottom"], ref[:3], rtol=1e-8)
        np.testing.assert_allclose(lanczos[kind]["bottom"], ref[:3], rtol=1e-6)
        np.testing.assert_allclose(lanczos[kind]["top"], ref[::-1][:4], rtol=1e-8)
        assert "bottom-3 edges" in lanczos[kind]["edges_how"] and "dense" in dense[kind]["edges_how"]


def test_bottom_k_of_gn_and_g_is_zero_by_the_rank_bound_when_n_c_is_below_p():
    model, x, y = _problem(seed=3, n=6)  # rank(GN) <= 18, rank(G) <= 6, P = 53
    record, _, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="lanczos", gradient_moment=True))
    for kind, build in (("GN", gauss_newton), ("G", gradient_moment)):
        ref = np.linalg.eigvalsh(build(model, cross_entropy, x, y, dtype=F64).numpy())
        np.testing.assert_allclose(record[kind]["bottom"], ref[:3], atol=1e-14)
        assert "0 exactly" in record[kind]["edges_how"] and "no Lanczos run" in record[kind]["edges_how"]
    assert "bottom-3 edges" in record["H"]["edges_how"]


def test_bottom_k_zero_skips_the_bottom_edge():
    model, x, y = _problem(seed=3, n=60)
    record, arrays, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="lanczos", bottom_k=0))
    assert record["GN"]["bottom"] == [] and arrays["H_bottom"].size == 0
    assert "bottom_k: 0" in record["H"]["edges_how"]


def test_a_layer_torch_func_cannot_transform_falls_back_to_products_logged_and_recorded(
        user_pkg: str, caplog: pytest.LogCaptureFixture):
    model = build_model(f"module:{user_pkg}:custom_function_mlp", seed=1).to(F64)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(30, 6, generator=gen, dtype=F64), torch.randint(0, 3, (30,), generator=gen)
    with caplog.at_level(logging.WARNING, logger="nnspectra.curvature.products"):
        record, arrays, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="dense"))
    for kind in ("H", "GN"):
        how = record[kind]["dense_builder"]
        assert how.startswith("double backward") and "fallback" in how and "1 (Cubic)" in how, how
    lines = [r.getMessage() for r in caplog.records if "fallback" in r.getMessage()]
    assert len(lines) == 2 and "1 (Cubic)" in lines[0]
    # the fallback is exact: torch.autograd.functional.hessian (plain autograd, no transforms) in float64
    params = [p.detach() for p in model.parameters()]
    names = [n for n, _ in model.named_parameters()]

    def loss(*flat: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(model, dict(zip(names, flat)), (x,))
        return cross_entropy(out, y)

    blocks = torch.autograd.functional.hessian(loss, tuple(params))
    h = torch.cat([torch.cat([blocks[i][j].reshape(params[i].numel(), params[j].numel()) for j in range(len(params))], 1)
                   for i in range(len(params))])
    np.testing.assert_allclose(arrays["H_eigenvalues"], np.linalg.eigvalsh(h.numpy()), rtol=1e-9, atol=1e-13)


def test_a_model_the_builders_support_records_the_exact_builder():
    model, x, y = _problem(seed=4, n=30)
    record, _, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="dense"))
    assert record["H"]["dense_builder"].startswith("exact dense builder")


# -- device --------------------------------------------------------------------------------------------

def _study(**over):  # type: ignore[no-untyped-def]
    from nnspectra.pipeline.config import validate_config

    entry = {"model": {"name": "module:analyze_user_pkg.models:tiny_mlp", "kwargs": {"hidden": 3}},
             "dataset": {"name": "digits", "n_samples": 30, "flatten": True},
             "analysis": {"top_k": 12, "bottom_k": 2, "slq_probes": 2, "slq_steps": 8, "trace_probes": 4,
                          "blocks": "none"}}
    entry.update(over)
    return validate_config({"analyze": {"studies": {"mine": entry}}})["analyze"]["studies"]["mine"]


def test_a_study_asking_for_cuda_without_a_gpu_runs_on_the_cpu_logged_and_recorded(
        user_pkg: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    from nnspectra.analyze import run_study

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="nnspectra.analyze.study"):
        result = run_study("mine", _study(device="cuda"), device="cpu")
    assert result.record["device"] == {"requested": "cuda", "from": "analyze.studies.mine.device", "used": "cpu",
                                       "fallback": "CUDA is not available (torch sees no GPU): ran on the CPU"}
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "analyze.studies.mine.device" in lines[0] and "CPU" in lines[0]
    inherited = run_study("mine", _study(), device="cpu").record["device"]
    assert inherited == {"requested": "cpu", "from": "device (the run's)", "used": "cpu", "fallback": ""}


def test_an_unknown_study_device_is_one_line():
    from nnspectra.analyze.study import resolve_study_device
    from nnspectra.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        resolve_study_device("cdua", "cpu", key="analyze.studies.mine.device")
    text = str(err.value)
    assert "\n" not in text and "did you mean 'cuda'" in text and "analyze.studies.mine.device" in text
