"""Curvature benchmark from a fresh clone: ``python benchmarks/bench_curvature.py [--quick]``.

Writes results/benchmarks/curvature.csv and curvature.md (see nnspectra.curvature.benchmark and
docs/performance.md). Also the Snakemake target ``bench_curvature``. Runs single-threaded.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nnspectra.curvature.benchmark import main  # noqa: E402

if __name__ == "__main__":
    main()
