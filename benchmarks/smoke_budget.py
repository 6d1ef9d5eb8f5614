"""Where the smoke preset's time goes: per-job overhead, CPU totals, critical path, a 2-core wall estimate.

    python benchmarks/smoke_budget.py [targets] [--configfile config/smoke.yaml] [--cores 2] [--work DIR] [--out DIR]
    python benchmarks/smoke_budget.py --analyze DIR      (a DIR this script ran in before)

Runs the preset once in a private copy of the workflow (``--work``, default a new temporary folder; the
checkout's results/ are never touched) and writes ``smoke_budget.md`` and ``smoke_jobs.csv`` to ``--out``
(default results/benchmarks). CPU times are measured, not sampled, so they hold on a busy machine:

* each job's whole process (interpreter start, Snakemake's script preamble, imports, the step, provenance):
  an ``atexit`` hook in a ``sitecustomize.py`` put on the jobs' PYTHONPATH for this run only;
* the step itself: ``cpu_time_s`` of the job's provenance sidecar, so overhead = process - step;
* Snakemake's main process (DAG, scheduling, bookkeeping; /proc sampled every 0.2 s) and its other children
  (shells, the ILP scheduler's solver): the main process's children total minus the jobs;
* the critical path of the DAG (from the run's log) with job cost = process CPU + Snakemake's CPU per job,
  and a greedy longest-path-first schedule on ``--cores`` idle cores: the wall-time estimate for an idle
  machine (the jobs are single-threaded, so on an idle core wall ~ CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from nnspectra.pipeline.sidecar import SidecarError, read_sidecar

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "config", "workflow", "src", "benchmarks")
TICK = os.sysconf("SC_CLK_TCK")
HEAVY = ("torch", "pandas", "matplotlib", "scipy")

SITECUSTOMIZE = '''
import atexit, json, os, resource, sys, time
_T0, _LOG = time.time(), os.environ.get("SMOKE_BUDGET_JOB_LOG")

def _record():
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    if job is None or not _LOG:
        return
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(_LOG, "a") as f:
        f.write(json.dumps({"rule": job.rule, "output": str(list(job.output)[0]) if len(job.output) else "",
                            "cpu_s": me.ru_utime + me.ru_stime, "children_cpu_s": kids.ru_utime + kids.ru_stime,
                            "start": _T0, "end": time.time(), "heavy": sorted(m for m in %r if m in sys.modules)}) + "\\n")

atexit.register(_record)
''' % (HEAVY,)


def _proc_cpu(pid: int) -> tuple[float, float] | None:
    """(own CPU, reaped children's CPU) of a process in seconds, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / TICK, (cutime + cstime) / TICK


def _children_cpu() -> float:
    """CPU seconds of this process's reaped children so far (they include their own reaped children)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(work: Path, configfile: str, cores: int, targets: list[str] | None = None) -> dict:
    """Copy the workflow to ``work``, dry-run it (the DAG's cost), run it; Snakemake's numbers."""
    for name in WORKFLOW_PARTS:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name,
                                                             **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                                if src.is_dir() else {}))
    site = work / ".budget_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ, PYTHONPATH=f"{work / 'src'}:{site}", SMOKE_BUDGET_JOB_LOG=str(work / "jobs.jsonl"),
               OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", MKL_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "snakemake", *(targets or []), "--cores", str(cores), "--configfile", configfile]
    before = _children_cpu()
    dry = subprocess.run([*cmd, "-n"], cwd=work, env=env, capture_output=True, text=True)
    dry_cpu, before = _children_cpu() - before, _children_cpu()
    if dry.returncode != 0:
        sys.exit(f"the dry run failed:\n{dry.stdout[-3000:]}{dry.stderr[-3000:]}")
    with open(work / "run.log", "w") as log:
        t0 = time.time()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        last = (0.0, 0.0)
        while proc.poll() is None:
            last = _proc_cpu(proc.pid) or last
            time.sleep(0.2)
        wall = time.time() - t0
    if proc.returncode != 0:
        sys.exit(f"the smoke run failed (exit {proc.returncode}); see {work / 'run.log'}")
    record = {"wall_s": wall, "total_cpu_s": _children_cpu() - before, "main_cpu_s": last[0],
              "dry_run_cpu_s": dry_cpu, "cores": cores, "configfile": configfile,
              "load_at_end": os.getloadavg()}
    (work / "run.json").write_text(json.dumps(record, indent=2))
    return record


def dag_from_log(text: str) -> dict[str, dict]:
    """Jobs of the run (by jobid) with rule, outputs and the jobids they depend on, from Snakemake's log."""
    jobs: dict[str, dict] = {}
    for m in re.finditer(r"^(?:local)?rule (\w+):\n((?:[ \t]+.*\n?)*)", text, re.M):
        fields = dict(re.findall(r"^\s+(\w+): (.*)$", m.group(2), re.M))
        if "jobid" in fields:
            jobs[fields["jobid"]] = {"rule": m.group(1),
                                     "output": [f.strip() for f in fields.get("output", "").split(",") if f.strip()],
                                     "input": [f.strip() for f in fields.get("input", "").split(",") if f.strip()]}
    producer = {out: jid for jid, job in jobs.items() for out in job["output"]}
    for job in jobs.values():
        job["deps"] = sorted({producer[f] for f in job["input"] if f in producer})
    return jobs


def _sidecar_cpu(work: Path, output: str) -> float | None:
    try:
        return read_sidecar(work / output).cpu_time_s or 0.0
    except SidecarError:
        return None


def schedule(jobs: dict[str, dict], cost: dict[str, float], cores: int,
             order: dict[str, int] | None = None) -> tuple[float, list[str]]:
    """List schedule on ``cores`` workers: its makespan, and the critical path (the longest chain of costs
    through the DAG). A free worker takes the ready job that comes first in ``order`` (e.g. the order in
    which Snakemake started them), else the one with the longest path to the end."""
    children: dict[str, list[str]] = defaultdict(list)
    for jid, job in jobs.items():
        for dep in job["deps"]:
            children[dep].append(jid)
    level: dict[str, float] = {}

    def bottom(jid: str) -> float:
        if jid not in level:
            level[jid] = cost[jid] + max((bottom(c) for c in children[jid]), default=0.0)
        return level[jid]

    for jid in jobs:
        bottom(jid)
    start = max(jobs, key=lambda j: level[j] if not jobs[j]["deps"] else -1)
    path = [start]
    while children[path[-1]]:
        path.append(max(children[path[-1]], key=level.__getitem__))
    waiting = {jid: len(job["deps"]) for jid, job in jobs.items()}
    ready = [jid for jid, n in waiting.items() if n == 0]
    free, running, now = cores, [], 0.0
    while ready or running:
        ready.sort(key=(lambda j: -order[j]) if order else level.__getitem__)
        while free and ready:
            jid = ready.pop()
            running.append((now + cost[jid], jid))
            free -= 1
        running.sort()
        now, done = running.pop(0)
        free += 1
        for child in children[done]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return now, path


def analyze(work: Path, out: Path) -> str:
    """Per-job and per-rule table, totals, critical path and the idle 2-core estimate; writes out/*."""
    record = json.loads((work / "run.json").read_text())
    cores = int(record["cores"])
    jobs = dag_from_log((work / "run.log").read_text(errors="replace"))
    measured = {}
    for line in (work / "jobs.jsonl").read_text().splitlines():
        entry = json.loads(line)
        measured[entry["output"]] = entry
    rows = []
    for jid, job in jobs.items():
        entry = measured.get(job["output"][0]) if job["output"] else None
        process = entry["cpu_s"] + entry["children_cpu_s"] if entry else 0.0
        step = _sidecar_cpu(work, job["output"][0]) if job["output"] else None
        rows.append({"jobid": jid, "rule": job["rule"], "process_cpu_s": process, "step_cpu_s": step or 0.0,
                     "overhead_s": process - (step or 0.0) if entry else 0.0,
                     "heavy": "+".join(entry["heavy"]) if entry else "", "output": job["output"][0] if job["output"] else ""})
    n_jobs = sum(1 for r in rows if r["process_cpu_s"] > 0)
    jobs_cpu = sum(r["process_cpu_s"] for r in rows)
    step_cpu = sum(r["step_cpu_s"] for r in rows)
    main_cpu = record["main_cpu_s"]
    other = record["total_cpu_s"] - main_cpu - jobs_cpu  # teardown after atexit, shells, the ILP solver
    per_job_snakemake = (main_cpu - record["dry_run_cpu_s"] + other) / max(n_jobs, 1)
    cost = {r["jobid"]: r["process_cpu_s"] + (per_job_snakemake if r["process_cpu_s"] > 0 else 0.0) for r in rows}
    makespan, path = schedule(jobs, cost, cores)
    replay, _ = schedule(jobs, cost, cores, order={jid: i for i, jid in enumerate(jobs)})  # log order = start order
    estimate = record["dry_run_cpu_s"] + makespan
    critical, work_ = sum(cost[j] for j in path), sum(cost.values())
    bound = record["dry_run_cpu_s"] + max(critical, work_ / cores)
    any_order = record["dry_run_cpu_s"] + work_ / cores + (1 - 1 / cores) * critical  # Graham's bound

    by_rule: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_rule[r["rule"]].append(r)
    lines = [f"# Smoke budget ({record['configfile']}, --cores {cores})", "",
             f"Measured in `{work}`; load average at the end {', '.join(f'{x:.1f}' for x in record['load_at_end'])}.",
             "", "| quantity | value |", "|---|---|",
             f"| wall time of this run (machine as loaded as it was) | {record['wall_s'] / 60:.1f} min |",
             f"| CPU, everything (Snakemake + jobs + their children) | {record['total_cpu_s'] / 60:.2f} min |",
             f"| CPU, jobs ({n_jobs} processes, interpreter start to atexit) | {jobs_cpu / 60:.2f} min |",
             f"| CPU, steps (inside `Step`, from the sidecars) | {step_cpu / 60:.2f} min |",
             f"| CPU, per-job overhead (process - step) | {(jobs_cpu - step_cpu) / 60:.2f} min "
             f"({(jobs_cpu - step_cpu) / max(n_jobs, 1):.2f} s per job) |",
             f"| CPU, Snakemake main process (DAG {record['dry_run_cpu_s']:.1f} s as a dry run) | {main_cpu / 60:.2f} min |",
             f"| CPU, the rest: jobs' interpreter teardown after atexit, shells, ILP solver | {other / 60:.2f} min |",
             f"| Snakemake's CPU per job (main - DAG + other) / jobs | {per_job_snakemake:.2f} s |",
             f"| critical path ({len(path)} jobs) | {sum(cost[j] for j in path) / 60:.2f} min |",
             f"| **estimate on {cores} idle cores**: DAG + longest-path-first schedule of the job costs | "
             f"**{estimate / 60:.1f} min** (no schedule beats {bound / 60:.1f} min) |",
             f"| the same, jobs started in the order this run started them | {(record['dry_run_cpu_s'] + replay) / 60:.1f} min |",
             f"| the same, worst job order (Graham's bound: work / cores + (1 - 1/cores) critical path) | "
             f"{any_order / 60:.1f} min |", "",
             "Critical path: " + " -> ".join(f"{jobs[j]['rule']} ({cost[j]:.0f} s)" for j in path), "",
             "| rule | jobs | process CPU s | step CPU s | overhead s/job | imports |", "|---|---|---|---|---|---|"]
    for rule, items in sorted(by_rule.items(), key=lambda kv: -sum(r["process_cpu_s"] for r in kv[1])):
        proc = sum(r["process_cpu_s"] for r in items)
        lines.append(f"| {rule} | {len(items)} | {proc:.1f} | {sum(r['step_cpu_s'] for r in items):.1f} | "
                     f"{sum(r['overhead_s'] for r in items) / len(items):.2f} | "
                     f"{', '.join(sorted({r['heavy'] for r in items if r['heavy']}))} |")
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "smoke_budget.md").write_text(text)
    header = list(rows[0]) if rows else []
    (out / "smoke_jobs.csv").write_text("\n".join([",".join(header)] + [",".join(str(r[k]) for k in header)
                                                                        for r in rows]) + "\n")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", default="config/smoke.yaml")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work", default=None, help="empty folder to run in (default: a new temporary one)")
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks"), help="where the report goes")
    parser.add_argument("targets", nargs="*", help="targets (default: the whole preset)")
    parser.add_argument("--analyze", default=None, metavar="DIR", help="only analyze a run made before in DIR")
    args = parser.parse_args()
    if args.analyze:
        work = Path(args.analyze)
    else:
        work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="smoke-budget-"))
        work.mkdir(parents=True, exist_ok=True)
        run(work, args.configfile, args.cores, args.targets)
    print(analyze(work, Path(args.out)), end="")


if __name__ == "__main__":
    main()
