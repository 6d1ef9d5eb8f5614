"""Train one 100-30-30-k MLP with GD or cyclic SGD until the gradient norm <= tol (official code)."""
import torch

from nnspectra.experiments.blobs import train_run
from nnspectra.io import load_arrays, save_json
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w, cfg = step.wildcards, step.params["cfg"]
    init, final, history, summary = train_run(load_arrays(step.input["data"]), cfg["blobs.model"], cfg["blobs.train"],
                                              w["alg"], w["act"], int(w["seed"]))
    torch.save(init.state_dict(), step.output["init"])
    torch.save(final.state_dict(), step.output["final"])
    history.to_csv(step.output["history"], index=False)
    step.extra["iterations"] = summary["iterations"]
    save_json(step.output["summary"], summary)
