"""Shared test fixtures: single-threaded torch, repository paths, the shared real datasets, private copies of
the workflow and a hang guard for the Snakemake runs in them."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> None:
    import torch

    torch.set_num_threads(1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The ``case`` argument of the curvature tests (tests/curvature/): every shared case of
    tests/curvature_cases.py, with its name as the id. A test that parametrises ``case`` itself (a subset such as
    ``MLP_CASES``) keeps its own list. (Here, not in a tests/curvature/conftest.py: a second module named
    ``conftest`` would shadow this one for the tests that ``from conftest import ...``.)"""
    if "case" not in metafunc.fixturenames or metafunc.definition.path.parent.name != "curvature":
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if "case" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)):
            return
    from curvature_cases import CASES, case_id

    metafunc.parametrize("case", CASES, ids=case_id)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout under test."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data_dir() -> Path | None:
    """``../shared/data`` (real MNIST/CIFAR-10) when present, else None."""
    return SHARED_DATA if SHARED_DATA.is_dir() else None



@pytest.fixture(scope="session")
def copy_workflow(repo_root: Path) -> Callable[[Path], Path]:
    """Makes a private copy of the workflow and the library (Snakefile, config/, workflow/, profiles/, src/, benchmarks/)
    in a folder to run Snakemake in; run it with :func:`workflow_env` so the copy's library is the one used.

    Tests never touch the checkout's results/, so they pass whatever pipeline runs happened there.
    """
    return lambda dest: copy_workflow_from(repo_root, dest)


WORKFLOW_PARTS = ("Snakefile", "config", "workflow", "profiles", "src", "benchmarks")


def copy_workflow_from(root: Path, dest: Path) -> Path:
    """Copy the workflow and library of the checkout ``root`` (never its results/ or .snakemake/) to ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_PARTS:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy(src, dest / name)
    return dest


def workflow_env(work: Path, **extra: str) -> dict[str, str]:
    """Environment for a Snakemake run in a workflow copy: its own src/ first on the path, one thread."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", MPLBACKEND="Agg",
               PYTHONPATH=str(work / "src"), **extra)
    if "NNSPECTRA_DEADLINE" not in extra:  # a run's time budget comes from its own config, never the tester's shell
        env.pop("NNSPECTRA_DEADLINE", None)
    if SHARED_DATA.is_dir():
        env.setdefault("NNSPECTRA_DATA", str(SHARED_DATA))
    return env


# -- hang guard for Snakemake runs -------------------------------------------------------------------------
# No wall-clock limit: a busy machine may take long. A run fails only when its log stays silent for this many
# minutes (Snakemake prints a line whenever a job starts or ends; the slowest smoke job takes ~1 CPU-minute).
HANG_GUARD_MIN = float(os.environ.get("NNSPECTRA_TEST_HANG_MIN", "20"))
_RULE_BLOCK = re.compile(r"^(?:local)?rule (\w+):\n((?:[ \t]+.*\n?)*)", re.M)
_FINISHED = re.compile(r"Finished jobid: (\d+)")


def running_jobs(log_text: str) -> list[str]:
    """Jobs the Snakemake log shows as started and not finished: 'rule (jobid N, wildcards ...)'."""
    finished = set(_FINISHED.findall(log_text))
    running = []
    for match in _RULE_BLOCK.finditer(log_text):
        body = match.group(2)
        jobid = re.search(r"^\s*jobid: (\d+)", body, re.M)
        if jobid is None or jobid.group(1) in finished:
            continue
        wildcards = re.search(r"^\s*wildcards: (.*)$", body, re.M)
        running.append(f"{match.group(1)} (jobid {jobid.group(1)}"
                       + (f", {wildcards.group(1)})" if wildcards else ")"))
    return running


