"""Benchmark plumbing (no timing assertions): sizes, in-process method runs, target verdicts."""

from __future__ import annotations

import torch
from torch import nn

import sys
from pathlib import Path

from nnspectra.curvature import hessian

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from curvature_harness import (FULL_CASES, _build, _frame, _hvp_loop, n_params, run_child,  # noqa: E402
                               summary_markdown, target_checks)


def test_issue_sizes():
    assert [n_params(w) for _, w, _ in FULL_CASES] == [5510, 4022, 10345, 19885]
    assert all(n == 1000 for _, _, n in FULL_CASES)


def test_hvp_loop_reference_equals_ours():
    model, x, y = _build([6, 4, 3], 15)
    torch.testing.assert_close(_hvp_loop(model, nn.functional.cross_entropy, x, y),
                               hessian(model, nn.functional.cross_entropy, x, y), rtol=1e-10, atol=1e-14)


def test_run_child_records_accuracy(tmp_path):
    spec = {"widths": [5, 4, 3], "n": 12, "tmp": str(tmp_path), "reps": 2, "slow_s": 100.0}
    ref = run_child({**spec, "method": "torch_func", "save_reference": True})
    assert ref["saved_reference"] and ref["max_rel_diff"] < 1e-12 and ref["reps"] == 2
    ours = run_child({**spec, "method": "ours"})
    assert ours["reference"] == "dense" and ours["max_rel_diff"] < 1e-12
    run_child({**spec, "method": "eigvalsh"})
    lanczos = run_child({**spec, "method": "lanczos_top1"})
    assert lanczos["max_rel_diff"] < 1e-10 and lanczos["matvecs"] > 0


def test_target_verdicts_follow_the_numbers():
    base = {"case": "mlp100-30-30-50", "P": 5510, "N": 1000, "hessian_mb": 100.0, "flop_bound_s": 2.0,
            "status": "ok", "reps": 3, "rss_before_mb": 500.0, "reference": "dense torch_func"}
    rows = [dict(base, method="torch_func", seconds=60, cpu_s=60, peak_rss_mb=9000.0),
            dict(base, method="hvp_loop", seconds=9, cpu_s=9, peak_rss_mb=700.0),
            dict(base, method="ours", seconds=5, cpu_s=5, peak_rss_mb=750.0, max_rel_diff=1e-15),
            dict(base, method="lanczos_top50", seconds=3, cpu_s=3, peak_rss_mb=600.0, max_rel_diff=2e-6)]
    frame = _frame(rows, 30.0)
    verdicts = {name: met for name, _, _, met in target_checks(frame)}
    assert verdicts == {"speed-up over torch_func": True, "speed-up over hvp_loop": False,
                        "time vs flop bound 4NP^2": False, "peak memory increase / Hessian size": True,
                        "Lanczos top-50 vs dense, max rel. error": False}
    text = summary_markdown(frame, 30.0, quick=False)
    assert "| speed-up over hvp_loop | >= 3x | 1.8x | NO |" in text
