"""Outlier counts of one final Hessian spectrum with every rule (gap, ratio, elbow, edge)."""
from nnspectra.experiments.sagun2018.blobs_runs import BlobCounting
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, load_json, save_json
from nnspectra.pipeline.step import Step
from nnspectra.spectra.outliers import spectrum_counts

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, counting = step.wildcards, settings(BlobCounting, step.params["cfg"]["blobs.counting"])
    counts = spectrum_counts(load_arrays(step.input["spectrum"])["eig_H"], int(counting.top),
                             float(counting.ratio_floor), float(counting.edge_tau))
    record = {"alg": w["alg"], "act": w["act"], "k": int(w["k"]), "cov": float(w["cov"]), "seed": step.seed,
              "train": load_json(step.input["summary"]), "counts": counts}
    save_json(step.output["counts"], record)
