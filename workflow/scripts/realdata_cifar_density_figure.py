"""Beyond the paper: Hessian spectral densities of the CIFAR-10 AlexNet at the end of Part I (LB) and Part II (SB)."""
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2018.cifar_density import plot_spectral_densities
from nnspectra.plotting.sagun2018 import RealdataPlot

with Step.from_namespace(snakemake) as step:  # noqa: F821
    panels = {"Part I (large batch)": load_arrays(step.input["part1"]),
              "Part II (small batch)": load_arrays(step.input["part2"])}
    plot_spectral_densities(panels, step.output["fig"], settings(RealdataPlot, step.params["cfg"]["realdata.plot"]).setting)
