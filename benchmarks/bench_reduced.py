"""The exact m x m reduction of a one-hidden-layer net's Hessian (curvature/reduced.py) against the project's
other exact routes on Sagun et al.'s MNIST width sweep (784-n-10, N = 1,000 class-balanced images, mean
cross-entropy), one thread, float64, process CPU time beside wall time.

For each width: the reduction (every eigenvalue), torch thick-restart Lanczos top-k and bottom-k (the route
``method: auto`` took before), and at n <= ``dense_max`` the dense Hessian + eigvalsh; the largest
disagreement of each edge with the reduction. Usage (writes benchmarks/results/reduced.csv):

    OMP_NUM_THREADS=1 python benchmarks/bench_reduced.py --widths 30 70 --top 120 --bottom 20
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tables import write_table  # noqa: E402
from curvature_harness import cpu_name  # noqa: E402

from nnspectra.curvature.products import HessianProducts  # noqa: E402
from nnspectra.curvature.reduced import reduced_hessian_eigenvalues  # noqa: E402
from nnspectra.curvature.spectrum import lanczos_edges  # noqa: E402
from nnspectra.data.vision import mnist_subset, resolve_data_dir  # noqa: E402
from nnspectra.models.mlp import make_mlp  # noqa: E402
from nnspectra.training.evaluate import cross_entropy  # noqa: E402


def _timed(fn):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[30, 70])
    parser.add_argument("--top", type=int, default=120)
    parser.add_argument("--bottom", type=int, default=20)
    parser.add_argument("--dense-max", type=int, default=10, help="also the dense route up to this width")
    parser.add_argument("--out", default="benchmarks/results/reduced.csv")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    x, y = mnist_subset(resolve_data_dir(None), False, 100, 0, 28)
    x = x.reshape(len(x), -1).to(torch.float64)
    rows = []
    for width in args.widths:
        model = make_mlp([784, width, 10], seed=0, dtype=torch.float64)
        red, wall, cpu = _timed(lambda: reduced_hessian_eigenvalues(model, x, y))
        eigs = red.eigenvalues
        row = {"cpu": cpu_name(), "width": width, "P": red.n_params, "m": red.n_columns, "rank": red.rank,
               "reduced_wall_s": round(wall, 1), "reduced_cpu_s": round(cpu, 1),
               "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
               "lambda_max": eigs[-1], "lambda_min": eigs[0]}
        op = HessianProducts(model, cross_entropy, x, y, dtype=torch.float64)
        (top, bottom), wall, cpu = _timed(lambda: lanczos_edges(op, args.top, args.bottom, tol=1e-10, seed=0))
        scale = np.abs(eigs).max()
        row.update(lanczos_wall_s=round(wall, 1), lanczos_cpu_s=round(cpu, 1), lanczos_products=op.n_products,
                   top_max_abs_diff_rel=float(np.max(np.abs(top - eigs[::-1][: top.size])) / scale),
                   bottom_max_abs_diff_rel=float(np.max(np.abs(bottom - eigs[: bottom.size])) / scale))
        if width <= args.dense_max:
            from nnspectra.curvature.dense import hessian

            dense, wall, cpu = _timed(lambda: np.linalg.eigvalsh(
                hessian(model, cross_entropy, x, y, dtype=torch.float64).numpy()))
            row.update(dense_wall_s=round(wall, 1), dense_cpu_s=round(cpu, 1),
                       dense_max_abs_diff_rel=float(np.max(np.abs(dense - eigs)) / scale))
        rows.append(row)
        print(row, flush=True)
    write_table(rows, args.out)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
