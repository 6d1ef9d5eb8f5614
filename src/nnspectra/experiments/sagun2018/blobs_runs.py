"""The blob networks of Sagun et al. (2018) Table 1 (Appendix A), verbatim, how their runs are named, and the
typed settings of the blob data, counting and figure sections.

Plain Python (no numpy/torch), so the workflow can read it while it plans the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nnspectra.errors import ConfigError
from nnspectra.experiments.settings import SeededSettings


@dataclass(frozen=True)
class BlobData(SeededSettings):
    """Config ``blobs.data``: training points N, input dimension, seed offset of the draw."""

    n_train: int = 100
    input_dim: int = 100


@dataclass(frozen=True)
class BlobCounting:
    """Config ``blobs.counting``: the top window of the outlier rules, the ratio rule's floor, the edge rule's tau."""

    top: int = 120
    ratio_floor: float = 1e-6
    edge_tau: float = 2.0


@dataclass(frozen=True)
class BlobFig2:
    """Config ``blobs.fig2``: the numbers of classes k shown, their covariance scale and seed."""

    ks: tuple[int, ...] = (2, 5, 10, 20, 50)
    cov: float = 1.0
    seed: int = 0


@dataclass(frozen=True)
class BlobFig3:
    """Config ``blobs.fig3``: the run shown (algorithm, activation, covariance scale, seed) for each k."""

    alg: str = "sgd"
    act: str = "relu"
    cov: float = 1.0
    ks: tuple[int, ...] = (2, 5, 10, 20, 50)
    seed: int = 0

# Sagun et al. (2018) Table 1, verbatim (SPEC §1.4): alg, act, size, cov, nc, gap, ratio, heur, cutoff.
PAPER_TABLE1: list[tuple[str, str, int, float, int, int, int, int | None, float | None]] = [
    ("gd", "tanh", 4022, 1.0, 2, 2, 3, None, None),
    ("gd", "tanh", 4115, 1.0, 5, 2, 17, None, None),
    ("gd", "tanh", 4270, 1.0, 10, 2, 4, None, None),
    ("gd", "tanh", 4580, 1.0, 20, 3, 4, None, None),
    ("gd", "relu", 4022, 1.0, 2, 3, 4, 2, 0.003),
    ("gd", "relu", 4115, 1.0, 5, 6, 7, 5, 0.003),
    ("gd", "relu", 4270, 1.0, 10, 11, 12, 10, 0.003),
    ("gd", "relu", 4580, 1.0, 20, 4, 21, 21, 0.003),
    ("gd", "relu", 5510, 1.0, 50, 50, 51, 49, 0.003),
    ("sgd", "relu", 4022, 1.0, 2, 3, 4, 2, 0.002),
    ("sgd", "relu", 4115, 1.0, 5, 6, 7, 7, 0.002),
    ("sgd", "relu", 4270, 1.0, 10, 2, 14, 15, 0.002),
    ("sgd", "relu", 4580, 1.0, 20, 2, 3, 21, 0.002),
    ("sgd", "relu", 5510, 1.0, 50, 50, 51, 49, 0.002),
    ("sgd", "relu", 4022, 10.0, 2, 2, 4, 2, 0.015),
    ("sgd", "relu", 4115, 10.0, 5, 5, 6, 5, 0.015),
    ("sgd", "relu", 4270, 10.0, 10, 2, 11, 9, 0.015),
    ("sgd", "relu", 4580, 10.0, 20, 20, 21, 19, 0.015),
    ("sgd", "relu", 5510, 10.0, 50, 50, 51, 49, 0.005),
]
PAPER_COLUMNS = ["alg", "act", "size", "cov", "nc", "gap", "ratio", "heur", "cutoff"]


def run_name(alg: str, act: str, k: int, cov: float) -> str:
    """Directory name of one configuration, e.g. ``sgd_relu_k10_cov1``."""
    return f"{alg}_{act}_k{int(k)}_cov{cov:g}"


def selected_runs(rows: Sequence[int] | str) -> list[dict[str, Any]]:
    """Configurations of the chosen Table 1 rows (``"all"`` or a list of row numbers)."""
    if rows == "all":
        rows = list(range(len(PAPER_TABLE1)))
    bad = [r for r in rows if not 0 <= int(r) < len(PAPER_TABLE1)]
    if bad:
        raise ConfigError(f"blobs.table1.rows has unknown row numbers {bad}; Table 1 has rows 0..{len(PAPER_TABLE1) - 1}")
    out = []
    for r in rows:
        alg, act, _, cov, nc = PAPER_TABLE1[int(r)][:5]
        out.append({"row": int(r), "alg": alg, "act": act, "k": int(nc), "cov": float(cov),
                    "name": run_name(alg, act, int(nc), float(cov))})
    return out
