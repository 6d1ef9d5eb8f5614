"""Curvature benchmark harness: our exact Hessian and Lanczos edges against the reference methods.

Run it as ``python benchmarks/bench_curvature.py`` or through the workflow target ``bench_curvature``.

Rows are method x size. Each (method, size) runs in a fresh single-threaded subprocess, so its peak
RSS is its own. Methods:

* ``ours``            -- :func:`nnspectra.curvature.hessian` (method auto: layer GEMMs for MLPs);
* ``torch_func``      -- ``torch.func.hessian`` of a flattened-parameter ``functional_call``;
* ``hvp_loop``        -- P double-backward rows ``autograd.grad(g[i], params)`` (the approach of the
  2nd author's PyTorch utility, pytorchpruner ``hessian_fun``);
* ``eigvalsh``        -- all eigenvalues of our dense Hessian (torch/MKL syevd);
* ``lanczos_top50`` / ``lanczos_top1`` -- ``eigsh`` on the scipy view of :class:`HessianProducts` (tol 0);
* ``power_top1``      -- power iteration as PyHessian does it (100 iterations max, rel. tol 1e-3).

Data are seeded random inputs of the papers' shapes (100-d blobs-like Gaussians, 784-d MNIST-like)
with random labels: the cost of exact curvature does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
import time
from pathlib import Path
from typing import Any

import numpy as np

#: (name, layer widths, N); P follows from the widths
FULL_CASES = [("mlp100-30-30-50", [100, 30, 30, 50], 1000), ("mlp100-30-30-2", [100, 30, 30, 2], 1000),
              ("mlp784-13-10", [784, 13, 10], 1000), ("mlp784-25-10", [784, 25, 10], 1000)]
QUICK_CASES = [("mlp20-8-8-3", [20, 8, 8, 3], 200), ("mlp50-12-5", [50, 12, 5], 200)]
HESSIAN_METHODS = ["torch_func", "hvp_loop", "ours"]
EIGEN_METHODS = ["eigvalsh", "lanczos_top50", "lanczos_top1", "power_top1"]


def n_params(widths: list[int]) -> int:
    """Parameters of a fully connected net with biases."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def gemm_gflops(size: int = 2000, reps: int = 3) -> float:
    """Measured float64 GEMM rate (GFLOP/s of process CPU time, median of ``reps``), torch/BLAS, 1 thread.

    CPU time rather than wall time, like the ``cpu_s`` it is compared with: on a shared machine wall
    time includes waiting for a core.
    """
    import torch

    a = torch.randn(size, size, dtype=torch.float64)
    a @ a
    times = []
    for _ in range(reps):
        start = time.process_time()
        a @ a
        times.append(time.process_time() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def rss_mb() -> float:
    """Resident memory of this process now (MiB, from /proc; NaN where there is none)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(widths: list[int], n: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1]).double()
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(n, widths[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, widths[-1], (n,), generator=gen)
    return model, x, y


def _hvp_loop(model, loss_fn, x, y):  # type: ignore[no-untyped-def]
    """pytorchpruner-style: one double-backward per row of the Hessian."""
    import torch

    params = list(model.parameters())
    loss = loss_fn(model(x), y)
    grads = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, create_graph=True)])
    rows = torch.empty(len(grads), len(grads), dtype=grads.dtype)
    for i in range(len(grads)):
        rows[i] = torch.cat([r.reshape(-1) for r in torch.autograd.grad(grads[i], params, retain_graph=True)])
    return rows


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one (method, case) in this process and return its measurements."""
    import torch
    from torch import nn

    from nnspectra.curvature import HessianProducts, eigvalsh_dense, hessian, top_eigenpairs
    from nnspectra.models.flat import flat_parameters, loss_of_flat_params

    torch.set_num_threads(1)
    method, widths, n = spec["method"], spec["widths"], spec["n"]
    tmp = Path(spec["tmp"])
    model, x, y = _build(widths, n)
    loss_fn = nn.functional.cross_entropy
    p = n_params(widths)
    rss0 = rss_mb()
    ref_h, ref_eigs = tmp / "reference_hessian.npy", tmp / "reference_eigvalsh.npy"
    record: dict[str, Any] = {}

    if method in HESSIAN_METHODS:
        def compute():  # type: ignore[no-untyped-def]
            if method == "ours":
                return hessian(model, loss_fn, x, y)
            if method == "torch_func":
                return torch.func.hessian(loss_of_flat_params(model, loss_fn, x, y))(flat_parameters(model))
            return _hvp_loop(model, loss_fn, x, y)
    elif method == "eigvalsh":
        mat = hessian(model, loss_fn, x, y)
        rss0 = rss_mb()

        def compute():  # type: ignore[no-untyped-def]
            return eigvalsh_dense(mat)
    else:
        op = HessianProducts(model, loss_fn, x, y).to_scipy()

        def compute():  # type: ignore[no-untyped-def]
            op.op.n_products = 0
            if method == "power_top1":
                value, _ = power_iteration_top(op, iters=100, tol=1e-3)
                return np.array([value])
            return top_eigenpairs(op, 50 if method == "lanczos_top50" else 1, return_vectors=False)[0]

    walls, cpus, result = [], [], None
    for rep in range(spec["reps"]):
        result = None
        w0, c0 = time.perf_counter(), time.process_time()
        result = compute()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        if cpus[-1] > spec["slow_s"]:  # slow reference: one repetition only
            break
    record.update(seconds=statistics.median(walls), cpu_s=statistics.median(cpus), reps=len(walls),
                  peak_rss_mb=_peak_mb(), rss_before_mb=rss0)
    if method not in HESSIAN_METHODS and method != "eigvalsh":
        record["matvecs"] = op.n_matvec
    # accuracy (after the peak was recorded)
    if method in HESSIAN_METHODS:
        h = result.detach().numpy()
        if ref_h.exists():
            ref = np.load(ref_h)
            record["max_rel_diff"] = float(np.abs(h - ref).max() / np.abs(ref).max())
            record["reference"] = "dense"  # the parent names the method that saved it
        else:  # independent check: H @ Omega against Hessian-vector products
            probes = np.random.default_rng(0).standard_normal((p, 8))
            sketch = HessianProducts(model, loss_fn, x, y).to_scipy().matmat(probes)
            record["max_rel_diff"] = float(np.abs(h @ probes - sketch).max() / np.abs(sketch).max())
            record["reference"] = "8 HVP probes"
            if spec.get("save_reference"):
                np.save(ref_h, h)
                record["saved_reference"] = True
    elif method == "eigvalsh":
        np.save(ref_eigs, np.asarray(result))
        record["reference"] = "-"
    elif ref_eigs.exists():
        exact = np.load(ref_eigs)[::-1]
        got = np.sort(np.asarray(result))[::-1]
        if method == "power_top1":  # power iteration finds the largest magnitude
            target = exact[np.argmax(np.abs(exact))]
        else:
            target = exact[: len(got)]
        record["max_rel_diff"] = float(np.max(np.abs(got - target) / np.abs(target)))
        record["reference"] = f"dense eigvalsh top-{len(got)}"
    return record


def power_iteration_top(op: "Any", *, iters: int = 100, tol: float = 1e-3,
                        seed: int = 0) -> tuple[float, int]:
    """Top eigenvalue by power iteration with PyHessian's stopping rule (relative change < tol).

    Returns (eigenvalue, matvecs). This is the reference method of the benchmark; it converges to
    the largest-MAGNITUDE eigenvalue and only at rate |lambda_2 / lambda_1|.
    """
    vec = _start_vector(op, seed)
    vec /= np.linalg.norm(vec)
    value, used = None, 0
    for _ in range(iters):
        hv = op.matvec(vec)
        used += 1
        new = float(vec @ hv)
        vec = hv / np.linalg.norm(hv)
        if value is not None and abs(new - value) / (abs(value) + 1e-6) < tol:
            return new, used
        value = new
    return float(value), used  # type: ignore[arg-type]


def _start_vector(op: "Any", seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(op.shape[0])


def _cpu_limit(seconds: float):  # type: ignore[no-untyped-def]
    """preexec_fn capping a child's CPU time (SIGXCPU): the cap is on CPU, not wall time, so a busy
    shared machine does not skip methods that would fit."""
    def limit() -> None:
        soft = int(seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 5))

    return limit


def _child_command(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]


@dataclass(frozen=True)
class BenchSettings:
    """Config ``bench``: quick sizes only, the per-measurement time cap (s) and the repetitions per row."""

    quick: bool = False
    cap_s: float = 300.0
    reps: int = 3


def run_benchmark(quick: bool = False, cap_s: float = 300.0, reps: int = 3, out_csv: str | Path | None = None,
                  out_md: str | Path | None = None, log=print, cases: list[str] | None = None,
                  methods: list[str] | None = None) -> "Any":  # type: ignore[no-untyped-def]
    """Run every (method, case), write the CSV and the markdown summary, return the DataFrame.

    The files are rewritten after every row, so an interrupted run keeps what it measured.
    ``cases`` / ``methods`` restrict the run to those names (default: all).
    """

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               OMP_WAIT_POLICY="PASSIVE")
    import torch

    torch.set_num_threads(1)
    gflops = gemm_gflops()
    log(f"float64 GEMM rate: {gflops:.1f} GFLOP/s (1 thread)")
    all_cases = QUICK_CASES if quick else FULL_CASES
    unknown = set(cases or []) - {c[0] for c in all_cases}
    if unknown:
        raise ValueError(f"unknown benchmark cases {sorted(unknown)}; choose from {[c[0] for c in all_cases]}")
    chosen = [c for c in all_cases if cases is None or c[0] in cases]
    rows: list[dict[str, Any]] = []
    last_time: dict[str, tuple[int, float]] = {}
    for name, widths, n in chosen:
        p = n_params(widths)
        hessian_mb = p * p * 8 / 2**20
        bound_s = 4 * n * p * p / (gflops * 1e9)
        with tempfile.TemporaryDirectory(prefix="nnspectra-bench-") as tmp:
            have_reference = False
            for method in HESSIAN_METHODS + EIGEN_METHODS:
                if methods is not None and method not in methods:
                    continue
                if rows:
                    _write(rows, gflops, quick, out_csv, out_md)
                row: dict[str, Any] = {"case": name, "P": p, "N": n, "method": method, "hessian_mb": hessian_mb,
                                       "flop_bound_s": bound_s}
                prev = last_time.get(method)
                predicted = prev[1] * (p / prev[0]) ** (3 if method == "eigvalsh" else 2) if prev else 0.0
                if predicted > cap_s:
                    row["status"] = f"skipped: predicted {predicted:.0f} s CPU > cap {cap_s:.0f} s"
                    rows.append(row)
                    log(f"{name} {method}: {row['status']}")
                    continue
                spec = {"method": method, "widths": widths, "n": n, "tmp": tmp, "reps": reps,
                        "slow_s": cap_s / 4, "save_reference": method in ("torch_func", "hvp_loop") and not have_reference}
                proc = subprocess.run(_child_command(spec), env=env, capture_output=True, text=True, check=False,
                                      preexec_fn=_cpu_limit(cap_s * 1.25))
                if proc.returncode != 0:
                    killed = proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
                    row["status"] = (f"skipped: > {cap_s * 1.25:.0f} s CPU" if killed else
                                     "error: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:200])
                    if killed:
                        last_time[method] = (p, cap_s * 1.25)
                    rows.append(row)
                    log(f"{name} {method}: {row['status']}")
                    continue
                record = json.loads(proc.stdout.strip().splitlines()[-1])
                if record.pop("saved_reference", False):
                    have_reference = True
                    (Path(tmp) / "reference_name").write_text(method)
                if record.get("reference") == "dense":
                    ref_name = (Path(tmp) / "reference_name").read_text()
                    record["reference"] = f"dense {ref_name}"
                row.update(record, status="ok")
                last_time[method] = (p, record["cpu_s"])
                rows.append(row)
                log(f"{name} {method}: {record['seconds']:.2f} s wall, {record['cpu_s']:.2f} s CPU, "
                    f"peak {record['peak_rss_mb']:.0f} MB, diff {record.get('max_rel_diff', float('nan')):.1e}")
    return _write(rows, gflops, quick, out_csv, out_md)


def _frame(rows: list[dict[str, Any]], gflops: float) -> "Any":
    """The results table with the derived columns (memory ratio, flop-bound fraction)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    for col in ("status", "seconds", "cpu_s", "peak_rss_mb", "rss_before_mb", "max_rel_diff", "matvecs", "reps",
                "reference"):
        if col not in frame:
            frame[col] = np.nan
    frame["rss_increase_mb"] = frame["peak_rss_mb"] - frame["rss_before_mb"]
    frame["mem_over_hessian"] = frame["rss_increase_mb"] / frame["hessian_mb"]
    is_dense = frame["method"].isin(HESSIAN_METHODS)
    frame["bound_fraction"] = np.where(is_dense, frame["flop_bound_s"] / frame["cpu_s"], np.nan)
    frame["gemm_gflops"] = gflops
    columns = ["case", "P", "N", "method", "status", "seconds", "cpu_s", "reps", "peak_rss_mb", "rss_increase_mb",
               "hessian_mb", "mem_over_hessian", "max_rel_diff", "reference", "flop_bound_s", "bound_fraction",
               "matvecs", "gemm_gflops"]
    return frame[columns]


def _write(rows: list[dict[str, Any]], gflops: float, quick: bool, out_csv: str | Path | None,
           out_md: str | Path | None) -> "Any":
    frame = _frame(rows, gflops)
    if out_csv is not None:
        Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out_csv, index=False)
    if out_md is not None:
        Path(out_md).write_text(summary_markdown(frame, gflops, quick))
    return frame


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo), for the benchmark tables."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    return format(value, spec)


def target_checks(frame: "Any", case: str = "mlp100-30-30-50") -> list[tuple[str, str, str, bool | None]]:
    """(target, required, measured, met) for the issue's targets at one case (CPU seconds compared)."""
    rows = frame[frame["case"] == case].set_index("method")

    def get(method: str, col: str) -> float:
        if method in rows.index and rows.loc[method, "status"] == "ok":
            return float(rows.loc[method, col])
        return float("nan")

    ours = get("ours", "cpu_s")
    checks = []
    for ref, need in (("torch_func", 5.0), ("hvp_loop", 3.0)):
        speedup = get(ref, "cpu_s") / ours
        checks.append((f"speed-up over {ref}", f">= {need:g}x", _fmt(speedup, ".1f") + "x",
                       None if not np.isfinite(speedup) else bool(speedup >= need)))
    frac = get("ours", "bound_fraction")
    checks.append(("time vs flop bound 4NP^2", "<= 2x bound", _fmt(1 / frac if frac else float("nan"), ".2f") + "x",
                   None if not np.isfinite(frac) else bool(frac >= 0.5)))
    mem = get("ours", "mem_over_hessian")
    checks.append(("peak memory increase / Hessian size", "<= 3", _fmt(mem, ".2f"),
                   None if not np.isfinite(mem) else bool(mem <= 3)))
    lan = get("lanczos_top50", "max_rel_diff")
    checks.append(("Lanczos top-50 vs dense, max rel. error", "<= 1e-6", _fmt(lan, ".1e"),
                   None if not np.isfinite(lan) else bool(lan <= 1e-6)))
    return checks


def summary_markdown(frame: "Any", gflops: float, quick: bool) -> str:
    """Markdown: setting, results table, and the targets at P = 5,510 (or the largest quick case)."""
    lines = [f"# Curvature benchmark ({'quick' if quick else 'full'})", "",
             f"float64, 1 thread, N = {', '.join(str(v) for v in sorted(set(frame['N'])))} samples (seeded random "
             "inputs, random labels), ReLU MLPs with cross-entropy; float64 GEMM rate measured in this run: "
             f"{gflops:.1f} GFLOP/s (CPU time). Device: CPU ({cpu_name()}). Times: median over `reps` runs (slow reference methods: 1 run). "
             "Flop bound = 4 N P^2 at that rate; bound_fraction = bound / CPU time. "
             "Memory: peak RSS increase of a fresh process over its RSS after setup, / Hessian bytes (meaningful "
             "only where the Hessian dwarfs allocator noise, i.e. not for the quick sizes).", "",
             "| case | P | method | status | wall s | CPU s | reps | peak RSS MB | increase / H | max rel diff | "
             "reference | bound fraction | matvecs |", "|" + "---|" * 13]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join([
            str(r["case"]), f"{int(r['P']):,}", str(r["method"]), str(r["status"]), _fmt(r["seconds"], ".2f"),
            _fmt(r["cpu_s"], ".2f"), _fmt(r["reps"], ".0f"), _fmt(r["peak_rss_mb"], ".0f"),
            _fmt(r["mem_over_hessian"], ".2f"), _fmt(r["max_rel_diff"], ".1e"),
            str(r["reference"]) if isinstance(r["reference"], str) else "-", _fmt(r["bound_fraction"], ".2f"),
            _fmt(r["matvecs"], ".0f")]) + " |")
    case = "mlp100-30-30-50" if not quick else QUICK_CASES[-1][0]
    lines += ["", f"## Targets at {case} (CPU seconds, same run)", "", "| target | required | measured | met |",
              "|---|---|---|---|"]
    for name, need, got, met in target_checks(frame, case):
        lines.append(f"| {name} | {need} | {got} | {'-' if met is None else ('yes' if met else 'NO')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python benchmarks/curvature_harness.py [--quick] [--out-dir results/benchmarks]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI / smoke config)")
    parser.add_argument("--cap", type=float, default=300.0,
                        help="CPU seconds after which a (method, size) is skipped (x1.25 hard limit)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out-dir", default="results/benchmarks")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--methods", help="comma-separated methods (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    out = Path(args.out_dir)
    run_benchmark(quick=args.quick, cap_s=args.cap, reps=args.reps, out_csv=out / "curvature.csv",
                  out_md=out / "curvature.md", log=lambda msg: print(msg, flush=True),
                  cases=args.cases.split(",") if args.cases else None,
                  methods=args.methods.split(",") if args.methods else None)


if __name__ == "__main__":
    main()
