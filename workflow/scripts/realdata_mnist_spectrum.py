"""Exact Hessian spectrum of one trained MNIST MLP (dense, or Lanczos edges when too large)."""
from nnspectra.experiments.realdata import stage_mnist_spectrum
from nnspectra.runtime import resolve_device
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device(resolve_device(step.params["cfg"]["device"]))
    spec = stage_mnist_spectrum(step.params["cfg"], int(step.wildcards["width"]), step.seed, step.input["model"],
                                step.output["spectrum"])
    step.extra.update(method=spec["method"], n_params=spec["n_params"], hvps=spec["hvps"])
