"""Plumbing of benchmarks/bench_allocator.py at its quick size (rows written, faults counted; no timing assertion)."""

from __future__ import annotations

import csv
import platform
import subprocess
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_allocator.py"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_quick_run_appends_one_row_per_workload_and_allocator(tmp_path: Path) -> None:
    out = tmp_path / "allocator"
    for label in ("a", "b"):
        subprocess.run([sys.executable, str(PATH), "--quick", "--workloads", "p0_hessian_mlp",
                        "--out", str(out), "--label", label], check=True, capture_output=True, text=True)
    with open(out.with_suffix(".csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["label"], r["workload"], r["allocator"]) for r in rows] == [
        (label, "p0_hessian_mlp", a) for label in "ab" for a in ("default", "reuse")]
    assert all(float(r["cpu_ms"]) > 0 and float(r["wall_ms"]) > 0 and float(r["faults"]) >= 0 for r in rows)
