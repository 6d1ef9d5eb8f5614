"""Run one study of `snakemake analyze`: model, data, optional training, curvature, weight spectra."""
import pandas as pd
import torch

from nnspectra.analyze import run_study
from nnspectra.pipeline.io import save_arrays, save_json, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    study, cfg = step.wildcards["study"], step.params["cfg"]
    result = run_study(study, cfg[f"analyze.studies.{study}"], data_dir=cfg["data_dir"], download=cfg["download"],
                       device=cfg["device"], memory_budget_gb=cfg["memory_budget_gb"])
    step.set_device(torch.device(result.record["device"]["used"]))
    step.extra["device_choice"] = result.record["device"]
    if result.record["model"]["checkpoint"]:
        step.extra["checkpoint_sha256"] = result.record["model"]["checkpoint"]["sha256"]
    step.extra["curvature_method"] = result.record["curvature"]["method_reason"]
    step.extra["layer_mode"] = result.record["layer_mode"]
    save_arrays(step.output["arrays"], **result.arrays)
    blocks = pd.DataFrame([{**row, "top": " ".join(f"{v:.6g}" for v in row["top"])} for row in result.blocks],
                          columns=["matrix", "block", "type", "size", "how", "top", "trace", "trace_stderr"])
    save_table(blocks, step.output["blocks"])
    weights = pd.DataFrame([{**row, "shape": "x".join(str(s) for s in row["shape"])} for row in result.weights],
                           columns=["parameter", "shape", "n_eigs", "lambda_max", "alpha", "xmin", "n_tail", "ks", "note"])
    save_table(weights, step.output["weights"])
    save_json(step.output["record"], result.record)
