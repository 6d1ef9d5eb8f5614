"""Seed Fig. 2: PCA scree of the standardised blob inputs for each number of classes."""
from nnspectra.data.blobs import pca_spectrum
from nnspectra.experiments.sagun2018.blobs_runs import BlobData, BlobFig2
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.sagun2018.blobs import plot_fig2
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, fig2 = step.params["cfg"], settings(BlobFig2, step.params["cfg"]["blobs.fig2"])
    scree = {k: pca_spectrum(load_arrays(p)["x_train"]) for k, p in zip(fig2.ks, step.input["data"])}
    n = settings(BlobData, cfg["blobs.data"]).n_train
    plot_fig2(scree, step.output["fig"], f"N={n} training points, cov={fig2.cov:g}, seed {fig2.seed}")
