"""`nnspectra status`: jobs done / total from Snakemake's plans, time left from the measured per-rule times."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnspectra.pipeline.progress import Progress, parse_job_stats, running_outputs, seconds_per_job

DRY_RUN = """Building DAG of jobs...
Job stats:
job                  count
-----------------  -------
all                      1
blobs_data               4
fig1                     1
total                    6

Reasons:
    (check individual jobs above for details)
"""


def test_job_stats_are_read_from_a_dry_run() -> None:
    assert parse_job_stats(DRY_RUN) == {"all": 1, "blobs_data": 4, "fig1": 1}
    assert parse_job_stats("Building DAG of jobs...\nNothing to be done (all requested files are present).") == {}


def test_time_left_is_jobs_to_go_times_the_measured_mean(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for rule, seconds in (("blobs_data", (10.0, 30.0)), ("fig1", (90.0,))):
        (logs / rule).mkdir(parents=True)
        for i, s in enumerate(seconds):
            (logs / rule / f"job{i}.bench.tsv").write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{s}\t0:00:10\t100\t{s / 2}\n")
    means = seconds_per_job(tmp_path)
    assert means == {"blobs_data": 20.0, "fig1": 90.0}
    state = Progress(total={"all": 1, "blobs_data": 4, "fig1": 1, "table1": 2},
                     to_go={"all": 1, "blobs_data": 3, "table1": 2}, seconds_per_job=means, running=["x"])
    assert (state.jobs_total, state.jobs_to_go) == (7, 5)  # `all` only collects: not a job to wait for
    assert state.seconds_left() == pytest.approx(60.0) and state.unmeasured == {"table1": 2}
    lines = state.lines(cores=2)
    assert lines[0] == "jobs: 2 of 7 done (29%), 5 to go; 1 outputs marked in progress"
    assert lines[1].startswith("time left: ≈0.5 min wall on 2 cores (1.0 job-min for 3 jobs")
    assert "2 jobs of 1 rule with no finished job yet (table1)" in lines[2]
    # on a shared machine the wall pace is slower than the CPU time: the idle-core estimate is read from cpu_time
    cpu_means = seconds_per_job(tmp_path, "cpu_s")
    assert cpu_means == {"blobs_data": 10.0, "fig1": 45.0}
    shared = Progress(total=state.total, to_go=state.to_go, seconds_per_job=means, cpu_seconds_per_job=cpu_means)
    assert shared.cpu_seconds_left() == pytest.approx(30.0)
    assert shared.lines(cores=2)[2].startswith("on idle cores: ≈0.2 min wall on 2 cores (0.5 CPU-min left")
    done = Progress(total={"fig1": 1}, to_go={}, seconds_per_job=means)
    assert done.lines(cores=2) == ["jobs: 1 of 1 done (100%), 0 to go; 0 outputs marked in progress",
                                   "time left: none, the target is up to date"]


def test_outputs_being_written_are_snakemakes_incomplete_markers(tmp_path: Path) -> None:
    import base64

    marker = tmp_path / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(b"results/smoke/a.npz").decode()
    marker.parent.mkdir(parents=True)
    marker.write_text("{}")
    (marker.parent / "migration_underway").write_text("")
    assert running_outputs(tmp_path) == ["results/smoke/a.npz"]
    assert running_outputs(tmp_path / "elsewhere") == []
    assert os.path.exists(marker)
