"""Benchmark of `snakemake analyze` (issue 24): one Hessian-vector product of the example ResNet-18 at N = 256 and
N = 1,000 images, the CPU time of each example study, and the prepared GPU target.

    python benchmarks/bench_analyze.py --out benchmarks/results/analyze          # products + studies, minutes
    python benchmarks/bench_analyze.py --gpu-target benchmarks/gpu_analyze.yaml --out $OUT/analyze_gpu

Products: torchvision ResNet-18 (num_classes 10, random init, eval mode: batch norm on running statistics, as
the study analyses it) on seeded random CIFAR-10-shaped inputs at the example's 16 x 16 and float32 (the cost
does not depend on the values), one thread. ``ours`` = :class:`nnspectra.curvature.HessianProducts` (the
gradient graph is built once, ``setup``; each product is one backward pass through it); ``curvlinops`` =
``HessianLinearOperator`` @ v (forward, backward and double backward per product; skipped where
curvlinops-for-pytorch is not installed). Process CPU time and wall, median of ``--reps``; the flop bound is
4 x the forward FLOPs (torch.utils.flop_counter) at the float32 GEMM rate measured in the same run. No timed
assertions: the numbers are written to ``<out>.csv`` / ``<out>.md``.

Studies: CPU seconds and wall of each ``analyze_run`` job from the Snakemake benchmark files of a run of
``config/analyze.yaml`` (``--results``, default results/analyze), else "no run".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curvature_harness import cpu_name  # noqa: E402


def gemm_gflops(dtype: torch.dtype, size: int = 1500, reps: int = 3) -> float:
    """GEMM rate (GFLOP/s of process CPU time) of one thread in ``dtype``."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    c0 = time.process_time()
    for _ in range(reps):
        a @ b
    return 2 * size**3 * reps / (time.process_time() - c0) / 1e9


