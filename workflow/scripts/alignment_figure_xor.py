"""Figure alignment_xor: per-layer spectra, alignment, readout evolution and rank deficiency."""
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.alignment import plot_xor
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    plot_xor([load_arrays(p) for p in step.input["xor"]], cfg["alignment.claims"], cfg["alignment.plot"],
             step.output["figure"])
