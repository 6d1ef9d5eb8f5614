"""Fig. 1: ordered Hessian spectrum at init and after GD, with the Gauss-Newton split."""
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.sagun2018.blobs import plot_fig1
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    spectra = {"init": load_arrays(step.input["init"]), "final": load_arrays(step.input["final"])}
    plot_fig1(spectra, step.output["fig"], step.params["setting"], algorithm=step.params["algorithm"])
