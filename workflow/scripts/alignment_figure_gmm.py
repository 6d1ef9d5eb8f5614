"""Figures alignment_gmm (alignment, overlaps, lam and d dependence) and alignment_gmm_spectra."""
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.alignment import plot_gmm_alignment, plot_gmm_spectra
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    gmm = [load_arrays(p) for p in step.input["gmm"]]
    dscan = [load_arrays(p) for p in step.input["dscan"]]
    plot_gmm_alignment(gmm, dscan, cfg["alignment.claims"], step.output["figure"])
    plot_gmm_spectra(gmm, cfg["alignment.claims"], cfg["alignment.plot"], step.output["spectra"])
