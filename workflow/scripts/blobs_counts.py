"""Outlier counts of one final Hessian spectrum with every rule (gap, ratio, elbow, edge)."""
from nnspectra.io import load_arrays, load_json, save_json
from nnspectra.spectra.outliers import spectrum_counts
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, cfg = step.wildcards, step.params["cfg"]["blobs.counting"]
    counts = spectrum_counts(load_arrays(step.input["spectrum"])["eig_H"], int(cfg["top"]),
                             float(cfg["ratio_floor"]), float(cfg["edge_tau"]))
    record = {"alg": w["alg"], "act": w["act"], "k": int(w["k"]), "cov": float(w["cov"]), "seed": int(w["seed"]),
              "train": load_json(step.input["summary"]), "counts": counts}
    save_json(step.output["counts"], record)
