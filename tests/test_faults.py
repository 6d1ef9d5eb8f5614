"""Fault injection (issue 12): every planted fault is caught before use in one line, no valid file is lost,
and ``nnspectra audit --repair`` restores a tree bit-identical to an undisturbed run.

Fast part: divergence of each training path (the blobs MLP and the MNIST MLP through the one training loop,
the Wang et al. evolution runs, online SGD). Workflow part (``-m workflow``): faults planted in copies of one
undisturbed smoke-preset ``table1`` run (one row, one seed: 5 jobs), plus damaged data files and a
diverging run through the pipeline. docs/auditing.md has the table fault -> message -> fix.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import workflow_env

from nnspectra.errors import DivergenceError
from nnspectra.training.divergence import DivergenceMonitor
from nnspectra.training.loop import TrainConfig


def _one_line(err: BaseException) -> str:
    message = str(err)
    assert "\n" not in message, message
    return message


# ----------------------------------------------------------------------------------------- divergence
def test_blobs_lr_1e8_stops_in_one_line_naming_the_key() -> None:
    from nnspectra.data.blobs import blob_dataset
    from nnspectra.experiments.sagun2018.blobs_training import BlobModel, BlobTrain, train_run

    data = blob_dataset(12, 5, 3, 1.0, 0).as_arrays()
    model = BlobModel(hidden=(4, 3), init="normal", init_scale=0.5, seed_offset=0)
    for alg in ("gd", "sgd"):
        settings = BlobTrain(lr=1e8, sgd_batch_size=4, max_iterations=2000, grad_norm_tol=1e-4, log_every=50)
        with pytest.raises(DivergenceError) as info:
            train_run(data, model, settings, alg, "relu", seed=0, progress=False)
        message = _one_line(info.value)
        assert "lower blobs.train.lr in the config" in message, message
        # GD blows up (a finite loss 1e7); the SGD batches of 4 saturate: their gradient is exactly 0
        if alg == "gd":
            assert "training diverged" in message and "blobs.train.divergence_factor" in message, message
        else:
            assert "training collapsed" in message and "the loss is exactly 0" in message, message
    # control: without the multiple-of-initial rule the same run ends "normally" at a huge finite loss
    quiet = BlobTrain(lr=1e8, max_iterations=300, grad_norm_tol=1e-4, log_every=50, divergence_factor=None)
    _, _, history, _ = train_run(data, model, quiet, "gd", "relu", seed=0, progress=False)
    assert math.isfinite(history["batch_loss"].iloc[-1])
    assert history["batch_loss"].iloc[-1] > 1e3 * history["batch_loss"].iloc[0]


def test_mnist_mlp_lr_1e8_stops_in_one_line_naming_the_key() -> None:
    from nnspectra.experiments.sagun2018.mnist_training import (
        GDTrain,
        MlpModel,
        train_mnist_mlp,
    )

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 1, 14, 14, generator=gen)
    y = torch.arange(40) % 10
    settings = GDTrain(lr=1e8, iterations=500, log_every=100)
    with pytest.raises(DivergenceError) as info:
        train_mnist_mlp(x, y, 5, MlpModel(), settings, seed=0)
    message = _one_line(info.value)
    assert "lower realdata.mnist.train.lr in the config" in message, message
    _, history = train_mnist_mlp(x, y, 5, MlpModel(), GDTrain(lr=0.1, iterations=50, log_every=10), seed=0)
    assert history["batch_loss"].iloc[-1] < history["batch_loss"].iloc[0]


def test_diverging_evolution_run_is_reported_as_divergence() -> None:
    from nnspectra.experiments.wang2023.evolution import (
        EvoAnalysis,
        EvoData,
        EvoModel,
        EvoRun,
        run_evolution,
    )

    data = EvoData(kind="teacher", n_train=40, n_test=30, dim=20, noise_std=0.3)
    model = EvoModel(width=30, activation="tanh", init_std=1.0, dtype="float64")
    analysis = EvoAnalysis(checkpoints=(0, 1, 10), outlier_factor=1.2, min_tail=5)
    run = EvoRun(regime="spike", optimizer="gd", lr=1e20, steps=10, batch_size=None, train_a=False)
    with pytest.raises(DivergenceError) as info:
        run_evolution(data, model, run, analysis, 0, run_key="evolution.runs.gd_huge")
    message = _one_line(info.value)
    assert "lower evolution.runs.gd_huge.lr in the config" in message and "power-law" not in message, message
    # the GD loss saturates (tanh, W only) finite at 12x its start; Adam at lr 1e20 reaches 1e40, still finite
    adam = EvoRun(regime="heavy_tail", optimizer="adam", lr=1e20, steps=10, batch_size=None, train_a=True)
    with pytest.raises(DivergenceError, match="stayed above 10 x its initial.*lower evolution.runs.adam_huge.lr"):
        run_evolution(data, model, adam, analysis, 0, run_key="evolution.runs.adam_huge")


def test_monitor_reference_streak_floor_and_nonfinite() -> None:
    cfg = TrainConfig(lr=1.0, divergence_factor=10.0, divergence_steps=3, config_key="x.train")
    monitor = DivergenceMonitor(cfg)
    for step, loss in enumerate([1.0, 11.0, 12.0, 0.5, 11.0, 11.0], start=1):  # a streak is broken by 0.5
        monitor.update(step, loss)
    with pytest.raises(DivergenceError, match=r"above 10 x its initial 1 for 3 steps \(lr=1\); lower x.train.lr"):
        monitor.update(7, 50.0)
    with pytest.raises(DivergenceError, match="loss is nan"):
        DivergenceMonitor(cfg).update(1, math.nan)
    floored = DivergenceMonitor(TrainConfig(lr=1.0, divergence_steps=1, divergence_floor=math.log(10)))
    floored.update(1, 0.01)  # a run continued from a trained model: 10 x 0.01 is no divergence ...
    floored.update(2, 0.5)
    assert floored.reference == pytest.approx(math.log(10))
    with pytest.raises(DivergenceError):  # ... 10 x the chance-level loss is
        floored.update(3, 30.0)
    DivergenceMonitor(TrainConfig(lr=1.0, divergence_factor=None)).update(1, 1e30)  # switched off
    with pytest.raises(Exception, match="x.train.divergence_factor must be > 1"):
        TrainConfig(lr=1.0, divergence_factor=0.5, config_key="x.train")


def test_a_diverged_run_leaves_no_checkpoint_to_resume(tmp_path: Path) -> None:
    from nnspectra.models.mlp import make_mlp
    from nnspectra.training import train
    from nnspectra.training.evaluate import cross_entropy

    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 5, generator=gen, dtype=torch.float64), torch.arange(40) % 3
    model = make_mlp([5, 8, 3], "relu", init="normal", init_scale=0.5, seed=0, dtype=torch.float64)
    ckpt = tmp_path / "part1.ckpt"
    cfg = TrainConfig(lr=1e8, batch_size=8, max_iterations=400, grad_norm_tol=None, log_every=10, progress=False,
                      checkpoint_every=5, checkpoint_path=str(ckpt), config_key="realdata.cifar.train")
    with pytest.raises(DivergenceError, match="lower realdata.cifar.train.lr"):
        train(model, cross_entropy, x, y, cfg)
    assert not ckpt.exists()


def test_torch_loop_nan_names_the_key() -> None:
    from nnspectra.training import train

    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    x, y = torch.ones(4, 3, dtype=torch.float64), torch.full((4, 1), math.inf, dtype=torch.float64)
    cfg = TrainConfig(lr=0.1, max_iterations=5, progress=False, config_key="realdata.lbsb.train")
    with pytest.raises(DivergenceError, match="loss is (nan|inf).*lower realdata.lbsb.train.lr in the config"):
        train(model, lambda out, t: ((out - t) ** 2).mean(), x, y, cfg)


def test_online_sgd_divergence_names_the_key() -> None:
    from nnspectra.training.online import online_sgd

    with pytest.raises(DivergenceError, match=r"theta is not finite \(step size delta=0.5\); lower alignment.xor.c"):
        online_sgd(np.zeros(3), lambda theta, y, label: np.full(3, np.inf), lambda n: (np.zeros((n, 3)), np.zeros(n)),
                   np.array([0, 5]), delta=0.5, step_key="alignment.xor.c")


# ----------------------------------------------------------------------- collapse: exact zeros are no convergence
# lr 1e8 / 1e300 on the tanh blobs net saturates every unit: the loss and gradient become EXACTLY 0, which the
# gradient-norm stop took for convergence (and an all-zero Hessian was cached). One test per training path.
COLLAPSE = r"training collapsed at step \d+: the loss is exactly 0 .*lower blobs.train.lr in the config"


@pytest.mark.parametrize("lr", [1e8, 1e300])
def test_gd_tanh_blobs_collapse_stops_naming_the_lr(lr: float) -> None:
    from nnspectra.data.blobs import blob_dataset
    from nnspectra.experiments.sagun2018.blobs_training import BlobModel, BlobTrain, train_run

    data = blob_dataset(40, 20, 2, 1.0, 0).as_arrays()  # the smoke preset's blobs net (hidden 10, 10)
    model = BlobModel(hidden=(10, 10), init="normal", init_scale=0.1, seed_offset=1000)
    with pytest.raises(DivergenceError, match=COLLAPSE) as info:
        train_run(data, model, BlobTrain(lr=lr, max_iterations=300, log_every=50), "gd", "tanh", seed=0,
                  progress=False)
    assert f"lr={lr:g}" in _one_line(info.value)
    # control: the same net at the preset's lr trains without a collapse
    train_run(data, model, BlobTrain(lr=0.1, max_iterations=300, log_every=50), "gd", "tanh", seed=0, progress=False)


def test_sgd_tanh_blobs_collapse_stops_naming_the_lr() -> None:
    from nnspectra.data.blobs import blob_dataset
    from nnspectra.experiments.sagun2018.blobs_training import BlobModel, BlobTrain, train_run

    data = blob_dataset(40, 20, 2, 1.0, 0).as_arrays()
    model = BlobModel(hidden=(10, 10), init="normal", init_scale=0.1, seed_offset=1000)
    with pytest.raises(DivergenceError, match=COLLAPSE) as info:
        train_run(data, model, BlobTrain(lr=1e8, sgd_batch_size=10, max_iterations=300, log_every=50), "sgd", "tanh",
                  seed=0, progress=False)
    assert "batch=10" in _one_line(info.value)


def test_nonfinite_parameters_stop_naming_the_lr() -> None:
    from nnspectra.training import TrainConfig, train

    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with torch.no_grad():
        model[0].bias[0] = float("inf")  # tanh-like saturation hides it from the loss: CE of inf logits is nan
    x, y = torch.zeros(4, 3), torch.tensor([0, 0, 0, 0])
    cfg = TrainConfig(lr=0.1, max_iterations=3, grad_norm_tol=None, log_every=0, progress=False,
                      divergence_factor=None, config_key="blobs.train")
    with pytest.raises(DivergenceError, match="lower blobs.train.lr in the config"):
        train(model, torch.nn.functional.cross_entropy, x, y, cfg)


def test_batched_gd_collapse_or_blow_up_stops_naming_the_lr() -> None:
    from nnspectra.data.p0 import two_blobs
    from nnspectra.experiments.sagun2016.predecessor_sphere import sphere_lambda_max
    from nnspectra.experiments.sagun2016.predecessor_training import P0Model, P0Train

    x, y = two_blobs(30, 1.0, 0)
    for lr in (1e8, 1e300):
        with pytest.raises(DivergenceError, match=r"batched GD: [5-8] of 8 nets diverged or collapsed .*lower "
                                                  r"predecessor.train.lr in the config") as info:
            sphere_lambda_max(x, y, 6, 8, P0Train(lr=lr, max_iterations=300), P0Model(), 0, snapshot_tols=[])
        _one_line(info.value)
    ok = sphere_lambda_max(x, y, 6, 8, P0Train(lr=0.1, max_iterations=300), P0Model(), 0, snapshot_tols=[])
    assert not ok["diverged"].any() and (ok["lambda_max"] > 0).all()


def test_online_sgd_collapse_names_the_key() -> None:
    from nnspectra.models.mixture_nets import two_layer_step_grad
    from nnspectra.training.online import COLLAPSE_SAMPLES, online_sgd

    k, d = 3, 5
    rng = np.random.default_rng(0)
    sample = lambda n: (rng.standard_normal((n, d)), rng.integers(0, 2, n))  # noqa: E731
    # all-zero weights: every ReLU unit is dead, the gradient is exactly 0 on every sample, nothing moves
    with pytest.raises(DivergenceError, match=r"online SGD collapsed at steps 0-\d+: the gradient was exactly 0 .*"
                                              r"lower alignment.xor.c in the config") as info:
        online_sgd(np.zeros(k * d + k), two_layer_step_grad(k, d), sample, np.array([0, 2 * COLLAPSE_SAMPLES]),
                   delta=0.1, step_key="alignment.xor.c")
    _one_line(info.value)
    moving = np.concatenate([rng.standard_normal(k * d), np.ones(k)])
    assert len(online_sgd(moving, two_layer_step_grad(k, d), sample, np.array([0, 2 * COLLAPSE_SAMPLES]),
                          delta=0.1, step_key="alignment.xor.c")) == 2


def test_cifar_training_blow_up_or_collapse_names_the_lr() -> None:
    from nnspectra.experiments.sagun2018.cifar import (
        AlexNetModel,
        CifarTrain,
        build_alexnet,
        train_cifar_part,
    )

    gen = torch.Generator().manual_seed(0)
    data = {"x_train": torch.randn(40, 3, 32, 32, generator=gen), "y_train": torch.arange(40) % 10,
            "x_test": torch.randn(20, 3, 32, 32, generator=gen), "y_test": torch.arange(20) % 10}
    model = build_alexnet(AlexNetModel(channels=(2, 2), hidden=(8, 6)), seed=0)
    settings = CifarTrain(lr=1e8, batch_lb=20, steps_per_part=60, record_every=20, eval_batch=40, checkpoint_every=None)
    with pytest.raises(DivergenceError, match=r"training (diverged|collapsed) .*lower realdata.cifar.train.lr") as info:
        train_cifar_part(data, model, 1, settings, seed=0)
    _one_line(info.value)


# ----------------------------------------------------------------------- planted faults through the workflow
# One row (SGD ReLU k=2) and one seed of the smoke preset's Table 1: blobs_data -> blobs_train -> blobs_spectrum
# -> blobs_counts -> table1, 5 jobs. Every fault is planted in its own copy of one undisturbed run.
FAULTS_YAML = "blobs:\n  table1: {rows: [9], seeds: [0]}\n"
CONFIG = ("--configfile", "config/smoke.yaml", "config/faults.yaml")
TARGET = "table1"
RUN = "results/smoke/blobs/runs/sgd_relu_k2_cov1/seed0"
REPAIR = "nnspectra audit --repair table1 --configfile config/smoke.yaml config/faults.yaml"
COMPARED = (".npz", ".csv", ".pt", ".json", ".md")  # every result file (sidecars are compared by the audit)


def _run(work: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=work, env=workflow_env(work), capture_output=True,
                          text=True, timeout=timeout, check=False)


def _snakemake(work: Path, *args: str, target: str = TARGET) -> subprocess.CompletedProcess:
    return _run(work, "snakemake", target, "--cores", "2", *args, *CONFIG)


def _audit(work: Path, *args: str) -> subprocess.CompletedProcess:
    """The audit's full table (``--verbose``: every problem of each file, never cut to the terminal)."""
    return _run(work, "nnspectra.cli", "audit", "--verbose", *args, TARGET, *CONFIG)


