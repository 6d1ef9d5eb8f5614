"""Curvature benchmark (method x size) -> results/<run>/benchmarks/curvature.csv and curvature.md."""
import logging
import sys
from pathlib import Path

from nnspectra.pipeline.config import settings
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821 (injected by Snakemake)
    sys.path.insert(0, str(Path(step.params["harness"]).resolve().parent))
    from curvature_harness import BenchSettings, run_benchmark

    bench = settings(BenchSettings, step.params["cfg"]["bench"])
    step.set_device("cpu")  # single-threaded CPU timings by design
    run_benchmark(quick=bench.quick, cap_s=float(bench.cap_s), reps=int(bench.reps),
                  out_csv=step.output["csv"], out_md=step.output["md"], log=logging.getLogger("nnspectra").info)
