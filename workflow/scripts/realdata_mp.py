"""Appendix B: logistic-regression Hessian spectra (single blob vs MP, two blobs with one outlier) and claims 18-19."""
from nnspectra.experiments.sagun2018.mp import MpSettings, mp_metrics, run_mp_appendix
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    mp = settings(MpSettings, step.params["cfg"]["realdata.mp"])
    spectra = run_mp_appendix(mp, step.seed)
    save_arrays(step.output["spectra"], **spectra)
    save_json(step.output["analysis"], mp_metrics(spectra, mp.ratios, mp.two_blob_ratios))
