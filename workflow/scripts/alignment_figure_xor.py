"""Figure alignment_xor: per-layer spectra, alignment, readout evolution and rank deficiency."""
from nnspectra.experiments.benarous2024.alignment_metrics import AlignmentClaims, xor_figure_numbers
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.benarous2024.alignment import AlignmentPlot, plot_xor
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    runs = [load_arrays(p) for p in step.input["xor"]]
    claims = settings(AlignmentClaims, cfg["alignment.claims"])
    numbers = xor_figure_numbers(runs, claims)
    plot_xor(runs, claims, settings(AlignmentPlot, cfg["alignment.plot"]), step.output["figure"], numbers)
