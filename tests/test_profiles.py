"""Execution profiles parse, and a dry run with them plans every job with its resources."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def _dry_run(repo_root: Path, *args: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    return out


def _job_blocks(out: str) -> list[str]:
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", out)
    return [b for b in blocks if re.match(r"(?:local)?rule \w+:", b) and not b.startswith(("localrule all", "rule all"))]


@pytest.mark.parametrize("profile", ["slurm", "local-gpu"])
def test_profile_dry_run_declares_resources(repo_root: Path, profile: str) -> None:
    if profile == "slurm":
        pytest.importorskip("snakemake_executor_plugin_slurm")
    out = _dry_run(repo_root, "--profile", f"workflow/profiles/{profile}", "--configfile", "config/smoke.yaml")
    blocks = _job_blocks(out)
    assert blocks, "the dry run planned no jobs"
    for block in blocks:
        name = block.split(":")[0]
        if name.startswith("localrule"):
            continue  # aggregation rules run on the submit host
        assert re.search(r"resources:.*\bmem_mb=\d+", block), f"{name} declares no mem_mb"
        assert re.search(r"resources:.*\bruntime=\d+", block), f"{name} declares no runtime"
        assert "log:" in block, f"{name} has no log file"


def test_gpu_capable_jobs_claim_a_gpu_only_when_running_on_cuda(repo_root: Path) -> None:
    on_gpu = _dry_run(repo_root, "--profile", "workflow/profiles/local-gpu", "--configfile", "config/smoke.yaml")
    gpu_jobs = {b.split(":")[0] for b in _job_blocks(on_gpu) if re.search(r"resources:.*\bgpu=1\b", b)}
    assert "rule blobs_spectrum" in gpu_jobs and "rule realdata_mnist_train" in gpu_jobs
    on_cpu = _dry_run(repo_root, "--cores", "2", "--configfile", "config/smoke.yaml", "--config", "device=cpu")
    assert not [b for b in _job_blocks(on_cpu) if re.search(r"resources:.*\bgpu=1\b", b)]
