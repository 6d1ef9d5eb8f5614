# Shared helpers for every stage: targets registry, log/benchmark paths, thread policy.

import os

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

# Each experiment appends its results/metrics/<section>.json here; the scorecard reads them all.
METRICS: list[str] = []
