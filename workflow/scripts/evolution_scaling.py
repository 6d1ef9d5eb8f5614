"""Claim 34: ||W_T - W_0|| of one small-lr run with (n, d, h) multiplied by a factor."""
from nnspectra.experiments.wang2023.evolution import EvoData, EvoModel, EvoRun, run_scaling
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, cfg = step.wildcards, step.params["cfg"]
    step.set_device("cpu")
    record = run_scaling(settings(EvoData, cfg[f"evolution.datasets.{w['dataset']}.data"]),
                         settings(EvoModel, cfg["evolution.model"]).override(cfg[f"evolution.datasets.{w['dataset']}.model"]),
                         settings(EvoRun, cfg[f"evolution.runs.{w['run']}"]),
                         float(w["factor"]), step.seed, run_key=f"evolution.runs.{w['run']}")
    save_json(step.output["record"], record)
