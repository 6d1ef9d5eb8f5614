"""P0 Fig 6: one batch of random inits on a sphere trained together by GD (vmapped); final lambda_max of each."""
from nnspectra.experiments.sagun2016.predecessor_sphere import P0Fig6, sphere_lambda_max
from nnspectra.experiments.sagun2016.predecessor_training import P0Blobs, P0Model, P0Train
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays
from nnspectra.pipeline.runtime import resolve_device, run_deadline
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, seed = step.params["cfg"], int(step.wildcards["seed"])
    data, model = settings(P0Blobs, cfg["predecessor.blobs"]), settings(P0Model, cfg["predecessor.model"])
    train, fig6 = settings(P0Train, cfg["predecessor.train"]), settings(P0Fig6, cfg["predecessor.fig6"])
    x, y = data.draw(seed)
    device = resolve_device(cfg["device"])
    step.set_device(device)
    out = sphere_lambda_max(x, y, int(fig6.width), int(fig6.n_inits), train, model, seed, radius=fig6.radius,
                            snapshot_tols=[float(t) for t in fig6.snapshot_tols], chunk=int(fig6.chunk),
                            device=device, group=fig6.group, checkpoint_dir=step.params.get("checkpoint"),
                            deadline=run_deadline())
    # timings vary with the load: the sidecar keeps them, the result file holds only what the seed fixes
    step.extra.update(seconds_per_init=out.pop("seconds_per_init"), cpu_seconds_per_init=out.pop("cpu_seconds_per_init"))
    save_arrays(step.output["run"], seed=seed, **out)
