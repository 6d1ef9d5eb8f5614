"""Median over seeds of the final-checkpoint measures of every (dataset, run)."""
from nnspectra.experiments.wang2023.evolution_metrics import summary_table
from nnspectra.pipeline.io import load_json, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    summaries = [(ds, run, load_json(p)) for (ds, run, _), p in zip(step.params["ids"], step.input["summaries"])]
    save_table(summary_table(summaries), step.output["csv"], step.output["md"],
               caption="Spectral evolution (Wang et al. 2023 setting): median over seeds at the final step.")
