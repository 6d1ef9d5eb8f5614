"""Seed Fig. 3: top eigenvalues of the final Hessian per k with the automatic elbow threshold."""
from nnspectra.experiments.sagun2018.blobs_runs import BlobCounting, BlobFig3
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, load_json
from nnspectra.plotting.sagun2018.blobs import plot_fig3
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, fig3 = step.params["cfg"], settings(BlobFig3, step.params["cfg"]["blobs.fig3"])
    tops, cutoffs = {}, {}
    for spec, counts in zip(step.input["spectra"], step.input["counts"]):
        rec = load_json(counts)
        tops[rec["k"]] = load_arrays(spec)["eig_H"]
        cutoffs[rec["k"]] = rec["counts"]["rules"]["elbow"]["cutoff"]
    setting = f"{fig3.alg.upper()}, {fig3.act}, cov={fig3.cov:g}, seed {fig3.seed}"
    plot_fig3(tops, cutoffs, step.output["fig"], setting, top=int(settings(BlobCounting, cfg["blobs.counting"]).top))
