# Shared helpers for every stage: targets registry, log/benchmark paths, thread policy.

import os

from nnspectra.runtime import gpu_present

# torch's OpenMP threads busy-wait on shared machines; jobs inherit this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

RESULTS = "results"
# Each stage registers its named targets here: TARGETS["table1"] = [paths]. `rule all` builds them all.
TARGETS: dict[str, list[str]] = {}


def all_targets() -> list[str]:
    """Every registered target file, in registration order."""
    return [path for paths in TARGETS.values() for path in paths]


def logfile(rule_name: str, pattern: str = "") -> str:
    """Log path of a rule (wildcards allowed in ``pattern``)."""
    return f"{RESULTS}/logs/{rule_name}/{pattern or 'run'}.log"


def benchfile(rule_name: str, pattern: str = "") -> str:
    """Snakemake benchmark (timing, memory) path of a rule."""
    return f"{RESULTS}/logs/{rule_name}/{pattern or 'run'}.bench.tsv"


JOB_THREADS = config["threads"]


# Jobs that can use a GPU declare `resources: gpu=GPU`. GPU is 1 when jobs will run on CUDA, else 0,
# so CPU-only runs stay parallel. The default global budget is one GPU job at a time; raise it with
# `--resources gpu=N` on a machine with N GPUs (each job then picks its device via CUDA_VISIBLE_DEVICES
# from the executor or the profile).
USE_GPU = config["device"] == "cuda" or (config["device"] == "auto" and gpu_present())
GPU = 1 if USE_GPU else 0
if "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", 1)

# Each experiment appends its results/metrics/<section>.json here; the scorecard reads them all.
METRICS: list[str] = []
