"""`snakemake analyze` end to end in a private workflow copy: a user's own factory from config alone, one
target per study, the summary table, provenance sidecars; `rule all` plans nothing of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import run_snakemake, workflow_env

TESTS = Path(__file__).resolve().parent

STUDY = """
run_name: analyze_test
analyze:
  studies:
    mine:
      model: {name: "module:analyze_user_pkg.models:tiny_mlp", kwargs: {hidden: 6}}
      dataset: {name: digits, n_samples: 100, flatten: true}
      train: {lr: 0.2, steps: 30, batch_size: 20, snapshots: [10, 20]}
      analysis: {top_k: 15, slq_probes: 2, slq_steps: 15, trace_probes: 10, block_trace_probes: 4}
"""


@pytest.mark.workflow
def test_a_user_study_runs_from_config_through_its_own_target(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path / "work")
    cfg = tmp_path / "study.yaml"
    cfg.write_text(STUDY)
    env = workflow_env(work)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(TESTS)])  # the user's package on the path
    one = run_snakemake(work, "--cores", "2", "analyze_mine", "--configfile", str(cfg), env=env)
    assert one.returncode == 0, one.stdout[-3000:]
    out = work / "results" / "analyze_test" / "analyze" / "mine"
    for name in ("record.json", "arrays.npz", "blocks.csv", "weights.csv", "spectrum.png", "density.png",
                 "blocks.png", "lambda_max.png"):
        assert (out / name).is_file(), name
        assert (out / f"{name}.prov.json").is_file(), f"{name} has no provenance sidecar"
    record = json.loads((out / "record.json").read_text())
    assert record["curvature"]["method"] == "dense" and record["snapshots"]["steps"] == [0, 10, 20, 30]
    prov = json.loads((out / "record.json.prov.json").read_text())
    assert "analyze.studies.mine" in json.dumps(prov)
    every = run_snakemake(work, "--cores", "2", "analyze", "--configfile", str(cfg), env=env)
    assert every.returncode == 0, every.stdout[-3000:]
    summary = (work / "results" / "analyze_test" / "analyze" / "summary.md").read_text()
    assert "| mine " in summary and "tiny_mlp" in summary
    dry = run_snakemake(work, "-n", "--cores", "2", "--configfile", str(cfg), env=env)
    assert "analyze_run" not in dry.stdout  # `rule all` never plans a study


@pytest.mark.workflow
def test_unknown_key_in_a_study_stops_before_any_job(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path / "work")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(STUDY.replace("train:", "trian:"))
    proc = run_snakemake(work, "-n", "--cores", "1", "analyze", "--configfile", str(cfg))
    assert proc.returncode != 0
    assert "config key 'analyze.studies.mine.trian' is not recognised; did you mean 'train'?" in proc.stdout
    assert "Traceback" not in proc.stdout


@pytest.mark.workflow
def test_a_cuda_study_holds_a_gpu_slot_in_a_cpu_run(tmp_path: Path, copy_workflow) -> None:
    """A study that asks for CUDA declares gpu=1 (so the global gpu budget serialises it) where a GPU is present,
    even when the run's device is cpu; without a GPU it runs on the CPU and holds nothing."""
    from nnspectra.pipeline.runtime import gpu_present

    work = copy_workflow(tmp_path / "work")
    cfg = tmp_path / "study.yaml"
    cfg.write_text(STUDY.replace("mine:\n", "mine:\n      device: cuda\n") + "device: cpu\n")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "nvidia-smi").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "nvidia-smi").chmod(0o755)
    for path, expected in ((f"{fake_bin}{os.pathsep}{os.environ['PATH']}", "gpu=1"), (os.environ["PATH"], "gpu=0")):
        env = workflow_env(work, PATH=path)
        dry = run_snakemake(work, "-n", "--cores", "1", "analyze_mine", "--configfile", str(cfg), env=env)
        assert dry.returncode == 0, dry.stdout[-3000:]
        block = dry.stdout[dry.stdout.index("rule analyze_run:"):]
        resources = next(line for line in block.splitlines() if "resources:" in line)
        if expected == "gpu=0" and gpu_present():
            continue  # a real GPU here: the no-GPU half cannot be shown
        assert expected in resources, resources
