"""Curvature benchmark (method x size) -> results/<run>/benchmarks/curvature.csv and curvature.md."""
import logging
import sys
from pathlib import Path

from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821 (injected by Snakemake)
    sys.path.insert(0, str(Path(step.params["harness"]).resolve().parent))
    from curvature_harness import run_benchmark

    cfg = step.params["cfg"]["bench"]
    step.set_device("cpu")  # single-threaded CPU timings by design
    run_benchmark(quick=cfg["quick"], cap_s=float(cfg["cap_s"]), reps=int(cfg["reps"]),
                  out_csv=step.output["csv"], out_md=step.output["md"], log=logging.getLogger("nnspectra").info)
