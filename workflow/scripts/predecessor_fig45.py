"""P0 Figs 4 (final-Hessian histograms per width) and 5 (Hessian heatmaps) of the 2-D blob nets."""
from nnspectra.experiments.sagun2016.predecessor import P0Fig4
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2016.predecessor import plot_fig4, plot_fig5

with Step.from_namespace(snakemake) as step:  # noqa: F821
    runs = {int(r["width"]): r for r in map(load_arrays, step.input["runs"])}
    plot_fig4({r["eig_final"].size: r["eig_final"] for r in runs.values()}, step.output["fig4"], step.params["setting"])
    heat = [int(w) for w in settings(P0Fig4, step.params["cfg"]["predecessor.fig4"]).heatmap_widths if int(w) in runs]
    plot_fig5({runs[w]["eig_final"].size: runs[w]["hessian_final"] for w in heat}, step.output["fig5"],
              step.params["setting"])
