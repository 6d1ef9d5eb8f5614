"""Figure of the heavy-tail examples: first-layer spectra and ridge test error."""
import pandas as pd

from nnspectra.experiments.wang2023.heavytail_examples import HtExamples
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.pipeline.step import Step
from nnspectra.plotting.wang2023.heavytail_examples import plot_heavytail_examples

with Step.from_namespace(snakemake) as step:  # noqa: F821
    table = pd.read_csv(step.input["summary"])
    labels = dict(zip(table["matrix"], table["description"]))
    plot_heavytail_examples(pd.read_csv(step.input["runs"]), load_arrays(step.input["spectra"]), labels,
                            settings(HtExamples, step.params["cfg"]["evolution.ht_examples"]), step.output["figure"])