def forward_flops(model: torch.nn.Module, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return float(counter.get_total_flops())


def _timed(fn: Any, reps: int) -> tuple[float, float, Any]:
    """(median CPU s, median wall s, last result) of ``reps`` calls."""
    cpu, wall, out = [], [], None
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return float(np.median(cpu)), float(np.median(wall)), out


def product_rows(sizes: list[int], image: int, reps: int, gflops: float) -> list[dict[str, Any]]:
    """One Hessian-vector product of ResNet-18 per N: ours (setup + product) and curvlinops'."""
    import torchvision

    from nnspectra.curvature import HessianProducts
    from nnspectra.training.evaluate import cross_entropy

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    p = sum(t.numel() for t in model.parameters())
    rows = []
    for n in sizes:
        gen = torch.Generator().manual_seed(n)
        x, y = torch.randn(n, 3, image, image, generator=gen), torch.randint(0, 10, (n,), generator=gen)
        bound = 4 * forward_flops(model, x) / (gflops * 1e9)
        v = torch.randn(p, generator=gen)
        base = {"case": f"resnet18 {image}x{image} float32", "N": n, "P": p, "flop_bound_s": bound}
        c0, w0 = time.process_time(), time.perf_counter()
        op = HessianProducts(model, cross_entropy, x, y, dtype=torch.float32)
        setup_cpu, setup_wall = time.process_time() - c0, time.perf_counter() - w0
        cpu, wall, ours = _timed(lambda op=op, v=v: op.matvec(v), reps)
        rows.append({**base, "method": "ours: product on the kept graph", "cpu_s": cpu, "wall_s": wall})
        rows.append({**base, "method": "ours: setup (graph) + 1 product", "cpu_s": setup_cpu + cpu,
                     "wall_s": setup_wall + wall})
        del op
        try:
            from curvlinops import HessianLinearOperator
        except ImportError:
            rows.append({**base, "method": "curvlinops", "note": "curvlinops-for-pytorch not installed"})
            continue
        params = [t for t in model.parameters()]
        ref = HessianLinearOperator(model, torch.nn.CrossEntropyLoss(), params, [(x, y)], check_deterministic=False)
        cpu, wall, theirs = _timed(lambda ref=ref, v=v: ref @ v, reps)
        theirs = torch.as_tensor(theirs).reshape(-1)
        diff = float((ours - theirs).norm() / theirs.norm())
        rows.append({**base, "method": "curvlinops HessianLinearOperator @ v", "cpu_s": cpu, "wall_s": wall,
                     "rel_diff_vs_ours": diff})
        print(f"N = {n}: ours {rows[-3]['cpu_s']:.2f} CPU-s / product, curvlinops {cpu:.2f}, bound {bound:.2f}, "
              f"rel diff {diff:.1e}", flush=True)
    return rows


def study_rows(results: Path) -> list[dict[str, Any]]:
    """CPU s and wall of each analyze_run job from the Snakemake benchmark files of a run."""
    files = sorted(results.glob("logs/analyze_run/*.bench.tsv"))
    rows = []
    for path in files:
        frame = pd.read_csv(path, sep="\t")
        last = frame.iloc[-1]
        rows.append({"case": f"study {path.name.split('.')[0]}", "method": "snakemake analyze_run (benchmark file)",
                     "cpu_s": float(last.get("cpu_time", float("nan"))), "wall_s": float(last["s"]),
                     "max_rss_mb": float(last.get("max_rss", float("nan"))), "note": str(path)})
    return rows or [{"case": "studies", "method": "", "note": f"no benchmark files under {results}: run "
                     "snakemake --cores 2 analyze --configfile config/analyze.yaml first"}]


def gpu_target(configfile: str) -> list[dict[str, Any]]:
    """The studies of ``configfile`` (the GPU target: ResNet-18 on 5,000 CIFAR-10 images) by the library, timed."""
    from nnspectra.analyze import run_study
    from nnspectra.pipeline.config import REPO_ROOT, load_config_files, validate_config

    config = validate_config(load_config_files([REPO_ROOT / "config" / "config.yaml", Path(configfile)]))
    rows = []
    for name, study in config["analyze"]["studies"].items():
        w0 = time.perf_counter()
        result = run_study(name, study, data_dir=config["data_dir"], device=config["device"])
        wall = time.perf_counter() - w0
        curv = result.record["curvature"]
        rows.append({"case": f"gpu target {name}", "method": curv["method_reason"], "wall_s": wall,
                     "N": result.record["dataset"]["n_samples"], "P": result.record["model"]["n_params"],
                     "note": f"device {result.record['device']}; H {curv['H']['seconds']:.0f} s, GN "
                             f"{curv['GN']['seconds']:.0f} s; lambda_max H {curv['H']['lambda_max']:.4g}; "
                             f"target <= 600 s wall on one H100: {'met' if wall <= 600 else 'missed'} on {result.record['device']['used']}"})
        print(rows[-1], flush=True)
    return rows


def write(rows: list[dict[str, Any]], out: str, header: str) -> None:
    frame = pd.DataFrame(rows)
    if "flop_bound_s" in frame and "cpu_s" in frame:
        frame["bound_fraction"] = frame["flop_bound_s"] / frame["cpu_s"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(f"{out}.csv", index=False)
    Path(f"{out}.md").write_text(f"{header}\n\n{frame.to_markdown(index=False, floatfmt='.4g')}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/analyze")
    parser.add_argument("--sizes", default="256,1000", help="N of the product rows")
    parser.add_argument("--image", type=int, default=16, help="image side (the example study: 16)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--results", default="results/analyze", help="a run of config/analyze.yaml")
    parser.add_argument("--gpu-target", default=None, metavar="CONFIGFILE", help="run this study file instead")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    if args.gpu_target:
        write(gpu_target(args.gpu_target), args.out, f"GPU target of issue 24 ({args.gpu_target})")
        return
    gflops = gemm_gflops(torch.float32)
    rows = product_rows([int(s) for s in args.sizes.split(",")], args.image, args.reps, gflops)
    rows += study_rows(Path(args.results))
    write(rows, args.out, f"`snakemake analyze` benchmark: CPU {cpu_name()}, {torch.get_num_threads()} thread(s), "
                          f"float32 GEMM {gflops:.1f} GFLOP/s (CPU time); torch {torch.__version__}")


if __name__ == "__main__":
    main()
