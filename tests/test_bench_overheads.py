"""Plumbing of benchmarks/bench_overheads.py at its quick size (rows written, no timing assertions)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import torch

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_overheads.py"
spec = importlib.util.spec_from_file_location("bench_overheads", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)  # type: ignore[union-attr]


def test_timed_wrapper_passes_products_through_and_counts_them():
    from nnspectra.curvature.operators import DenseOperator

    a = torch.randn(6, 6, dtype=torch.float64)
    a = a + a.T
    timed = bench.Timed(DenseOperator(a))
    v = torch.randn(3, 6, dtype=torch.float64)
    assert torch.equal(timed.matmat(v), v @ a) and timed.n_products == 3 and timed.cpu >= 0


def test_quick_rows_are_appended_with_cpu_and_wall(tmp_path):
    out = tmp_path / "overheads"
    for label in ("before", "after"):
        bench.main(["--quick", "--only", "hvp,lanczos", "--out", str(out), "--label", label])
    rows = list(csv.DictReader((tmp_path / "overheads.csv").open()))
    names = [r["row"] for r in rows if r["label"] == "after"]
    assert names == ["bound", "hvp_ours", "hvp_pyhessian", "hvp_pyhessian_flat", "hvp_curvlinops",
                     "lanczos_ours"]
    assert {r["label"] for r in rows} == {"before", "after"} and all(float(r["cpu_s"]) > 0 for r in rows)
    lanczos = next(r for r in rows if r["row"] == "lanczos_ours")
    assert int(lanczos["products"]) > 0 and lanczos["converged"] == "True"


def test_quick_slq_rows_for_each_reorthogonalisation(tmp_path):
    out = tmp_path / "slq"
    bench.main(["--quick", "--only", "slq", "--out", str(out)])
    rows = {r["row"]: r for r in csv.DictReader((tmp_path / "slq.csv").open())}
    assert [name for name in rows if name.startswith("slq")] == ["slq_ours", "slq_ours_partial", "slq_ours_none"]
    assert float(rows["slq_ours"]["reorth_steps"]) == 1.0 and float(rows["slq_ours_none"]["reorth_steps"]) == 0.0
    assert 0.0 <= float(rows["slq_ours_partial"]["reorth_steps"]) < 1.0
    assert all(float(rows[name]["products_cpu_s"]) > 0 for name in rows if name.startswith("slq"))
    # the floor counts the rows each mode read: none reads no basis row, partial (none at this size) fewer than full
    reads = {name: int(rows[name]["rows_read"]) for name in ("slq_ours", "slq_ours_partial", "slq_ours_none")}
    assert reads["slq_ours_none"] == 0 <= reads["slq_ours_partial"] < reads["slq_ours"] == 4 * 30 * 31 // 2
    floors = {name: float(rows[name]["krylov_floor"]) for name in reads}
    assert all(floor > 0 for floor in floors.values()) and floors["slq_ours"] > 2 * floors["slq_ours_none"]
    assert "GB/s" in rows["stream_rate"]["note"]


def test_krylov_bytes_counts_the_recurrence_and_each_row_read_once():
    assert bench.krylov_bytes(10, 3, 0) == 8 * 10 * 12
    assert bench.krylov_bytes(10, 3, 5) - bench.krylov_bytes(10, 3, 0) == 8 * 10 * 5


def test_rows_of_an_older_file_are_kept_under_the_new_columns(tmp_path):
    out = tmp_path / "old"
    (tmp_path / "old.csv").write_text("label,row,P,N,cpu_s,wall_s\nbefore,bound,1,2,0.5,nan\n")
    bench.main(["--quick", "--only", "hvp", "--out", str(out), "--label", "after"])
    rows = list(csv.DictReader((tmp_path / "old.csv").open()))
    assert rows[0]["label"] == "before" and rows[0]["cpu_s"] == "0.5" and rows[0]["krylov_floor"] == ""
    assert [r["row"] for r in rows[1:]][:2] == ["bound", "hvp_ours"]
