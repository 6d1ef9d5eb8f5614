"""Loss and accuracy on the line between the CIFAR-10 Part I and Part II end points (seed Fig 10)."""
from nnspectra.experiments.realdata import stage_cifar_interp
from nnspectra.runtime import resolve_device
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device(resolve_device(step.params["cfg"]["device"]))
    stage_cifar_interp(step.params["cfg"], step.seed, step.input["part1"], step.input["part2"], step.output["interp"])
