"""Seed Fig. 3: top eigenvalues of the final Hessian per k with the automatic elbow threshold."""
from nnspectra.pipeline.io import load_arrays, load_json
from nnspectra.plotting.blobs import plot_fig3
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]["blobs.fig3"]
    tops, cutoffs = {}, {}
    for spec, counts in zip(step.input["spectra"], step.input["counts"]):
        rec = load_json(counts)
        tops[rec["k"]] = load_arrays(spec)["eig_H"]
        cutoffs[rec["k"]] = rec["counts"]["rules"]["elbow"]["cutoff"]
    setting = f"{cfg['alg'].upper()}, {cfg['act']}, cov={cfg['cov']:g}, seed {cfg['seed']}"
    plot_fig3(tops, cutoffs, step.output["fig"], setting, top=int(step.params["cfg"]["blobs.counting"]["top"]))
