"""Eigenvalues of the exact float64 Hessian (and optionally G and R = H - G) at one trained point."""
import torch

from nnspectra.experiments.blobs import build_model, spectrum_of_model
from nnspectra.io import load_arrays, save_arrays
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w = step.wildcards
    data = load_arrays(step.input["data"])
    model = build_model(step.params["cfg"]["blobs.model"], data["x_train"].shape[1], int(w["k"]), w["act"], int(w["seed"]))
    model.load_state_dict(torch.load(step.input["model"], weights_only=True))
    step.set_device(torch.device("cpu"))
    save_arrays(step.output["spectrum"], **spectrum_of_model(model, data, decompose=bool(step.params["decompose"])))
