"""Train one 784-n-10 MLP on MNIST-1K (seed Figs 4-6)."""
from nnspectra.experiments.realdata import stage_mnist_train
from nnspectra.runtime import resolve_device
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device(resolve_device(step.params["cfg"]["device"]))
    stage_mnist_train(step.params["cfg"], int(step.wildcards["width"]), step.seed, step.output["model"],
                      step.output["history"])
