"""Seed Fig 9: CIFAR-10 train/test loss and accuracy through Part I (LB) and Part II (SB)."""
import pandas as pd

from nnspectra.pipeline.config import settings
from nnspectra.plotting.sagun2018 import RealdataPlot
from nnspectra.plotting.sagun2018.cifar import plot_cifar_training
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    part1, part2 = pd.read_csv(step.input["part1"]), pd.read_csv(step.input["part2"])
    history = pd.concat([part1, part2.iloc[1:]], ignore_index=True)  # Part II's step-0 row repeats Part I's end
    plot_cifar_training(history, int(part1["step"].iloc[-1]), step.output["fig"],
                        settings(RealdataPlot, step.params["cfg"]["realdata.plot"]).setting)
