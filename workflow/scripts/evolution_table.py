"""Median over seeds of the final-checkpoint measures of every (dataset, run)."""
from nnspectra.experiments.evolution import summary_table
from nnspectra.io import load_json, save_table
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    table = summary_table([load_json(p) | {"path": p} for p in snakemake.input.summaries])  # noqa: F821
    save_table(table, step.output["csv"], step.output["md"],
               caption="Spectral evolution (Wang et al. 2023 setting): median over seeds at the final step.")
