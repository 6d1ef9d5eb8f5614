"""Train the MNIST convnet with the large (LB) or small (SB) batch (seed Figs 7-8)."""
from nnspectra.experiments.realdata import stage_lbsb_train
from nnspectra.runtime import resolve_device
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device(resolve_device(step.params["cfg"]["device"]))
    stage_lbsb_train(step.params["cfg"], step.params["regime"], step.seed, step.output["model"],
                     step.output["history"])
