"""One figure of the spectral-evolution experiment (invariance, spike, heavy tail, real data)."""
from nnspectra.experiments.wang2023.evolution import EvoModel
from nnspectra.experiments.wang2023.evolution_metrics import EvoClaims, group_summaries
from nnspectra.experiments.wang2023.evolution_spectra import EvoAnalysis
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, load_json
from nnspectra.pipeline.step import Step
from nnspectra.plotting.wang2023.evolution import plot_figure
from nnspectra.plotting.wang2023.evolution_runs import EvoPlot

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, ids = step.params["cfg"], step.params["ids"]
    grouped = group_summaries([(ds, run, load_json(p) | {"run": run}) for (ds, run, _), p in zip(ids, step.input["summaries"])])
    spectra: dict = {}  # dataset -> run -> the plot seed's arrays
    for (dataset, run), p in zip(step.params["spectra_runs"], step.input["spectra"]):
        spectra.setdefault(dataset, {})[run] = load_arrays(p)
    plot_figure(step.wildcards["figure"], grouped, spectra, settings(EvoPlot, cfg["evolution.plot"]),
                settings(EvoModel, cfg["evolution.model"]), settings(EvoClaims, cfg["evolution.claims"]),
                settings(EvoAnalysis, cfg["evolution.analysis"]), step.output["figure"])
