"""P0 Fig 8: straight-line loss profiles between simultaneous iterates (GD vs SGD; SGD vs SGD)."""
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2016.predecessor import plot_fig8

with Step.from_namespace(snakemake) as step:  # noqa: F821
    run = load_arrays(step.input["profiles"])
    plot_fig8(run["alphas"], run["steps"], {"GD vs SGD, same init": run["gd_sgd"],
                                            "SGD vs SGD, two inits": run["sgd_sgd"]},
              step.output["fig"], step.params["setting"])
