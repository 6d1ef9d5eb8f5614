"""A pipeline process killed mid-training resumes from its checkpoint to the uninterrupted result.

The CIFAR-10 Part I rule (the longest training job) runs at toy size; the first run is left to
finish, the second is killed with SIGKILL (no clean-up handlers run) once it has written a
checkpoint, and the third, a plain rerun after ``snakemake --unlock``, must continue from that
checkpoint and produce bit-identical parameters and history.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import run_snakemake, workflow_env
from fakedata import write_fake_cifar


pytestmark = pytest.mark.workflow

TARGET = "results/smoke/realdata/cifar/seed0/part1.pt"
HISTORY = "results/smoke/realdata/cifar/seed0/history1.csv"
CHECKPOINT = "results/smoke/realdata/cifar/seed0/part1.ckpt"
LOG = "results/smoke/logs/realdata_cifar_part1/seed0.log"


def _config(data_dir: Path) -> str:
    return f"""
data_dir: {data_dir}
download: false
device: cpu
realdata:
  cifar:
    enabled: true
    data: {{n_train: 200, n_test: 100, skip_archive_md5: true}}
    model: {{channels: [8, 8], hidden: [32, 16]}}
    train: {{lr: 0.05, batch_lb: 50, steps_per_part: 400, record_every: 20, eval_batch: 200,
             checkpoint_every: 20}}
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory, copy_workflow, shared_data_dir: Path | None) -> Path:
    work = copy_workflow(tmp_path_factory.mktemp("resume"))
    if shared_data_dir is not None and (shared_data_dir / "cifar-10-batches-py" / "test_batch").is_file():
        data_dir = shared_data_dir
    else:
        data_dir = work / "data"
        write_fake_cifar(data_dir, n_per_class=20)
    (work / "config" / "resume.yaml").write_text(_config(data_dir))
    return work


def _args(*targets: str, forcerun: str | None = None, unlock: bool = False) -> list[str]:
    # targets first: --configfile / --forcerun take several values
    args = [*targets, "--cores", "1"] + (["--unlock"] if unlock else [])
    args += ["--configfile", "config/smoke.yaml", "config/resume.yaml"]
    return args + (["--forcerun", forcerun] if forcerun else [])


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_killed_run_resumes_to_the_uninterrupted_result(work: Path) -> None:
    done = run_snakemake(work, *_args(TARGET))
    assert done.returncode == 0, done.stdout[-6000:]
    reference, reference_history = _state(work / TARGET), (work / HISTORY).read_text()
    assert not (work / CHECKPOINT).exists(), "a finished run must remove its checkpoint"

    # Second run of the same job, killed (SIGKILL to the whole process group) after its first checkpoint.
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", *_args(TARGET, forcerun="realdata_cifar_part1")],
                            cwd=work, env=workflow_env(work),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while not (work / CHECKPOINT).exists():
        assert proc.poll() is None, "the run ended before writing a checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (work / TARGET).exists(), "the killed run got to the end; make the toy run longer"
    assert (work / CHECKPOINT).exists()

    unlock = run_snakemake(work, *_args(unlock=True))
    assert unlock.returncode == 0, unlock.stdout[-2000:]
    rerun = run_snakemake(work, *_args(TARGET))
    assert rerun.returncode == 0, rerun.stdout[-6000:]

    assert "resumed from checkpoint" in (work / LOG).read_text()
    resumed = _state(work / TARGET)
    assert resumed.keys() == reference.keys()
    for name, tensor in reference.items():
        assert torch.equal(resumed[name], tensor), f"{name} differs after resuming"
    assert (work / HISTORY).read_text() == reference_history
    assert not (work / CHECKPOINT).exists()
