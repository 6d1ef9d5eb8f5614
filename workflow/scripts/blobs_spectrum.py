"""Eigenvalues of the exact float64 Hessian (and optionally G and R = H - G) at one trained point."""
import torch

from nnspectra.curvature.spectrum import dense_spectra
from nnspectra.experiments.sagun2018.blobs_training import BlobModel, build_model
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, load_model, save_arrays
from nnspectra.pipeline.step import Step
from nnspectra.training.evaluate import cross_entropy

with Step.from_namespace(snakemake) as step:  # noqa: F821
    w = step.wildcards
    data = load_arrays(step.input["data"])
    model = build_model(settings(BlobModel, step.params["cfg"]["blobs.model"]), data["x_train"].shape[1], int(w["k"]),
                        w["act"], step.seed)
    load_model(model, step.input["model"])
    step.set_device(torch.device("cpu"))
    x = torch.as_tensor(data["x_train"], dtype=torch.float64)
    y = torch.as_tensor(data["y_train"], dtype=torch.long)
    save_arrays(step.output["spectrum"], **dense_spectra(model, cross_entropy, x, y, bool(step.params["decompose"])))
