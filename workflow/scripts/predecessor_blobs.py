"""P0 Figs 4-5: train one 2-n-n-2 net on the two blobs by GD; exact final Hessian and its isolated eigenvalues."""
from nnspectra.experiments.sagun2016.predecessor import blob_width_run
from nnspectra.experiments.sagun2016.predecessor_training import P0Blobs, P0Model, P0Train
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, seed, width = step.params["cfg"], int(step.wildcards["seed"]), int(step.wildcards["width"])
    data, model = settings(P0Blobs, cfg["predecessor.blobs"]), settings(P0Model, cfg["predecessor.model"])
    train = settings(P0Train, cfg["predecessor.train"])
    x, y = data.draw(seed)
    step.set_device("cpu")
    run = blob_width_run(x, y, width, train, model, seed)
    arrays = {k: run[k] for k in ("hessian_final", "eig_init", "eig_final")}
    save_arrays(step.output["run"], seed=seed, width=width, **arrays)
    summary = {k: v for k, v in run.items() if k not in arrays}
    step.extra["iterations"] = summary["iterations"]
    save_json(step.output["summary"], {"seed": seed, **summary})
