"""Seed Fig 10: loss and accuracy on the line between the LB and SB end points."""
import pandas as pd

from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_json
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2018 import RealdataPlot
from nnspectra.plotting.sagun2018.cifar import plot_interpolation

with Step.from_namespace(snakemake) as step:  # noqa: F821
    barrier = float(load_json(step.input["analysis"])["barrier_train_loss"])
    plot_interpolation(pd.read_csv(step.input["interp"]), barrier, step.output["fig"],
                       settings(RealdataPlot, step.params["cfg"]["realdata.plot"]).setting)
