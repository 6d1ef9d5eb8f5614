# Shared helpers for every stage: where results go, the targets registry, log/benchmark paths, threads,
# GPU claims, and the small input functions the stages use to name config and code.

import os

from nnspectra.pipeline.config import SEED_LISTS, config_subset
from nnspectra.pipeline.provenance import code_version
from nnspectra.pipeline.runtime import gpu_present, holds_gpu, set_run_deadline

# torch's OpenMP threads busy-wait on shared machines; jobs inherit this.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# A time budget for this invocation (config max_hours): long training stops cleanly at its next checkpoint once
# it has passed, and the same command continues it. Jobs read it from the environment, never from params.
set_run_deadline(config.get("max_hours"))

# Every preset writes its own tree, results/<run_name>/ (config key run_name: paper, cpu, smoke, ...), so
# running one preset never plans to rerun or overwrite another's files.
RESULTS = f"results/{config['run_name']}"

# The one software environment of every job (`snakemake --sdm conda` builds it); rules name it as `conda: CONDA_ENV`.
CONDA_ENV = "../envs/nnspectra.yaml"

# Each stage registers its named targets here: TARGETS["table1"] = [paths]. `rule all` builds them all.
TARGETS: dict[str, list[str]] = {}
# Each experiment appends its metrics file here; the scorecard reads them all.
METRICS: list[str] = []


def result(path: str) -> str:
    """A path inside this run's results tree."""
    return f"{RESULTS}/{path}"


def all_targets() -> list[str]:
    """Every registered target file, in registration order."""
    return [path for paths in TARGETS.values() for path in paths]


def logfile(rule_name: str, pattern: str = "") -> str:
    """Log path of a rule (wildcards allowed in ``pattern``)."""
    return f"{RESULTS}/logs/{rule_name}/{pattern or 'run'}.log"


def benchfile(rule_name: str, pattern: str = "") -> str:
    """Snakemake benchmark (timing, memory) path of a rule."""
    return f"{RESULTS}/logs/{rule_name}/{pattern or 'run'}.bench.tsv"


def cfg(*dotted_keys: str, per_seed: bool = False) -> dict:
    """The config entries a step uses, keyed by dotted path (a ``params:`` entry: changing them reruns it).
    ``per_seed``: a job of one seed (a ``seed`` wildcard) leaves each section's ``seeds`` list out, so adding a
    seed runs only the new seed's jobs."""
    return config_subset(config, *dotted_keys, drop=SEED_LISTS if per_seed else ())


def code(script: str) -> dict:
    """Content hash of what a job runs: its script and every nnspectra module the script imports, found from
    the script's own imports (a ``params:`` entry, so editing any of that code reruns the job). Pass the
    job's own script; tests/test_code_hash.py checks that each one does."""
    return code_version(f"workflow/scripts/{script}")


def seed_of(wildcards) -> int:
    """The ``seed`` wildcard as an int (recorded in provenance)."""
    return int(wildcards.seed)


JOB_THREADS = config["threads"]

# Jobs that can use a GPU declare `resources: gpu=GPU`. GPU is 1 when jobs will run on CUDA, else 0,
# so CPU-only runs stay parallel. The default global budget is one GPU job at a time; raise it with
# `--resources gpu=N` on a machine with N GPUs (each job then pins itself to a free device).
USE_GPU = holds_gpu(config["device"], gpu_present())
GPU = 1 if USE_GPU else 0
if "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", 1)


# -- paths of the stages' results (input functions live here, rules in the stage files) ------------

# blobs: one data set per (k, cov, seed); one run directory per (configuration, seed)
BLOBS_DATA = result("blobs/data/k{k}_cov{cov}/seed{seed}/data.npz")
BLOBS_RUN = result("blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}")
BLOBS_RUN_ID = "{alg}_{act}_k{k}_cov{cov}_seed{seed}"


def blobs_run_file(name: str, seed: int, file: str) -> str:
    """A file of the run directory of configuration ``name`` (e.g. ``sgd_relu_k10_cov1``) and ``seed``."""
    return result(f"blobs/runs/{name}/seed{seed}/{file}")


# real data (Sagun et al. §3-4, App. B)
RD = config["realdata"]
RD_DATA_KEYS = ("data_dir", "download", "device")  # global keys every real-data step reads
RD_SEED = RD["plot"]["seed"]                        # the seed the figures show

MNIST_RUN = result("realdata/mnist/n{width}/seed{seed}")
MNIST_ANALYSIS = result("realdata/mnist/seed{seed}/analysis.json")


def mnist_spectra(seed) -> list[str]:
    """The spectrum of every width for one seed."""
    return [f"{MNIST_RUN}/spectrum.npz".format(width=w, seed=seed) for w in RD["mnist"]["model"]["widths"]]


LBSB_RUN = result("realdata/lbsb/{regime}/seed{seed}")
LBSB_ANALYSIS = result("realdata/lbsb/seed{seed}/analysis.json")


def lbsb_spectra(seed) -> dict[str, str]:
    """The LB and SB spectra of one seed, by regime."""
    return {r: f"{LBSB_RUN}/spectrum.npz".format(regime=r, seed=seed) for r in ("lb", "sb")}


CIFAR_RUN = result("realdata/cifar/seed{seed}")
MP_RUN = result("realdata/mp/seed{seed}")

# Wang et al.: one directory per (dataset, run, seed)
EVO_RUN = result("evolution/{dataset}/{run}/seed{seed}")


def study_gpu(wildcards) -> int:
    """1 when an analyze study's job will hold a GPU (the study's own ``device``, else the run's), so the global
    ``gpu`` budget serialises it like the papers' GPU jobs; a CUDA request without a GPU runs on the CPU."""
    device = config["analyze"]["studies"][wildcards.study].get("device")
    if device is None:
        return GPU
    return int(holds_gpu(device, gpu_present(), cuda_falls_back=True))


def evo_seeds(dataset: str) -> list:
    """A Wang et al. dataset's seeds: its own ``seeds`` if set, else ``evolution.seeds``."""
    evo = config["evolution"]
    return evo["datasets"][dataset]["seeds"] or evo["seeds"]


def evo_summary(dataset: str, run: str, seed: int) -> str:
    """The summary record of one evolution run."""
    return f"{EVO_RUN}/summary.json".format(dataset=dataset, run=run, seed=seed)

# Sagun, Bottou & LeCun 2016 (the predecessor, "P0")
P0 = config["predecessor"]
P0_HIDDEN2 = "x".join(str(int(h)) for h in P0["mnist"]["fig2"]["hidden"])   # file-name form, e.g. 10x10
P0_BLOBS = result("p0/blobs/n{width}/seed{seed}")
P0_MNIST = result("p0/mnist/{point}/{inputs}_{hidden}/seed{seed}.npz")


def p0_blob_runs(seeds) -> list[str]:
    """The Fig 4 run of every width for each of ``seeds``."""
    return [f"{P0_BLOBS}/run.npz".format(width=w, seed=s) for s in seeds for w in P0["fig4"]["widths"]]


def p0_mnist_spectra(point: str, pairs) -> list[str]:
    """MNIST / random-input spectra at ``point`` (init | trained) for (inputs, hidden, seed) triples."""
    return [P0_MNIST.format(point=point, inputs=i, hidden=h, seed=s) for i, h, s in pairs]
