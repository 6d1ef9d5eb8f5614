"""P0 Fig 8: loss on the straight line between simultaneous GD/SGD iterates, at every recorded step."""
from nnspectra.experiments.sagun2016.predecessor_training import (
    P0Blobs,
    P0Fig8,
    P0Model,
    P0Plot,
    P0Train,
    interpolation_profiles,
)
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    data, model = settings(P0Blobs, cfg["predecessor.blobs"]), settings(P0Model, cfg["predecessor.model"])
    train, fig8 = settings(P0Train, cfg["predecessor.train"]), settings(P0Fig8, cfg["predecessor.fig8"])
    seed = int(settings(P0Plot, cfg["predecessor.plot"]).seed)
    x, y = data.draw(seed)
    step.set_device("cpu")
    out = interpolation_profiles(x, y, fig8, train, model, seed)
    save_arrays(step.output["profiles"], seed=seed, **out)