def _out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def _snapshot(work: Path) -> dict[str, bytes]:
    """Every file of the results tree (sidecars included, logs excluded) with its bytes."""
    root = work / "results" / "smoke"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != "logs"}


def _rows(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """Audit table rows by file."""
    return {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("results/")}


def _the_line(proc: subprocess.CompletedProcess, start: str) -> str:
    """The one line of the output that starts with ``start`` (asserting there is exactly one)."""
    lines = [line for line in _out(proc).splitlines() if line.startswith(start)]
    assert len(lines) == 1, _out(proc)[-4000:]
    return lines[0]


def _flip(path: Path, offset: int, keep_mtime: bool = False) -> None:
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))
    if keep_mtime:  # the flip Snakemake cannot see: same size, same mtime
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _repair_and_compare(work: Path, undisturbed: Path) -> str:
    """Run the repair; assert it ends clean, the audit agrees, and every result is bit-identical to the
    undisturbed run. Returns the repair's output."""
    from nnspectra.pipeline.compare import compare_trees

    proc = _run(work, "nnspectra.cli", "audit", "--repair", TARGET, *CONFIG, "--cores", "2")
    assert proc.returncode == 0 and proc.stdout.endswith("repair: clean\n"), _out(proc)[-6000:]
    assert "audit of results/smoke: 10 entries: 10 ok; OK\nrepair: clean" in proc.stdout, proc.stdout[-3000:]
    same = compare_trees(work / "results" / "smoke", undisturbed / "results" / "smoke", suffixes=COMPARED)
    assert same.same and len(same.identical) >= 10, (same.summary(), same.different, same.only_a, same.only_b)
    return _out(proc)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory, copy_workflow) -> Path:  # type: ignore[no-untyped-def]
    """A workflow copy with one undisturbed smoke ``table1`` run (one row, one seed) that audits clean."""
    work = copy_workflow(tmp_path_factory.mktemp("undisturbed"))
    (work / "config" / "faults.yaml").write_text(FAULTS_YAML)
    proc = _snakemake(work)
    assert proc.returncode == 0, _out(proc)[-4000:]
    audit = _audit(work)
    assert audit.returncode == 0 and "10 ok; OK" in audit.stdout, _out(audit)[-3000:]
    return work


