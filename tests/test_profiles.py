"""Execution profiles parse, and a dry run with them plans every job with its resources.

Every dry run happens in a private copy of the workflow (``copy_workflow``), so results of pipeline runs in
the checkout cannot make these tests plan nothing; ``test_a_finished_checkout_does_not_change_the_plan``
plants such a results tree and shows it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import copy_workflow_from, run_snakemake

SMOKE = ("--configfile", "config/smoke.yaml")


def _dry_run(work: Path, *args: str) -> str:
    proc = run_snakemake(work, "-n", *args)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


def _job_blocks(out: str) -> list[str]:
    blocks = re.split(r"\n(?=(?:local)?rule \w+:)", out)
    return [b for b in blocks if re.match(r"(?:local)?rule \w+:", b) and not b.startswith(("localrule all", "rule all"))]


def _check_resources(out: str) -> None:
    blocks = _job_blocks(out)
    assert blocks, "the dry run planned no jobs"
    for block in blocks:
        name = block.split(":")[0]
        if name.startswith("localrule"):
            continue  # aggregation rules run on the submit host
        assert re.search(r"resources:.*\bmem_mb=\d+", block), f"{name} declares no mem_mb"
        assert re.search(r"resources:.*\bruntime=\d+", block), f"{name} declares no runtime"
        assert "log:" in block, f"{name} has no log file"


@pytest.mark.parametrize("profile", ["slurm", "local-gpu"])
def test_profile_dry_run_declares_resources(tmp_path: Path, copy_workflow, profile: str) -> None:
    if profile == "slurm":
        pytest.importorskip("snakemake_executor_plugin_slurm")
    work = copy_workflow(tmp_path / "work")
    _check_resources(_dry_run(work, "--profile", f"workflow/profiles/{profile}", *SMOKE))


def test_gpu_capable_jobs_claim_a_gpu_only_when_running_on_cuda(tmp_path: Path, copy_workflow) -> None:
    work = copy_workflow(tmp_path / "work")
    on_gpu = _dry_run(work, "--profile", "workflow/profiles/local-gpu", *SMOKE)
    gpu_jobs = {b.split(":")[0] for b in _job_blocks(on_gpu) if re.search(r"resources:.*\bgpu=1\b", b)}
    assert "rule blobs_spectrum" in gpu_jobs and "rule realdata_mnist_train" in gpu_jobs
    on_cpu = _dry_run(work, "--cores", "2", *SMOKE, "--config", "device=cpu")
    assert not [b for b in _job_blocks(on_cpu) if re.search(r"resources:.*\bgpu=1\b", b)]


def _plant_finished_results(checkout: Path) -> int:
    """Create every file a smoke run would write (outputs, logs, benchmarks) and Snakemake's records of them:
    what a checkout looks like after ``snakemake --configfile config/smoke.yaml`` finished. Returns the count."""
    planned = _dry_run(checkout, "--cores", "1", *SMOKE)
    files = set()
    for match in re.finditer(r"^\s+(?:output|log|benchmark): (.+)$", planned, re.M):
        files |= {f.strip() for f in match.group(1).split(",")}
    for name in sorted(files):
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("planted\n")
    # record them as made by the current code and params, as a real run does (.snakemake/metadata)
    touched = run_snakemake(checkout, "--touch", "--cores", "1", *SMOKE)
    assert touched.returncode == 0, touched.stdout[-3000:]
    return len(files)


def test_a_finished_checkout_does_not_change_the_plan(tmp_path: Path) -> None:
    checkout = copy_workflow_from(Path(__file__).resolve().parents[1], tmp_path / "checkout")  # the user's checkout
    assert _plant_finished_results(checkout) > 50
    assert "Nothing to be done" in _dry_run(checkout, "--cores", "1", *SMOKE), \
        "the planted tree does not look finished, so this test proves nothing"
    # the profile tests above, run against that checkout, still see the whole DAG
    from_checkout = lambda dest: copy_workflow_from(checkout, dest)  # noqa: E731
    test_profile_dry_run_declares_resources(tmp_path / "a", from_checkout, "local-gpu")
    test_gpu_capable_jobs_claim_a_gpu_only_when_running_on_cuda(tmp_path / "b", from_checkout)


def test_default_profile_reruns_what_an_interrupted_run_left_incomplete(tmp_path: Path, copy_workflow) -> None:
    """After Ctrl-C, `snakemake --unlock` and the same command again must work (README "Resuming"): the default
    workflow profile (profiles/default/, read by every plain `snakemake`) sets rerun-incomplete."""
    import base64
    import json

    work = copy_workflow(tmp_path / "wf")
    target = "results/smoke/blobs/data/k2_cov1/seed0/data.npz"
    (work / target).parent.mkdir(parents=True)
    (work / target).write_bytes(b"half written")
    # the marker Snakemake's file persistence leaves for an output whose job was cut off
    marker = work / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(target.encode()).decode()
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"external_jobid": None}))

    without = run_snakemake(work, "-n", target, *SMOKE, "--workflow-profile", "none")
    assert without.returncode != 0 and "IncompleteFilesException" in without.stdout, without.stdout[-2000:]
    assert run_snakemake(work, "--unlock", *SMOKE).returncode == 0
    plan = _dry_run(work, target, *SMOKE)
    assert "profiles/default" in plan and "rule blobs_data:" in plan, plan[-2000:]  # rerun, not refused
