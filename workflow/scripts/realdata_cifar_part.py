"""CIFAR-10 bare AlexNet: Part I (large batch from init) or Part II (small batch from Part I), seed Fig 9."""
from nnspectra.experiments.realdata import stage_cifar_part
from nnspectra.runtime import resolve_device
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device(resolve_device(step.params["cfg"]["device"]))
    stage_cifar_part(step.params["cfg"], int(step.params["part"]), step.seed, step.output["model"],
                     step.output["history"], start_model=step.input.get("start"),
                     checkpoint=step.params["checkpoint"])