@pytest.fixture
def work(undisturbed: Path, tmp_path: Path) -> Path:
    """A private copy of the undisturbed run (results, Snakemake's metadata, mtimes kept) to plant a fault in."""
    return Path(shutil.copytree(undisturbed, tmp_path / "work", symlinks=True))


@pytest.mark.workflow
def test_corrupt_npz_is_caught_before_use_and_repaired(work: Path, undisturbed: Path) -> None:
    spectrum = work / RUN / "spectrum_final.npz"
    _flip(spectrum, spectrum.stat().st_size // 2, keep_mtime=True)
    before = _snapshot(work)
    assert "Nothing to be done" in _out(_snakemake(work, "-n"))  # Snakemake cannot see it: nothing reads it
    audit = _audit(work)
    assert audit.returncode == 1 and "corrupt" in _rows(audit)[f"{RUN}/spectrum_final.npz"], audit.stdout[-3000:]
    # a run that would read it (counts forced) stops before any job is prepared: nothing deleted or rewritten
    proc = _snakemake(work, "--forcerun", "blobs_counts")
    assert proc.returncode != 0
    line = _the_line(proc, "Cache error: ")
    assert line.startswith(f"Cache error: cached file {RUN}/spectrum_final.npz (made by rule blobs_spectrum) is "
                           "corrupt: sha256 "), line
    assert line.endswith(f"so it must not be used; nothing was run or deleted; rebuild it and everything made "
                         f"from it with: {REPAIR}"), line
    assert _snapshot(work) == before
    out = _repair_and_compare(work, undisturbed)
    assert "move aside 1 untrusted file(s)" in out and "blobs_spectrum" in out


@pytest.mark.workflow
def test_corrupt_pt_tensor_bytes_load_but_are_caught_and_repaired(work: Path, undisturbed: Path) -> None:
    from nnspectra.pipeline.io import load_state_dict

    model = work / RUN / "model_final.pt"
    original = load_state_dict(model)
    with zipfile.ZipFile(model) as archive:  # the first tensor's bytes, not the zip structure
        info = next(i for i in archive.infolist() if i.filename.endswith("/data/0"))
    raw = model.read_bytes()
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    _flip(model, info.header_offset + 30 + name_len + extra_len + 8)
    flipped = load_state_dict(model)  # still loads (no CRC check): only the sidecar hash can tell
    assert not torch.equal(flipped["0.weight"], original["0.weight"])
    assert all(torch.equal(flipped[k], original[k]) for k in original if k != "0.weight")
    before = _snapshot(work)
    proc = _snakemake(work)  # the new mtime makes Snakemake plan spectrum, counts and table1 again
    assert proc.returncode != 0 and "blobs_spectrum" in _out(proc)
    line = _the_line(proc, "Cache error: ")
    assert f"cached file {RUN}/model_final.pt (made by rule blobs_train) is corrupt" in line, line
    assert _snapshot(work) == before  # the valid spectrum, counts and table are all still there
    _repair_and_compare(work, undisturbed)


@pytest.mark.workflow
def test_deleted_intermediate_is_listed_as_missing_and_rebuilt(work: Path, undisturbed: Path) -> None:
    (work / RUN / "spectrum_final.npz").unlink()  # its sidecar stays behind
    assert "Nothing to be done" in _out(_snakemake(work, "-n"))  # Snakemake 9 does not rebuild it
    audit = _audit(work)
    row = _rows(audit)[f"{RUN}/spectrum_final.npz"]
    assert audit.returncode == 1 and "missing" in row and "absent, but rule blobs_spectrum makes it" in row, row
    before = _snapshot(work)
    plan = _run(work, "nnspectra.cli", "audit", "--repair", "--dry-run", TARGET, *CONFIG)
    # counts: its input is gone; the tables: built from those (the audit follows the DAG)
    assert plan.returncode == 1 and f"rebuild 5 file(s) and everything made from them: {RUN}/counts.json, " \
        f"{RUN}/spectrum_final.npz, results/smoke/tables/table1.csv" in plan.stdout, _out(plan)[-3000:]
    assert f"would move those aside, then run: snakemake table1 --snakefile {work / 'Snakefile'}" in plan.stdout
    assert f"--forcerun {RUN}/counts.json {RUN}/spectrum_final.npz" in plan.stdout
    assert _snapshot(work) == before  # nothing ran
    _repair_and_compare(work, undisturbed)


@pytest.mark.workflow
def test_deleted_sidecar_is_rebuilt(work: Path, undisturbed: Path) -> None:
    (work / RUN / "counts.json.prov.json").unlink()
    audit = _audit(work)
    assert audit.returncode == 1 and "missing-sidecar" in _rows(audit)[f"{RUN}/counts.json"]
    before = _snapshot(work)
    proc = _snakemake(work, "--forcerun", "blobs_table1")  # blobs_table1 reads the unverifiable file: stopped
    line = _the_line(proc, "Cache error: ")
    assert proc.returncode != 0 and f"cached file {RUN}/counts.json (made by rule blobs_counts) has no provenance " \
        "sidecar counts.json.prov.json to verify it against" in line, line
    assert _snapshot(work) == before
    _repair_and_compare(work, undisturbed)


@pytest.mark.workflow
def test_files_made_under_another_config_value_are_stale_and_rebuilt(work: Path, undisturbed: Path) -> None:
    planted = _snakemake(work, "--config", 'blobs={"counting": {"top": 30}}')  # counts and table made with top=30
    assert planted.returncode == 0, _out(planted)[-3000:]
    audit = _audit(work, "--verbose")
    assert audit.returncode == 1, _out(audit)[-3000:]  # anything not ok exits 1
    row = _rows(audit)[f"{RUN}/counts.json"]
    assert "stale-config" in row and "blobs.counting.top: 30 -> 40" in row, row
    # the tables were built from the stale counts: stale too, although their own config did not change
    for table in ("table1.csv", "table1.md"):
        row = _rows(audit)[f"results/smoke/tables/{table}"]
        assert "stale-input" in row and f"built from {RUN}/counts.json, which is stale-config" in row, row
    _repair_and_compare(work, undisturbed)


@pytest.mark.workflow
def test_diverged_training_leaves_nothing_downstream_accepts(work: Path, undisturbed: Path) -> None:
    table = (work / "results" / "smoke" / "tables" / "table1.csv").read_bytes()
    proc = _snakemake(work, "--config", 'blobs={"train": {"lr": 1.0e+8}}')
    assert proc.returncode != 0
    line = _the_line(proc, "nnspectra error in step 'blobs_train': ")
    assert re.search(r"training (diverged|collapsed)", line) and "lower blobs.train.lr in the config" in line, line
    for name in ("model_init.pt", "model_final.pt", "history.csv", "train.json"):
        assert not (work / RUN / name).exists() and not (work / RUN / (name + ".prov.json")).exists()
    assert (work / "results" / "smoke" / "tables" / "table1.csv").read_bytes() == table  # nothing downstream ran
    audit = _audit(work)  # under the config the tree was made with, the training outputs are missing
    assert audit.returncode == 1 and "missing" in _rows(audit)[f"{RUN}/model_final.pt"]


@pytest.mark.workflow
def test_killed_snakemake_leaves_incomplete_outputs_that_the_audit_lists_and_repair_fixes(
        work: Path, undisturbed: Path) -> None:
    """kill -9 of Snakemake leaves its 'being written' marker (without the default profile's rerun-incomplete,
    tests/test_profiles.py, every later run would stop with IncompleteFilesException): the audit lists the file
    as incomplete and the repair rebuilds it."""
    import base64

    marker = work / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(f"{RUN}/counts.json".encode()).decode()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text('{"external_jobid": null}')  # what Snakemake writes when the job starts
    audit = _audit(work)
    assert audit.returncode == 1, _out(audit)[-3000:]
    row = _rows(audit)[f"{RUN}/counts.json"]
    assert "incomplete" in row and "Snakemake was stopped while making it" in row, row
    assert "stale-input" in _rows(audit)["results/smoke/tables/table1.csv"]
    _repair_and_compare(work, undisturbed)
    assert not marker.exists()


@pytest.mark.workflow
def test_leftover_temporaries_are_listed_and_removed_by_the_repair(work: Path, undisturbed: Path) -> None:
    """A full disk or a kill -9 in the middle of an atomic write leaves .tmpPID files: listed, then deleted."""
    (work / RUN / ".counts.json.tmp999999").write_bytes(b"half a file")
    (work / RUN / "counts.json.prov.json.tmp999998").write_bytes(b"{")
    audit = _audit(work)
    assert audit.returncode == 1 and "2 leftover" in audit.stdout, _out(audit)[-3000:]
    assert "temporary file of a killed writer or a full disk" in _rows(audit)[f"{RUN}/.counts.json.tmp999999"]
    out = _repair_and_compare(work, undisturbed)
    assert "repair: delete 2 leftover temporary file(s)" in out, out[-3000:]
    assert not list((work / RUN).glob("*tmp99999*")) and not list((work / RUN).glob(".*tmp99999*"))


@pytest.mark.workflow
def test_changed_dataset_makes_its_results_stale(copy_workflow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A non-official MNIST is accepted with one warning line naming the file and sizes; its identity goes into
    the sidecars; relabelling or truncating it afterwards makes the results built from it stale-data."""
    from fakedata import write_fake_mnist

    work = copy_workflow((tmp_path / "work").mkdir() or tmp_path / "work")
    data = tmp_path / "data"
    write_fake_mnist(data, n_per_class=25)  # the smoke preset takes 20 per class
    target = "results/smoke/realdata/mnist/n5/seed0/model.pt"
    opts = ("--configfile", "config/smoke.yaml", "--config", f"data_dir={data}")
    proc = _run(work, "snakemake", target, "--cores", "1", *opts)
    assert proc.returncode == 0, _out(proc)[-4000:]
    logs = "".join(p.read_text() for p in (work / "results" / "smoke" / "logs").rglob("*.log"))
    labels = data / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    warning = f"MNIST file {labels.resolve()} has 250 items ({labels.stat().st_size:,} bytes), not the official 60,000"
    assert warning in logs, logs[-3000:]
    record = json.loads((work / (target + ".prov.json")).read_text())
    (read,) = [d for d in record["data"] if d["split"] == "train"]
    assert read["dataset"] == "MNIST" and read["n_items"] == 250 and not read["official_size"]
    assert set(read["files"]) == {"MNIST/raw/train-images-idx3-ubyte", "MNIST/raw/train-labels-idx1-ubyte"}
    audit = _run(work, "nnspectra.cli", "audit", target, *opts)
    assert audit.returncode == 0, _out(audit)[-3000:]
    raw = bytearray(labels.read_bytes())
    raw[8] = (raw[8] + 1) % 10  # relabel the first item (same size)
    labels.write_bytes(bytes(raw))
    audit = _run(work, "nnspectra.cli", "audit", target, "--verbose", *opts)
    assert audit.returncode == 1, _out(audit)[-3000:]
    row = _rows(audit)[target]
    assert "stale-data" in row and f"data file {labels.resolve()} changed since this file was made" in row, row


@pytest.mark.workflow
def test_damaged_data_files_through_the_pipeline(copy_workflow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fakedata import write_fake_cifar, write_fake_mnist, write_payload_pickle

    work = copy_workflow((tmp_path / "work").mkdir() or tmp_path / "work")
    data = tmp_path / "data"
    write_fake_mnist(data)
    images = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])  # truncated
    write_fake_cifar(data)
    marker = tmp_path / "pwned"
    batch = data / "cifar-10-batches-py" / "data_batch_1"
    write_payload_pickle(batch, marker, nested=True)
    cases = [("results/smoke/realdata/mnist/n5/seed0/model.pt", "realdata_mnist_train", images),
             ("results/smoke/realdata/cifar/seed0/part1.pt", "realdata_cifar_part1", batch)]
    for target, rule, path in cases:
        proc = _run(work, "snakemake", target, "--cores", "1", "--configfile", "config/smoke.yaml", "--config",
                    f"data_dir={data}")
        assert proc.returncode != 0
        line = _the_line(proc, f"nnspectra error in step '{rule}': ")
        assert str(path.resolve()) in line and "is damaged" in line and "download it again" in line, line
        assert "missing" not in line and "urlopen" not in line, line
        assert not (work / target).exists()
    assert not marker.exists(), "the planted CIFAR-10 pickle ran"


# ------------------------------------------------------------------------ memory guards, config, storage
def test_memory_guards_read_the_cgroup_and_slurm_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both guards (dense Hessian, training) take the job's limit, not only the machine's RAM."""
    from nnspectra import resources
    from nnspectra.curvature import memory
    from nnspectra.errors import MemoryBudgetError
    from nnspectra.training import TrainConfig, train

    monkeypatch.delenv("SLURM_MEM_PER_NODE", raising=False)
    monkeypatch.delenv("SLURM_MEM_PER_CPU", raising=False)
    (tmp_path / "memory.max").write_text(f"{64 * 2**20}\n")  # a 64 MiB cgroup
    (tmp_path / "memory.current").write_text(f"{16 * 2**20}\n")
    monkeypatch.setattr(resources, "CGROUP_ROOT", str(tmp_path))
    assert memory.memory_limit_bytes("cpu") == (64 * 2**20, f"cgroup limit {tmp_path}/memory.max")
    assert memory.available_memory_bytes("cpu") <= 48 * 2**20
    with pytest.raises(MemoryBudgetError, match=r"cgroup limit") as info:
        memory.check_dense_fits(3000, 3000)  # 69 MB > 80 % of 64 MiB
    _one_line(info.value)
    model = torch.nn.Sequential(torch.nn.Linear(1000, 8000), torch.nn.ReLU(), torch.nn.Linear(8000, 10))
    x, y = torch.zeros(8, 1000), torch.zeros(8, dtype=torch.long)
    cfg = TrainConfig(lr=0.1, max_iterations=1, log_every=0, progress=False, config_key="blobs.train")
    with pytest.raises(MemoryBudgetError, match=r"training .* needs ~0.0\d GiB .*cgroup limit.*lower the batch size "
                                                r"or the width under blobs.train") as info:
        train(model, torch.nn.functional.cross_entropy, x, y, cfg)  # 8M parameters, weights and gradients: 64 MB
    _one_line(info.value)
    (tmp_path / "memory.max").write_text("max\n")  # no cgroup limit; SLURM's --mem=32M binds instead
    monkeypatch.setenv("SLURM_MEM_PER_NODE", "32")
    assert memory.memory_limit_bytes("cpu") == (32 * 2**20, "SLURM_MEM_PER_NODE")
    with pytest.raises(MemoryBudgetError, match="SLURM_MEM_PER_NODE"):
        memory.check_dense_fits(2000, 2000)


@pytest.mark.parametrize("key", ["blobs.train.lr", "divergence_factor_key", "memory_budget_gb"])
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e400"])
def test_nan_and_infinities_are_refused_for_numeric_keys(key: str, value: str) -> None:
    from nnspectra.errors import ConfigError
    from nnspectra.pipeline.config import load_config_files, validate_config

    key = "blobs.train.divergence_factor" if key == "divergence_factor_key" else key
    config = load_config_files(["config/config.yaml", "config/smoke.yaml"])
    config[key] = value
    with pytest.raises(ConfigError, match=rf"config key '{re.escape(key)}' = -?(nan|inf) is not a finite number"):
        validate_config(config)
    config[key] = "0.5" if key != "blobs.train.divergence_factor" else "20"
    validate_config(config)


def test_full_disk_is_one_line_with_path_and_bytes_and_leaves_no_temporary(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import errno

    from nnspectra.errors import StorageError
    from nnspectra.pipeline.io import save_arrays, save_model

    real_open = builtins.open

    def full_disk_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_open(file, mode, *args, **kwargs)
        if "w" in mode and ".tmp" in str(file):
            handle.write = lambda data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
        return handle

    monkeypatch.setattr(builtins, "open", full_disk_open)
    target = tmp_path / "run" / "spectrum.npz"
    with pytest.raises(StorageError, match=r"no space left writing .*spectrum.npz: needs [\d,]+ bytes, [\d,]+ bytes "
                                           r"free on the file system of .*; free some space") as info:
        save_arrays(target, eigenvalues=np.arange(1000.0))
    _one_line(info.value)
    with pytest.raises(StorageError, match=r"model.pt: needs"):
        save_model(torch.nn.Linear(3, 2), tmp_path / "run" / "model.pt")
    monkeypatch.setattr(builtins, "open", real_open)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []  # no .tmpPID left, no partial file


def test_read_only_tree_is_one_line_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from nnspectra.errors import StorageError
    from nnspectra.pipeline import repair
    from nnspectra.pipeline.io import save_json

    def read_only(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, "Read-only file system")

    (tmp_path / "results" / "smoke").mkdir(parents=True)
    monkeypatch.setattr(repair.tempfile, "mkstemp", read_only)
    plan = repair.RepairPlan(quarantine=["results/smoke/a.npz"], forcerun=["results/smoke/a.npz"])
    with pytest.raises(StorageError, match=r"cannot repair: .*results/smoke is not writable \(Read-only file system\); "
                                           r"make the results tree writable .*nothing was changed") as info:
        repair.writable_or_raise(plan, tmp_path)
    _one_line(info.value)
    monkeypatch.setattr("os.replace", read_only)
    with pytest.raises(StorageError, match=r"cannot write .*x.json: Read-only file system"):
        save_json(tmp_path / "results" / "x.json", {"a": 1})
    assert list((tmp_path / "results").glob(".*")) == []


def test_full_disk_while_writing_a_sidecar_leaves_no_output_and_no_orphan(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture) -> None:
    """The step's output is written, then the disk fills up on its sidecar: one line, and neither the output,
    its sidecar nor a temporary is left (an output without a sidecar would be untrusted forever)."""
    import errno
    from types import SimpleNamespace

    from nnspectra.pipeline import io as pipeline_io
    from nnspectra.pipeline.io import save_arrays
    from nnspectra.pipeline.step import Step

    real_write = pipeline_io.write_bytes_atomic

    def full_on_sidecars(path, data):  # type: ignore[no-untyped-def]
        if str(path).endswith(".prov.json"):
            tmp = Path(path).with_name(f".{Path(path).name}.tmp{os.getpid()}")
            tmp.write_bytes(data[:10])  # what a write cut short leaves
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
        return real_write(path, data)

    monkeypatch.setattr(pipeline_io, "write_bytes_atomic", full_on_sidecars)
    out = tmp_path / "results" / "a.npz"
    ns = SimpleNamespace(rule="demo", input={}, output={"a": str(out)}, params={}, wildcards={}, log=[], threads=1)
    with pytest.raises(SystemExit):
        with Step.from_namespace(ns):
            save_arrays(out, x=np.arange(3.0))
    err = capsys.readouterr().err  # (no log file: the log lines go to stderr too)
    (line,) = [x for x in err.splitlines() if "nnspectra error in step" in x]
    assert "nnspectra error in step 'demo': no space left writing " in line, line
    assert "bytes free on the file system of" in line, line
    assert sorted(p.name for p in out.parent.iterdir()) == []
