"""Train one (dataset, run, seed) of the spectral-evolution experiment and analyse its checkpoints."""
from nnspectra.experiments.wang2023.evolution import EvoAnalysis, EvoData, EvoModel, EvoRun, run_evolution
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, cfg = step.wildcards, step.params["cfg"]
    step.set_device("cpu")  # spectra are float64 numpy on CPU; training uses CPU torch
    model = settings(EvoModel, cfg["evolution.model"]).override(cfg[f"evolution.datasets.{w['dataset']}.model"])
    summary, arrays = run_evolution(settings(EvoData, cfg[f"evolution.datasets.{w['dataset']}.data"]), model,
                                    settings(EvoRun, cfg[f"evolution.runs.{w['run']}"]),
                                    settings(EvoAnalysis, cfg["evolution.analysis"]), step.seed, data_dir=cfg["data_dir"],
                                    run_key=f"evolution.runs.{w['run']}", download=bool(cfg["download"]))
    step.extra["lr"] = summary["lr"]
    save_arrays(step.output["spectra"], **arrays)
    save_json(step.output["summary"], summary)
