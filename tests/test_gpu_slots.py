"""GPU pinning on multi-GPU machines: distinct devices per job, no leaked claims, clear timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from nnspectra.errors import NnspectraError
from nnspectra.pipeline.gpu_slots import claim_gpu, visible_gpu_count
from nnspectra.pipeline.runtime import holds_gpu
from nnspectra.pipeline.step import Step


def test_counts_nvidia_device_nodes(tmp_path: Path) -> None:
    for name in ("nvidia0", "nvidia1", "nvidia2", "nvidiactl", "nvidia-uvm", "null"):
        (tmp_path / name).touch()
    assert visible_gpu_count(tmp_path) == 3
    assert visible_gpu_count(tmp_path / "missing") == 0


def test_concurrent_claims_get_distinct_devices(tmp_path: Path) -> None:
    claims = [claim_gpu(n_devices=3, lock_dir=tmp_path, set_env=False) for _ in range(3)]
    assert sorted(c.index for c in claims) == [0, 1, 2]
    with pytest.raises(NnspectraError, match="all 3 GPUs stayed claimed"):
        claim_gpu(n_devices=3, lock_dir=tmp_path, wait_s=0.2, poll_s=0.05, set_env=False)
    claims[1].release()
    again = claim_gpu(n_devices=3, lock_dir=tmp_path, wait_s=0.2, poll_s=0.05, set_env=False)
    assert again.index == 1


def test_single_gpu_or_pinned_job_claims_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert claim_gpu(n_devices=1, lock_dir=tmp_path) is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert claim_gpu(n_devices=4, lock_dir=tmp_path) is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"


def test_claim_sets_visible_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    first = claim_gpu(n_devices=2, lock_dir=tmp_path, set_env=False)
    second = claim_gpu(n_devices=2, lock_dir=tmp_path)
    assert first.index == 0 and second.index == 1
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    first.release()
    second.release()


def test_a_killed_job_frees_its_gpu(tmp_path: Path) -> None:
    code = ("import sys, time; from nnspectra.pipeline.gpu_slots import claim_gpu; "
            f"c = claim_gpu(n_devices=2, lock_dir={str(tmp_path)!r}, set_env=False); "
            "print(c.index, flush=True); time.sleep(600)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "0"
        mine = claim_gpu(n_devices=2, lock_dir=tmp_path, set_env=False)
        assert mine.index == 1
        mine.release()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    deadline = time.monotonic() + 10
    while True:  # the kernel released the dead child's lock
        claim = claim_gpu(n_devices=2, lock_dir=tmp_path, wait_s=0.1, poll_s=0.05, set_env=False)
        if claim.index == 0 or time.monotonic() > deadline:
            break
        claim.release()
    assert claim.index == 0


def test_step_claims_only_for_gpu_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nnspectra.pipeline.gpu_slots as slots

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv(slots.LOCK_DIR_ENV, str(tmp_path / "locks"))
    monkeypatch.setattr(slots, "visible_gpu_count", lambda: 2)
    out = tmp_path / "out.txt"

    def job(gpu: int) -> Step:
        ns = SimpleNamespace(rule="demo", input={}, output={"out": str(out)}, params={}, wildcards={},
                             log=[str(tmp_path / "demo.log")], threads=1, resources={"gpu": gpu, "mem_mb": 100})
        return Step.from_namespace(ns)

    with job(gpu=0) as step:
        out.write_text("x")
        assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert "gpu_claim" not in step.extra
    with job(gpu=1) as step:
        out.write_text("x")
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    assert step.extra["gpu_claim"]["index"] == 0
    assert '"gpu_claim"' in Path(str(out) + ".prov.json").read_text()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    again = claim_gpu(n_devices=2, lock_dir=tmp_path / "locks", set_env=False)
    assert again.index == 0  # the step released its claim on exit
    again.release()


@pytest.mark.parametrize(("device", "present", "papers", "study"), [
    ("cpu", False, False, False), ("cpu", True, False, False),
    ("auto", False, False, False), ("auto", True, True, True),
    ("cuda", True, True, True),
    ("cuda", False, True, False),   # a paper step stops without a GPU, so it asks for one (a submit node);
])                                  # a study's cuda falls back to the CPU there and holds none
def test_one_rule_decides_who_holds_a_gpu_slot(device: str, present: bool, papers: bool, study: bool) -> None:
    assert holds_gpu(device, present) is papers
    assert holds_gpu(device, present, cuda_falls_back=True) is study


def test_the_workflow_asks_the_one_rule() -> None:
    """The Snakefile's USE_GPU and an analyze study's slot both come from holds_gpu: no second copy of the rule."""
    common = (Path(__file__).resolve().parents[1] / "workflow" / "rules" / "common.smk").read_text()
    assert 'USE_GPU = holds_gpu(config["device"], gpu_present())' in common
    assert "holds_gpu(device, gpu_present(), cuda_falls_back=True)" in common
    assert common.count("gpu_present()") == 2 and '"cuda"' not in common and '"auto"' not in common
    with pytest.raises(NnspectraError, match="device 'gpu' is not one of"):
        holds_gpu("gpu", True)
