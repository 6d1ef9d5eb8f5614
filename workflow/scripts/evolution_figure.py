"""One figure of the spectral-evolution experiment (invariance, spike, heavy tail, real data)."""
from nnspectra.io import load_arrays, load_json
from nnspectra.plotting.evolution import plot_figure
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    summaries = [load_json(p) | {"path": p} for p in snakemake.input.summaries]  # noqa: F821
    spectra = {p: load_arrays(p) for p in snakemake.input.spectra}  # noqa: F821
    plot_figure(step.wildcards["figure"], summaries, spectra, cfg["evolution.plot"], cfg["evolution.model"],
                cfg["evolution.claims"], cfg["evolution.analysis"], step.output["figure"])
