"""Curvature benchmark from a fresh clone: ``python benchmarks/bench_curvature.py [--quick]``.

Writes results/benchmarks/curvature.csv and curvature.md (see benchmarks/curvature_harness.py and
docs/performance.md). Also the Snakemake target ``bench_curvature``. Runs single-threaded.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from curvature_harness import main  # noqa: E402

if __name__ == "__main__":
    main()
