"""P0 Fig 6: histogram of the final lambda_max over random inits on a sphere, mode and claim band marked."""
import numpy as np

from nnspectra.experiments.predecessor import LAMBDA_BAND, lambda_max_mode
from nnspectra.io import load_arrays
from nnspectra.plotting.predecessor import plot_fig6
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    lam = np.concatenate([load_arrays(p)["lambda_max"] for p in step.input["runs"]])
    plot_fig6(lam, step.output["fig"], step.params["setting"], mode=lambda_max_mode(lam), band=LAMBDA_BAND)
