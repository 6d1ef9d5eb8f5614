"""Train one 100-30-30-k MLP with GD or cyclic SGD until the gradient norm <= tol (official code)."""
import torch  # noqa: F401  (before Step: the step builds torch models, so it records torch's determinism switches)

from nnspectra.experiments.sagun2018.blobs_training import BlobModel, BlobTrain, train_run
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, save_json, save_model, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, cfg = step.wildcards, step.params["cfg"]
    init, final, history, summary = train_run(load_arrays(step.input["data"]), settings(BlobModel, cfg["blobs.model"]),
                                              settings(BlobTrain, cfg["blobs.train"]), w["alg"], w["act"], step.seed)
    save_model(init, step.output["init"])
    save_model(final, step.output["final"])
    save_table(history, step.output["history"])
    step.extra["iterations"] = summary["iterations"]
    save_json(step.output["summary"], summary)
