"""P0 Fig 6: histogram of the final lambda_max over random inits on a sphere, mode and claim band marked."""
import numpy as np

from nnspectra.experiments.sagun2016.predecessor_metrics import LAMBDA_BAND, lambda_max_mode
from nnspectra.experiments.sagun2016.predecessor_training import P0Train
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2016.predecessor import plot_fig6

with Step.from_namespace(snakemake) as step:  # noqa: F821
    runs = [load_arrays(p) for p in step.input["runs"]]
    lam = np.concatenate([r["lambda_max"] for r in runs])
    tols = runs[0]["snapshot_tols"].tolist()
    at_tol = {t: np.concatenate([r["lambda_max_at_tol"][i] for r in runs]) for i, t in enumerate(tols)}
    plot_fig6(lam, step.output["fig"], step.params["setting"], mode=lambda_max_mode(lam), band=LAMBDA_BAND,
              at_tolerance=at_tol, final_tolerance=settings(P0Train, step.params["cfg"]["predecessor.train"]).grad_norm_tol)
