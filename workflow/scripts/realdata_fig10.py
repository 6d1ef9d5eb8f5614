"""Seed Fig 10: loss and accuracy on the line between the LB and SB end points."""
import pandas as pd

from nnspectra.interpolation import barrier_height
from nnspectra.plotting.realdata import plot_interpolation
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    frame = pd.read_csv(step.input["interp"])
    barrier = barrier_height(frame["alpha"], frame["train_loss"])
    plot_interpolation(frame, barrier, step.output["fig"], step.params["cfg"]["realdata.plot"]["setting"])
