"""P0 Fig 7: final-Hessian histograms of the same net on blobs of growing std."""
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2016.predecessor import plot_fig7

with Step.from_namespace(snakemake) as step:  # noqa: F821
    run = load_arrays(step.input["run"])
    plot_fig7(dict(zip(run["stds"].tolist(), run["eig_final"])), step.output["fig"], step.params["setting"])
