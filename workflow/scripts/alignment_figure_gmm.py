"""Figures alignment_gmm (alignment, overlaps, lam and d dependence) and alignment_gmm_spectra."""
from nnspectra.experiments.benarous2024.alignment_metrics import AlignmentClaims, gmm_figure_numbers
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.benarous2024.alignment import AlignmentPlot, plot_gmm_alignment, plot_gmm_spectra
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    gmm = [load_arrays(p) for p in step.input["gmm"]]
    dscan = [load_arrays(p) for p in step.input["dscan"]]
    claims = settings(AlignmentClaims, cfg["alignment.claims"])
    numbers = gmm_figure_numbers(gmm, dscan, claims)
    plot_gmm_alignment(gmm, dscan, claims, step.output["figure"], numbers)
    plot_gmm_spectra(gmm, claims, settings(AlignmentPlot, cfg["alignment.plot"]), step.output["spectra"])
