"""The smoke-budget harness (benchmarks/smoke_budget.py): DAG from a Snakemake log, schedules with known
makespans, and the per-job CPU hook (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from smoke_budget import SITECUSTOMIZE, dag_from_log, schedule  # noqa: E402

LOG = """\
[Sat Nov 28 07:23:37 2026]
rule make_a:
    output: a.txt, a2.txt
    jobid: 3
    resources: tmpdir=/tmp
[Sat Nov 28 07:23:37 2026]
rule make_b:
    output: b.txt
    jobid: 2
Finished jobid: 3 (Rule: make_a)
[Sat Nov 28 07:23:38 2026]
rule join:
    input: a.txt, b.txt, data/raw.csv
    output: c.txt
    log: logs/join.log
    jobid: 1
[Sat Nov 28 07:23:39 2026]
localrule all:
    input: c.txt, a2.txt
    jobid: 0
"""


def test_dag_from_log() -> None:
    jobs = dag_from_log(LOG)
    assert list(jobs) == ["3", "2", "1", "0"]  # the order Snakemake started them
    assert jobs["1"]["rule"] == "join" and jobs["1"]["deps"] == ["2", "3"]  # data/raw.csv has no producer
    assert jobs["0"]["rule"] == "all" and jobs["0"]["deps"] == ["1", "3"]
    assert jobs["3"]["output"] == ["a.txt", "a2.txt"] and jobs["3"]["deps"] == []


def test_schedule_makespans() -> None:
    # a fork-join: 4 independent jobs of 3 s, then one of 1 s; on 2 cores 3 + 3 + 1, on 4 cores 3 + 1
    jobs = {str(i): {"deps": []} for i in range(4)} | {"end": {"deps": ["0", "1", "2", "3"]}}
    cost = {str(i): 3.0 for i in range(4)} | {"end": 1.0}
    assert schedule(jobs, cost, 2)[0] == 7.0
    makespan, path = schedule(jobs, cost, 4)
    assert makespan == 4.0 and len(path) == 2 and path[-1] == "end"
    # the long chain a -> b first keeps both cores busy: 2 + 6 = 8 against 10 when the short jobs go first
    jobs = {"a": {"deps": []}, "b": {"deps": ["a"]}, "s1": {"deps": []}, "s2": {"deps": []}}
    cost = {"a": 2.0, "b": 6.0, "s1": 4.0, "s2": 4.0}
    makespan, path = schedule(jobs, cost, 2)
    assert (makespan, path) == (8.0, ["a", "b"])
    assert schedule(jobs, cost, 2, order={"s1": 0, "s2": 1, "a": 2, "b": 3})[0] == 12.0


def test_sitecustomize_records_a_scripts_whole_cpu(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    script = tmp_path / "job.py"
    script.write_text("class J:\n    rule = 'demo'\n    output = ['out.txt']\nsnakemake = J()\n"
                      "x = sum(i * i for i in range(2_000_000))\n")
    log = tmp_path / "jobs.jsonl"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), SMOKE_BUDGET_JOB_LOG=str(log))
    subprocess.run([sys.executable, str(script)], env=env, check=True)
    subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)  # not a job: nothing recorded
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["rule"] == "demo" and record["output"] == "out.txt"
    assert record["cpu_s"] > 0.05 and record["end"] >= record["start"]
