"""One online-SGD run of Ben Arous et al. (task gmm, dscan or xor) with spectral measurements."""
from nnspectra.experiments.alignment import run_from_config
from nnspectra.io import save_arrays
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    step.set_device("cpu (numpy float64)")
    save_arrays(step.output["run"], **run_from_config(step.params["task"], step.params["cfg"], step.wildcards))
