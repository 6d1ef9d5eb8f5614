"""Plumbing of benchmarks/bench_gpu_paths.py on a tiny case (no timing assertions)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu_paths.py"
spec = importlib.util.spec_from_file_location("bench_gpu_paths", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)  # type: ignore[union-attr]

TINY = {"kind": "convnet", "channels": [2, 3], "hidden": 5, "image": 16, "n": 24}


def child(tmp_path, method: str, **extra):  # type: ignore[no-untyped-def]
    spec_ = {"case": TINY, "method": method, "device": "cpu", "tmp": str(tmp_path), "k": 3, "probes": 4,
             "steps": 12, "reps": 2, "tol": 1e-12, "budget_gb": 1.0, "slq_block": None, "budget_mb": 1024.0}
    return bench.run_child({**spec_, **extra})


def test_case_sizes_match_the_models():
    for case in list(bench.CASES.values()) + list(bench.QUICK_CASES.values()) + [TINY]:
        model, x, _ = bench._build({**case, "n": 2}, "cpu")
        assert bench._n_params(case) == sum(p.numel() for p in model.parameters())
    assert bench._n_params(bench.CASES["convnet"]) == 11_978
    assert bench._n_params(bench.CASES["mlp55k"]) == 55_660
    assert bench._n_params(bench.CASES["alexnet"]) == 1_756_426


def test_flop_bound_and_triangular_work_of_an_mlp():
    case = {"kind": "mlp", "widths": [784, 70, 10], "n": 5}
    model, x, _ = bench._build(case, "cpu")
    assert bench.forward_flops(model, x) == 2 * 5 * (784 * 70 + 70 * 10)  # 4x this = 8 N P (weights)
    f1, f2 = 784 * 70, 70 * 10
    assert bench.tail_work(model, x) == pytest.approx(784 * 70 + 70 + (70 * 10 + 10) * f2 / (f1 + f2))


def test_rows_record_accuracy_against_the_dense_spectrum(tmp_path):
    prod = child(tmp_path, "product_ours")
    assert prod["P"] == 285 and prod["graph_mb"] > 0 and 0 < prod["tail_work"] <= 285
    dense = child(tmp_path, "dense_ours")
    assert dense["max_rel_diff"] < 1e-12 and (tmp_path / "dense_eigenvalues.npy").exists()
    eigs = np.load(tmp_path / "dense_eigenvalues.npy")
    for method in ("lanczos_ours", "lanczos_arpack"):
        rec = child(tmp_path, method)
        assert rec["reference"] == "dense top-3" and rec["max_rel_diff"] < 1e-10 and rec["products"] > 0
    slq = child(tmp_path, "slq_ours")
    assert slq["products"] == 48 and slq["reference"] == "dense eigenvalues"
    assert slq["w1_over_range"] < 0.2 and slq["trace_exact"] == pytest.approx(eigs.sum())
    gn = child(tmp_path, "slq_gn_ours")
    assert gn["lambda_max"] > 0 and "w1_over_range" not in gn


def test_curvlinops_rows(tmp_path):
    pytest.importorskip("curvlinops")
    child(tmp_path, "dense_ours")
    assert child(tmp_path, "lanczos_curvlinops")["max_rel_diff"] < 1e-10
    assert child(tmp_path, "slq_curvlinops")["w1_over_range"] < 0.2
    assert child(tmp_path, "product_curvlinops")["cpu_s"] > 0


def test_predictions_and_skips(tmp_path):
    spec_ = {"case": bench.CASES["mlp55k"], "k": 20, "probes": 10, "steps": 100, "budget_mb": 16 * 1024.0}
    secs, mib = bench.predict("dense_ours", 55_660, 0.01, 7.0, spec_, 50.0)
    assert mib > 2 * 55_660**2 * 8 / 2**20  # 47,268 MiB: over a 16 GiB budget, so the row is skipped
    secs, mib = bench.predict("slq_ours", 55_660, 0.01, 7.0, spec_, 50.0)
    assert secs == pytest.approx(1000 * (0.01 + 200 * 55_660 / 5e9))
    assert mib == pytest.approx(7.0 + 1000 * 55_660 * 8 / 2**20)
    secs, mib = bench.predict("slq_curvlinops", 55_660, 0.01, 7.0, spec_, 50.0)
    assert secs == pytest.approx(10.0)
    args = bench.argparse.Namespace(device="cpu", quick=True, cases="mlp784-20-10", methods="product_ours,dense_ours",
                                    cap=1800.0, budget_gb=0.5, k=3, tol=1e-8, probes=2, steps=3, slq_block=None,
                                    reps=1, out=str(tmp_path / "out"))
    rows = bench.run(args, log=lambda msg: None)
    assert rows[0]["status"] == "ok" and rows[1]["status"].startswith("skipped: predicted") and "GiB" in rows[1]["status"]
    text = (tmp_path / "out.md").read_text()
    assert "| mlp784-20-10 | 15,910 | dense_ours | skipped: predicted" in text
    assert (tmp_path / "out.csv").read_text().splitlines()[0].startswith("case,P,N,method,status")


def test_markdown_target_verdicts():
    meta = {"device": "cpu", "device_name": "test", "torch": torch.__version__, "gflops": 50.0, "quick": False,
            "k": 20, "probes": 10, "steps": 100}
    rows = [{"case": "convnet", "P": 11978, "method": "dense_ours", "status": "ok", "wall_s": 400.0, "cpu_s": 290.0,
             "eig_cpu_s": 60.0},
            {"case": "mlp55k", "P": 55660, "method": "lanczos_ours", "status": "ok", "cpu_s": 2.0, "products": 100,
             "bound_s": 0.01}]
    text = bench.markdown([bench._derived(r, "cpu") for r in rows], meta)
    assert "| convnet (P = 11,978) full dense float64 spectrum <= 300 s | 290 s (eigvalsh 60 s CPU) | yes |" in text
    assert "| lanczos_ours at P = 55,660 <= 1.5x flop bound | 2.00x | NO |" in text
