"""Claim 34: ||W_T - W_0|| of one small-lr run with (n, d, h) multiplied by a factor."""
from nnspectra.experiments.evolution import run_scaling
from nnspectra.io import save_json
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, cfg = step.wildcards, step.params["cfg"]
    step.set_device("cpu")
    record = run_scaling(cfg[f"evolution.datasets.{w['dataset']}.data"], cfg["evolution.model"],
                         cfg[f"evolution.runs.{w['run']}"], float(w["factor"]), int(w["seed"]))
    save_json(step.output["record"], record)
