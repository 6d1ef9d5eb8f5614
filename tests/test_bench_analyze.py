"""Plumbing of benchmarks/bench_analyze.py on tiny sizes (no timing assertions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_analyze.py"
spec = importlib.util.spec_from_file_location("bench_analyze", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)  # type: ignore[union-attr]


def test_product_rows_agree_with_curvlinops_and_carry_the_flop_bound(tmp_path: Path) -> None:
    rows = bench.product_rows([4], image=16, reps=1, gflops=100.0)
    methods = [r["method"] for r in rows]
    assert methods[:2] == ["ours: product on the kept graph", "ours: setup (graph) + 1 product"]
    assert all(r["P"] == 11_181_642 and r["flop_bound_s"] > 0 for r in rows)
    if "curvlinops HessianLinearOperator @ v" in methods:  # a test extra
        assert rows[-1]["rel_diff_vs_ours"] < 1e-4
    bench.write(rows, str(tmp_path / "out"), "header")
    frame = pd.read_csv(tmp_path / "out.csv")
    assert "bound_fraction" in frame and (tmp_path / "out.md").read_text().startswith("header")


def test_study_rows_read_the_snakemake_benchmark_files(tmp_path: Path) -> None:
    assert "no benchmark files" in bench.study_rows(tmp_path)[0]["note"]
    folder = tmp_path / "logs" / "analyze_run"
    folder.mkdir(parents=True)
    (folder / "mine.bench.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n12.5\t0:00:12\t300.0\t7.25\n")
    (row,) = bench.study_rows(tmp_path)
    assert (row["case"], row["cpu_s"], row["wall_s"]) == ("study mine", 7.25, 12.5)


def test_gpu_target_runs_a_study_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = tmp_path / "gpu.yaml"
    cfg.write_text("""
analyze:
  studies:
    tiny:
      model: {name: "module:nnspectra.models.mlp:make_mlp", kwargs: {sizes: [64, 3, 10], init: torch}}
      dataset: {name: digits, n_samples: 20, flatten: true}
      device: cuda
      analysis: {method: lanczos, top_k: 3, bottom_k: 0, slq_probes: 1, slq_steps: 4, trace_probes: 2, blocks: none}
""")
    (row,) = bench.gpu_target(str(cfg))
    assert row["case"] == "gpu target tiny" and "'used': 'cpu'" in row["note"] and "on cpu" in row["note"]
