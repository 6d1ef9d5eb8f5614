"""Seed Figs 4 (right edge), 5 (left edge by rank) and 6 (left edge by fraction of P) for the MNIST widths."""
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.sagun2018 import RealdataPlot
from nnspectra.plotting.sagun2018.mnist import plot_left_edge, plot_right_edge
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    plot = settings(RealdataPlot, step.params["cfg"]["realdata.plot"])
    spectra = {int(a["width"]): a for a in map(load_arrays, snakemake.input.spectra)}  # noqa: F821
    plot_right_edge(spectra, step.output["fig4"], int(plot.top_right_edge), plot.setting)
    plot_left_edge(spectra, step.output["fig5"], fraction=False, setting=plot.setting)
    plot_left_edge(spectra, step.output["fig6"], fraction=True, setting=plot.setting)
