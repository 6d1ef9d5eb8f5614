"""P0 Fig 2: MNIST vs random inputs, Hessian spectrum at init and after GD (same net and init)."""
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2016.predecessor import plot_fig2

with Step.from_namespace(snakemake) as step:  # noqa: F821
    spectra = {str(r["inputs"]): {"init": r["eig_init"], "final": r["eig_final"]}
               for r in map(load_arrays, step.input["spectra"])}
    plot_fig2(spectra, step.output["fig"], step.params["setting"])
