"""Figure of the heavy-tail examples: first-layer spectra and ridge test error."""
import pandas as pd

from nnspectra.io import load_arrays
from nnspectra.plotting.heavytail_examples import plot_heavytail_examples
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    plot_heavytail_examples(pd.read_csv(step.input["runs"]), load_arrays(step.input["spectra"]),
                            step.params["cfg"]["evolution.ht_examples"], step.output["figure"])
