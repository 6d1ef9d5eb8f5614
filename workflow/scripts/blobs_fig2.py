"""Seed Fig. 2: PCA scree of the standardised blob inputs for each number of classes."""
from nnspectra.data.blobs import pca_spectrum
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.blobs import plot_fig2
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]["blobs.fig2"]
    scree = {k: pca_spectrum(load_arrays(p)["x_train"]) for k, p in zip(cfg["ks"], step.input["data"])}
    n = step.params["cfg"]["blobs.data"]["n_train"]
    plot_fig2(scree, step.output["fig"], f"N={n} training points, cov={cfg['cov']:g}, seed {cfg['seed']}")
