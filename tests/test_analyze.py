"""`snakemake analyze` library (nnspectra.analyze): checked in float64 against independent references
(scipy eigsh, curvlinops, torch.func.hessian, exact dense traces and blocks), a user's own factory, and the
bad inputs that must stop with one line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import LinearOperator, eigsh
from torch.func import functional_call

from nnspectra.analyze import (
    AnalysisSettings,
    analyze_curvature,
    build_model,
    load_checkpoint,
    load_study_data,
    parameter_blocks,
    run_study,
    set_layer_mode,
    summary_row,
)
from nnspectra.analyze.analyses import choose_method
from nnspectra.curvature import GaussNewtonProducts, HessianProducts
from nnspectra.errors import ConfigError, DataNotFoundError, MemoryBudgetError
from nnspectra.pipeline.config import validate_config
from nnspectra.training.evaluate import cross_entropy

TESTS = Path(__file__).resolve().parent
F64 = torch.float64



def _tiny_problem(seed: int = 0, n: int = 40, d: int = 6, h: int = 5, c: int = 3):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, c)).to(F64)
    x = torch.randn(n, d, generator=gen, dtype=F64)
    y = torch.randint(0, c, (n,), generator=gen)
    return model, x, y, c


def _dense_hessian(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Reference: torch.func.hessian of the mean cross-entropy in the flat parameters."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    buffers = dict(model.named_buffers())
    theta0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss(theta: torch.Tensor) -> torch.Tensor:
        params = {n: t.reshape(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}
        return cross_entropy(functional_call(model, (params, buffers), (x,)), y)

    return torch.func.hessian(loss)(theta0)


def _settings(**kw) -> AnalysisSettings:  # type: ignore[no-untyped-def]
    base = dict(top_k=6, bottom_k=2, lanczos_tol=1e-12, lanczos_maxiter=500, slq_probes=3, slq_steps=20,
                trace_probes=20, blocks="module", block_top_k=2, block_trace_probes=20)
    base.update(kw)
    return AnalysisSettings(**base)


# -- references -------------------------------------------------------------------------------------

def test_top_eigenvalues_match_scipy_eigsh_on_the_same_operator_and_the_dense_route():
    model, x, y, c = _tiny_problem()
    lanczos, _, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(method="lanczos"), seed=1)
    dense, arrays, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(method="dense"))
    assert lanczos["method"] == "lanczos" and dense["method"] == "dense"
    for kind, cls in (("H", HessianProducts), ("GN", GaussNewtonProducts)):
        op = cls(model, cross_entropy, x, y, dtype=F64)
        scipy_op = LinearOperator((op.size, op.size), dtype=np.float64,
                                  matvec=lambda v, op=op: op.matvec(torch.from_numpy(np.asarray(v).ravel())).numpy())
        ref = np.sort(eigsh(scipy_op, k=6, which="LA", tol=1e-13, return_eigenvectors=False))[::-1]
        np.testing.assert_allclose(lanczos[kind]["top"], ref, rtol=1e-8)
        np.testing.assert_allclose(dense[kind]["top"], ref, rtol=1e-8)
    exact = np.linalg.eigvalsh(_dense_hessian(model, x, y).numpy())
    np.testing.assert_allclose(arrays["H_eigenvalues"], exact, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(lanczos["H"]["bottom"], exact[:2], rtol=1e-8)


def test_gradient_moment_matrix_lanczos_and_dense_match_its_dense_reference():
    from nnspectra.curvature import gradient_moment

    model, x, y, c = _tiny_problem(seed=8)
    lanczos, _, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(method="lanczos", gradient_moment=True))
    dense, arrays, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(method="dense", gradient_moment=True))
    g = gradient_moment(model, cross_entropy, x, y, dtype=F64)
    ref = np.linalg.eigvalsh(g.numpy())
    np.testing.assert_allclose(arrays["G_eigenvalues"], ref, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(lanczos["G"]["top"], ref[::-1][:6], rtol=1e-8)
    assert dense["G"]["trace_exact"] == pytest.approx(float(torch.trace(g)), rel=1e-12)


def test_top_eigenvalues_match_curvlinops():
    curvlinops = pytest.importorskip("curvlinops", reason="curvlinops-for-pytorch is not installed (test extra)")
    model, x, y, c = _tiny_problem(seed=3)
    record, _, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(method="lanczos"), seed=2)
    params = [p for p in model.parameters()]
    loss = torch.nn.CrossEntropyLoss(reduction="mean")
    for kind, cls in (("H", curvlinops.HessianLinearOperator), ("GN", curvlinops.GGNLinearOperator)):
        ref_op = cls(model, loss, params, [(x, y)], check_deterministic=False).to_scipy()
        ref = np.sort(eigsh(ref_op, k=6, which="LA", tol=1e-13, return_eigenvectors=False))[::-1]
        np.testing.assert_allclose(record[kind]["top"], ref, rtol=1e-8)


def test_traces_and_block_traces_agree_with_the_exact_dense_ones_within_their_standard_errors():
    model, x, y, c = _tiny_problem(seed=5)
    record, _, rows = analyze_curvature(model, cross_entropy, x, y, c,
                                        _settings(method="lanczos", trace_probes=300, block_trace_probes=300), seed=4)
    h = _dense_hessian(model, x, y)
    from nnspectra.curvature import gauss_newton

    g = gauss_newton(model, cross_entropy, x, y, dtype=F64)
    for kind, mat in (("H", h), ("GN", g)):
        exact = float(torch.trace(mat))
        est, se = record[kind]["trace"], record[kind]["trace_stderr"]
        assert se > 0 and abs(est - exact) <= 4 * se, (kind, est, exact, se)
        for row in (r for r in rows if r["matrix"] == kind):
            idx = torch.as_tensor(parameter_blocks(model, "module")[row["block"]])
            block = mat[idx][:, idx]
            assert abs(row["trace"] - float(torch.trace(block))) <= 4 * row["trace_stderr"] + 1e-12, row
            top = np.linalg.eigvalsh(block.numpy())[::-1][:2]
            np.testing.assert_allclose(row["top"], top, rtol=1e-8)


def test_dense_blocks_are_the_blocks_of_the_dense_matrix():
    model, x, y, c = _tiny_problem(seed=6)
    record, _, rows = analyze_curvature(model, cross_entropy, x, y, c, _settings(method="dense", blocks="parameter"))
    h = _dense_hessian(model, x, y)
    blocks = parameter_blocks(model, "parameter")
    assert list(blocks) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert record["H"]["trace_exact"] == pytest.approx(float(torch.trace(h)), rel=1e-12)
    for row in (r for r in rows if r["matrix"] == "H"):
        idx = torch.as_tensor(blocks[row["block"]])
        block = h[idx][:, idx].numpy()
        assert row["trace"] == pytest.approx(float(np.trace(block)), rel=1e-10, abs=1e-14)
        np.testing.assert_allclose(row["top"], np.linalg.eigvalsh(block)[::-1][:2], rtol=1e-9, atol=1e-14)


def test_batch_norm_model_in_eval_mode_matches_torch_func_hessian(user_pkg: str):
    model = build_model(f"module:{user_pkg}:branch_net", {"channels": 2, "classes": 3}, seed=0).to(F64)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(24, 1, 8, 8, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (24,), generator=gen)
    model.train()
    with torch.no_grad():  # running statistics that differ from the batch's own
        for _ in range(3):
            model(2.0 * x + 1.0)
    mode = set_layer_mode(model, "eval")
    assert mode["batch_norm_layers"] == 1 and not model.training
    _, arrays, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="dense", top_k=5))
    exact = np.linalg.eigvalsh(_dense_hessian(model, x, y).numpy())
    np.testing.assert_allclose(arrays["H_eigenvalues"], exact, rtol=1e-8, atol=1e-10)
    # train mode: batch norm on the analysed batch's statistics, another function with another spectrum. The
    # reference is a central finite difference of autograd gradients: torch.func.hessian (and jacrev of jacrev)
    # disagree with it for batch norm in training mode under torch 2.14 (docs/analyze.md), autograd does not.
    set_layer_mode(model, "train")
    _, train_arrays, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="dense", top_k=5))
    theta0 = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    fd = torch.stack([(_grad_at(model, x, y, theta0 + 1e-6 * e) - _grad_at(model, x, y, theta0 - 1e-6 * e)) / 2e-6
                      for e in torch.eye(theta0.numel(), dtype=F64)])
    other = np.linalg.eigvalsh((0.5 * (fd + fd.T)).numpy())
    np.testing.assert_allclose(train_arrays["H_eigenvalues"], other, rtol=1e-6, atol=1e-7)
    gn_lanczos, _, _ = analyze_curvature(model, cross_entropy, x, y, 3, _settings(method="lanczos", top_k=5))
    np.testing.assert_allclose(gn_lanczos["GN"]["top"], train_arrays["GN_eigenvalues"][::-1][:5], rtol=1e-8)
    assert not np.allclose(other, exact, rtol=1e-3)


def _grad_at(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Gradient of the mean cross-entropy at the flat parameters ``theta`` (plain autograd)."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    theta = theta.clone().requires_grad_(True)
    params = {n: t.reshape(s) for n, t, s in zip(names, torch.split(theta, [p.numel() for p in model.parameters()]), shapes)}
    loss = cross_entropy(functional_call(model, (params, dict(model.named_buffers())), (x,)), y)
    return torch.autograd.grad(loss, theta)[0]


# -- a whole study from config ------------------------------------------------------------------------

def _study(**over):  # type: ignore[no-untyped-def]
    entry = {"model": {"name": "module:analyze_user_pkg.models:tiny_mlp", "kwargs": {"hidden": 4}},
             "dataset": {"name": "digits", "n_samples": 60, "flatten": True},
             "train": {"lr": 0.2, "steps": 20, "batch_size": 20, "snapshots": [10]},
             "analysis": {"top_k": 12, "slq_probes": 2, "slq_steps": 10, "trace_probes": 10, "block_trace_probes": 4}}
    entry.update(over)
    return validate_config({"analyze": {"studies": {"mine": entry}}})["analyze"]["studies"]["mine"]


def test_a_study_from_a_user_factory_runs_from_config_alone(user_pkg: str, tmp_path: Path):
    base = build_model(f"module:{user_pkg}:tiny_mlp", {"hidden": 4}, seed=7)
    ckpt = tmp_path / "start.pt"
    torch.save(base.state_dict(), ckpt)
    study = _study(model={"name": f"module:{user_pkg}:tiny_mlp", "kwargs": {"hidden": 4}, "checkpoint": str(ckpt)})
    result = run_study("mine", study)
    rec = result.record
    assert rec["model"]["checkpoint"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert rec["model"]["n_params"] == 64 * 4 + 4 + 4 * 10 + 10
    source = TESTS / "analyze_user_pkg" / "models.py"
    assert rec["model"]["factory_source"] == {"file": str(source), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    assert rec["dataset"] == {**rec["dataset"], "name": "digits", "n_samples": 60, "n_classes": 10}
    assert rec["curvature"]["method"] == "dense" and "dense" in rec["curvature"]["method_reason"]
    assert rec["curvature"]["H"]["outliers"]["n_classes"] == 10
    assert rec["snapshots"]["steps"] == [0, 10, 20] and rec["snapshots"]["two_over_lr"] == pytest.approx(10.0)
    assert rec["layer_mode"]["mode"] == "eval"
    assert {r["block"] for r in result.blocks} == {"0", "2"}
    assert [w["parameter"] for w in result.weights] == ["0.weight", "2.weight"]
    assert result.arrays["H_eigenvalues"].size == rec["model"]["n_params"]
    row = summary_row(rec)
    assert row["C"] == 10 and row["P"] == rec["model"]["n_params"]
    again = run_study("mine", study)  # same config and seed: the same numbers
    np.testing.assert_array_equal(again.arrays["H_eigenvalues"], result.arrays["H_eigenvalues"])
    np.testing.assert_array_equal(again.arrays["H_density"], result.arrays["H_density"])


def test_default_config_has_an_empty_analyze_section():
    assert validate_config({})["analyze"] == {"studies": {}}


# -- bad inputs: one line each ------------------------------------------------------------------------

def _one_line(err: pytest.ExceptionInfo) -> str:  # type: ignore[type-arg]
    text = str(err.value)
    assert "\n" not in text, text
    return text


def test_unknown_architecture_suggests_the_closest():
    with pytest.raises(ConfigError) as err:
        build_model("torchvision:resnet81", {"num_classes": 10})
    assert "did you mean 'resnet18'" in _one_line(err)


def test_unknown_dataset_suggests_the_closest():
    with pytest.raises(ConfigError) as err:
        load_study_data("mnsit", 100, 0)
    assert "did you mean 'mnist'" in _one_line(err)


def test_unknown_study_key_suggests_the_closest():
    with pytest.raises(ConfigError) as err:
        _study(analyis={"top_k": 3})
    assert "did you mean 'analysis'" in _one_line(err)


def test_factory_that_does_not_import(user_pkg: str):
    with pytest.raises(ConfigError) as err:
        build_model("module:analyze_user_pkg.broken:make")
    text = _one_line(err)
    assert "analyze_user_pkg.broken" in text and "a_package_that_is_not_installed" in text and "PYTHONPATH" in text
    with pytest.raises(ConfigError) as err:
        build_model(f"module:{user_pkg}:tiny_mpl")
    assert "did you mean 'tiny_mlp'" in _one_line(err)


def test_checkpoint_that_does_not_fit_names_the_parameter(user_pkg: str, tmp_path: Path):
    path = tmp_path / "other.pt"
    torch.save(build_model(f"module:{user_pkg}:tiny_mlp", {"hidden": 9}).state_dict(), path)
    with pytest.raises(ConfigError) as err:
        load_checkpoint(build_model(f"module:{user_pkg}:tiny_mlp", {"hidden": 8}), path)
    text = _one_line(err)
    assert "'0.weight'" in text and "(9, 64)" in text and "(8, 64)" in text


def test_checkpoint_holding_code_is_refused(user_pkg: str, tmp_path: Path):
    import pickle

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Path("/etc/passwd")))
    with pytest.raises(Exception) as err:
        load_checkpoint(build_model(f"module:{user_pkg}:tiny_mlp"), path)
    assert "\n" not in str(err.value) and "evil.pt" in str(err.value)


def test_missing_dataset_says_where_to_put_it(tmp_path: Path):
    with pytest.raises(DataNotFoundError) as err:
        load_study_data("mnist", 100, 0, data_dir=tmp_path, download=False)
    assert str(tmp_path) in _one_line(err)


def test_too_large_for_dense_names_the_alternatives():
    with pytest.raises(MemoryBudgetError) as err:
        choose_method(200_000, AnalysisSettings(method="dense"), F64, budget_gb=1.0, device="cpu")
    text = _one_line(err)
    assert "method: lanczos" in text and "memory_budget_gb" in text
    method, reason = choose_method(200_000, AnalysisSettings(method="auto"), F64, budget_gb=1.0, device="cpu")
    assert method == "lanczos" and "max_dense_params" in reason


def test_slq_basis_beyond_the_study_budget_stops_in_one_line():
    """The study's memory_budget_gb reaches SLQ's basis guard too: a density whose basis (1 run x slq_steps x P
    float64) does not fit stops in one line, where before it would have allocated past the budget."""
    model, x, y, c = _tiny_problem()
    p = sum(t.numel() for t in model.parameters())
    settings = _settings(method="lanczos", blocks="none", slq_steps=20)
    with pytest.raises(MemoryBudgetError) as err:
        analyze_curvature(model, cross_entropy, x, y, c, settings, budget_gb=0.5 * 20 * p * 8 / 2**30)
    text = _one_line(err)
    assert "Lanczos basis of 1 runs x 20 steps" in text and "memory_budget_gb" in text
    record, _, _ = analyze_curvature(model, cross_entropy, x, y, c, settings, budget_gb=2 * 20 * p * 8 / 2**30)
    assert record["method"] == "lanczos"


def test_wrong_output_size_and_unbalanced_subset_are_one_line(user_pkg: str):
    with pytest.raises(ConfigError) as err:
        run_study("mine", _study(model={"name": f"module:{user_pkg}:tiny_mlp", "kwargs": {"classes": 7}}))
    assert "num_classes: 10" in _one_line(err)
    with pytest.raises(ConfigError) as err:
        load_study_data("digits", 55, 0)
    assert "multiple of the 10 classes" in _one_line(err)


def test_train_mode_refuses_dropout():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.5), torch.nn.Linear(3, 2))
    with pytest.raises(ConfigError) as err:
        set_layer_mode(model, "train")
    assert "bn_dropout: eval" in _one_line(err)


def test_gradient_moment_is_refused_for_batch_statistics(user_pkg: str):
    model = build_model(f"module:{user_pkg}:branch_net", {"channels": 2, "classes": 3}).to(F64)
    set_layer_mode(model, "train")
    x, y = torch.randn(6, 1, 8, 8, dtype=F64), torch.arange(6) % 3
    with pytest.raises(ConfigError) as err:
        analyze_curvature(model, cross_entropy, x, y, 3, _settings(gradient_moment=True))
    assert "bn_dropout: eval" in _one_line(err)


def test_image_folder_dataset_is_class_balanced_and_normalised(tmp_path: Path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, count in (("cats", 4), ("dogs", 3)):
        (tmp_path / cls).mkdir()
        for i in range(count):
            size = (10, 12) if i == 0 else (12, 12)  # one odd size: image_size resizes them all
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    data = load_study_data("imagefolder", 6, 0, path=tmp_path, image_size=8)
    assert data.x.shape == (6, 3, 8, 8) and data.n_classes == 2
    assert sorted(data.y.tolist()) == [0, 0, 0, 1, 1, 1]
    assert torch.allclose(data.x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    with pytest.raises(ConfigError) as err:
        load_study_data("imagefolder", 6, 0, path=tmp_path / "nowhere")
    assert "one sub-folder of images per class" in _one_line(err)


def test_a_checkpointed_batch_norm_model_is_analysed_with_its_own_running_statistics(user_pkg: str, tmp_path: Path):
    name = f"module:{user_pkg}:branch_net"
    model = build_model(name, {"channels": 2}, seed=3)
    model.bn.running_mean.fill_(0.7)
    model.bn.running_var.fill_(2.5)
    torch.save(model.state_dict(), tmp_path / "bn.pt")
    study = _study(model={"name": name, "kwargs": {"channels": 2}, "checkpoint": str(tmp_path / "bn.pt")},
                   dataset={"name": "digits", "n_samples": 30}, train=None)
    result = run_study("mine", study)
    data = load_study_data("digits", 30, 0)
    model = model.to(F64).eval()
    _, arrays, _ = analyze_curvature(model, cross_entropy, data.x.to(F64), data.y, 10, _settings(method="dense"))
    np.testing.assert_allclose(result.arrays["H_eigenvalues"], arrays["H_eigenvalues"], rtol=1e-10, atol=1e-13)


def test_slq_reorth_is_checked_and_partial_keeps_the_density():
    """analysis.slq_reorth: partial (opt-in) gives the default's densities to rounding; a typo is refused."""
    with pytest.raises(ConfigError, match="slq_reorth"):
        _settings(slq_reorth="sometimes")
    with pytest.raises(ConfigError):
        _study(analysis={"slq_reorth": "sometimes"})
    model, x, y, c = _tiny_problem()
    quick = dict(method="dense", blocks="none", trace_probes=2)
    _, full, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(**quick))
    _, part, _ = analyze_curvature(model, cross_entropy, x, y, c, _settings(**quick, slq_reorth="partial"))
    for kind in ("H", "GN"):
        peak = float(full[f"{kind}_density"].max())
        np.testing.assert_allclose(part[f"{kind}_density"], full[f"{kind}_density"], rtol=0, atol=1e-9 * peak)
