"""Curvature benchmark (method x size) -> results/benchmarks/curvature.csv and curvature.md."""

import logging

from nnspectra.curvature.benchmark import run_benchmark
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821 (injected by Snakemake)
    cfg = step.params["cfg"]["bench"]
    step.set_device("cpu")  # single-threaded CPU timings by design
    run_benchmark(quick=cfg["quick"], cap_s=float(cfg["cap_s"]), reps=int(cfg["reps"]),
                  out_csv=step.output["csv"], out_md=step.output["md"], log=logging.getLogger("nnspectra").info)
