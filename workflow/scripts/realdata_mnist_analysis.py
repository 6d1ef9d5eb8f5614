"""Claims 8-10 for one seed: the MNIST width sweep's spectra compared across widths."""
from nnspectra.experiments.sagun2018.mnist import WidthAnalysis, mnist_width_metrics
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    analysis = settings(WidthAnalysis, step.params["cfg"]["realdata.mnist.analysis"])
    spectra = {int(a["width"]): a for a in map(load_arrays, step.input["spectra"])}
    save_json(step.output["analysis"], mnist_width_metrics(spectra, analysis.compare_top, analysis.outlier_tau,
                                                           analysis.window))
