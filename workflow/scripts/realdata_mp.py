"""Appendix B: logistic-regression Hessian spectra (single blob vs MP, two blobs with one outlier)."""
from nnspectra.experiments.mp_appendix import run_mp_appendix
from nnspectra.io import save_arrays
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    save_arrays(step.output["spectra"], **run_mp_appendix(step.params["cfg"]["realdata.mp"], step.seed))