def incomplete_outputs(work: Path) -> list[str]:
    """Outputs Snakemake marked as being written (``.snakemake/incomplete/``), with their age in minutes."""
    root = work / ".snakemake" / "incomplete"
    found = []
    for path in root.rglob("*") if root.is_dir() else []:
        if not path.is_file() or path.name == "migration_underway":
            continue
        encoded = "".join(part.removeprefix("@") for part in path.relative_to(root).parts)
        try:
            name = base64.urlsafe_b64decode(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            name = encoded
        found.append(f"{name} (started {(time.time() - path.stat().st_mtime) / 60:.1f} min ago)")
    return sorted(found)


def _descendants(pid: int) -> list[str]:
    """``ps`` lines (pid, elapsed, CPU time, command) of every process below ``pid``."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,etime=,time=,args="], capture_output=True, text=True)
    rows = [line.split(None, 4) for line in ps.stdout.splitlines() if len(line.split(None, 4)) == 5]
    children: dict[str, list[list[str]]] = {}
    for row in rows:
        children.setdefault(row[1], []).append(row)
    out, todo = [], [str(pid)]
    while todo:
        for row in children.get(todo.pop(), []):
            out.append(f"pid {row[0]} elapsed {row[2]} cpu {row[3]}: {row[4][:200]}")
            todo.append(row[0])
    return out


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT to Snakemake's process group (it cancels its jobs), then SIGKILL to whatever is left."""
    pids = [int(line.split()[1]) for line in _descendants(proc.pid)]
    for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
        for target in [proc.pid, *pids]:
            try:
                os.killpg(target, sig) if target == proc.pid else os.kill(target, sig)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def run_guarded(cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
                hang_min: float | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` (stdout and stderr together in a log file next to ``cwd``) with no time limit, but fail
    the test when the log stays silent for ``hang_min`` minutes, naming what was still running: the jobs
    the log shows as started and unfinished, Snakemake's incomplete outputs, and the processes (``ps``)."""
    quiet_s = 60 * (HANG_GUARD_MIN if hang_min is None else hang_min)
    log_path = cwd.parent / f"{cwd.name}-{time.strftime('%H%M%S')}-{os.getpid()}-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        last_size, last_change, hung = -1, time.monotonic(), ""
        try:
            while proc.poll() is None and not hung:
                time.sleep(0.5)
                size = log_path.stat().st_size
                if size != last_size:
                    last_size, last_change = size, time.monotonic()
                elif time.monotonic() - last_change > quiet_s:
                    text = log_path.read_text(errors="replace")
                    hung = "\n".join([
                        "jobs started, not finished (log): " + ("; ".join(running_jobs(text)) or "none"),
                        "incomplete outputs (.snakemake/incomplete): " + ("; ".join(incomplete_outputs(cwd)) or "none"),
                        "processes:", *(_descendants(proc.pid) or ["none"]),
                        f"last lines of {log_path}:", *text.splitlines()[-25:]])
        finally:
            if proc.poll() is None:  # hung, or the test was interrupted: leave nothing running
                _stop(proc)
    if hung:
        pytest.fail(f"hang guard: `{' '.join(cmd)}` printed nothing for {quiet_s / 60:g} min "
                    f"(NNSPECTRA_TEST_HANG_MIN); stopped it. Still running then:\n{hung}", pytrace=False)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, log_path.read_text(errors="replace"), "")


def run_snakemake(work: Path, *args: str, env: dict[str, str] | None = None,
                  hang_min: float | None = None) -> subprocess.CompletedProcess:
    """``python -m snakemake args`` in the workflow copy ``work`` (its own library, one thread per job) under
    the hang guard; ``.stdout`` holds stdout and stderr together."""
    return run_guarded([sys.executable, "-m", "snakemake", *args], work, env or workflow_env(work), hang_min)


@pytest.fixture
def user_pkg(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test package tests/analyze_user_pkg importable, as a user's package on PYTHONPATH would be."""
    monkeypatch.syspath_prepend(str(REPO_ROOT / "tests"))
    return "analyze_user_pkg.models"
