"""Hessian edges (top and bottom eigenvalues) of the LB or SB convnet end point."""
from nnspectra.experiments.realdata import stage_lbsb_spectrum
from nnspectra.runtime import resolve_device
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device(resolve_device(step.params["cfg"]["device"]))
    spec = stage_lbsb_spectrum(step.params["cfg"], step.params["regime"], step.seed, step.input["model"],
                               step.output["spectrum"])
    step.extra.update(method=spec["method"], n_params=spec["n_params"], hvps=spec["hvps"])
