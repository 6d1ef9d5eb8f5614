"""Shared test fixtures: single-threaded torch, repository paths, the shared real datasets."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
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
    """Makes a private copy of the workflow and the library (Snakefile, config/, workflow/, src/, benchmarks/)
    in a folder to run Snakemake in; run it with :func:`workflow_env` so the copy's library is the one used.

    Tests never touch the checkout's results/, so they pass whatever pipeline runs happened there.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")

    def copy(dest: Path) -> Path:
        for name in ("Snakefile", "config", "workflow", "src", "benchmarks"):
            src = repo_root / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=ignore)
            else:
                shutil.copy(src, dest / name)
        return dest
    return copy


def workflow_env(work: Path, **extra: str) -> dict[str, str]:
    """Environment for a Snakemake run in a workflow copy: its own src/ first on the path, one thread."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", MPLBACKEND="Agg",
               PYTHONPATH=str(work / "src"), **extra)
    if SHARED_DATA.is_dir():
        env.setdefault("NNSPECTRA_DATA", str(SHARED_DATA))
    return env
