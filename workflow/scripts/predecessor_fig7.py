"""P0 Fig 7: final-Hessian histograms of the same net on blobs of growing std."""
from nnspectra.io import load_arrays
from nnspectra.plotting.predecessor import plot_fig7
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    run = load_arrays(step.input["run"])
    plot_fig7(dict(zip(run["stds"].tolist(), run["eig_final"])), step.output["fig"], step.params["setting"])
