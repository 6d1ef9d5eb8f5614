"""The hang guard of the workflow tests (tests/conftest.py): a silent run is stopped and the failure names
what was still running; a run that keeps printing is never cut short."""

from __future__ import annotations

import base64
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import incomplete_outputs, run_guarded, running_jobs

LOG = """\
[Sat Nov 28 07:23:37 2026]
rule blobs_train:
    input: results/smoke/blobs/data/k2_cov1/seed0/data.npz
    output: results/smoke/blobs/runs/sgd_relu_k2_cov1/seed0/model_final.pt
    jobid: 7
    wildcards: alg=sgd, act=relu, k=2, cov=1, seed=0
    resources: tmpdir=/tmp
[Sat Nov 28 07:23:38 2026]
localrule fig2:
    output: results/smoke/figures/fig2.png
    jobid: 3
[Sat Nov 28 07:23:39 2026]
Finished jobid: 3 (Rule: fig2)
1 of 9 steps (11%) done
"""


def test_running_jobs_are_those_started_and_not_finished() -> None:
    assert running_jobs(LOG) == ["blobs_train (jobid 7, alg=sgd, act=relu, k=2, cov=1, seed=0)"]
    assert running_jobs(LOG + "Finished jobid: 7 (Rule: blobs_train)\n") == []


def test_incomplete_outputs_are_decoded(tmp_path: Path) -> None:
    name = "results/smoke/realdata/lbsb/sb/seed0/spectrum.npz"
    marker = tmp_path / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(name.encode()).decode()
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    (found,) = incomplete_outputs(tmp_path)
    assert found.startswith(name + " (started 0.0 min ago)")


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "fake_snakemake.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_a_silent_run_is_stopped_and_named(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cmd = _script(tmp_path, f"""
        import subprocess, sys, time
        print({LOG!r}, flush=True)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)  # the stuck job"])
        open("child.pid", "w").write(str(child.pid))
        time.sleep(120)
    """)
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception) as failure:
        run_guarded(cmd, work, dict(os.environ), hang_min=0.05)
    message = str(failure.value)
    assert time.monotonic() - start < 60
    assert "printed nothing for 0.05 min" in message
    assert "blobs_train (jobid 7, alg=sgd" in message  # the job the log shows as running
    assert "time.sleep(120)  # the stuck job" in message  # the process listing
    assert "1 of 9 steps (11%) done" in message  # the log's last lines
    child = int((work / "child.pid").read_text())
    time.sleep(0.5)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2], \
        "the stuck job was left running"


def test_a_run_that_keeps_printing_is_not_stopped(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cmd = _script(tmp_path, """
        import sys, time
        for i in range(8):
            print(f"{i} of 8 steps done", flush=True)
            time.sleep(0.5)
        sys.exit(3)
    """)
    proc = run_guarded(cmd, work, dict(os.environ), hang_min=0.02)  # silent limit 1.2 s < total 4 s
    assert proc.returncode == 3
    assert proc.stdout.splitlines()[-1] == "7 of 8 steps done"
