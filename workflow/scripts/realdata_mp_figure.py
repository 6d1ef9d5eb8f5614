"""Appendix B figure: single-blob Hessian vs the MP law; two-blob Hessian with its outlier."""
from nnspectra.experiments.sagun2018.mp import MpSettings
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays
from nnspectra.plotting.sagun2018 import RealdataPlot
from nnspectra.plotting.sagun2018.mp import plot_mp_appendix
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    mp = settings(MpSettings, cfg["realdata.mp"])
    plot_mp_appendix(load_arrays(step.input["spectra"]), mp.ratios, mp.two_blob_ratios, step.output["fig"],
                     int(mp.bins), settings(RealdataPlot, cfg["realdata.plot"]).setting)
