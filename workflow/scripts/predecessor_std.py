"""P0 Fig 7: the same 2-n-n-2 net and init trained by GD on blobs of growing std; final Hessian spectra."""
from nnspectra.experiments.sagun2016.predecessor import P0Fig7, blob_std_sweep
from nnspectra.experiments.sagun2016.predecessor_training import P0Blobs, P0Model, P0Train
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, seed = step.params["cfg"], int(step.wildcards["seed"])
    data, model = settings(P0Blobs, cfg["predecessor.blobs"]), settings(P0Model, cfg["predecessor.model"])
    train, fig7 = settings(P0Train, cfg["predecessor.train"]), settings(P0Fig7, cfg["predecessor.fig7"])
    step.set_device("cpu")
    out = blob_std_sweep(data, fig7, train, model, seed)
    save_arrays(step.output["run"], seed=seed, **out)
