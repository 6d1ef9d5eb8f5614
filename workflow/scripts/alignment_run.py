"""One online-SGD run of Ben Arous et al. (task gmm, dscan or xor) with spectral measurements."""
from nnspectra.experiments.benarous2024.alignment import KINDS, MatrixSettings, OnlineSGD, run_gmm, run_xor
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg, w, task = step.params["cfg"], step.wildcards, step.params["task"]
    step.set_device("cpu (numpy float64)")
    mats = settings(MatrixSettings, cfg["alignment.matrices"])
    d, lam = int(w["aln_d"]), float(w["aln_lam"])
    if task == "xor":
        sgd = OnlineSGD(cfg["alignment.xor.c"], cfg["alignment.xor.beta"], key="alignment.xor")
        run = run_xor(sgd, mats, d, int(w["aln_K"]), lam, step.seed, cfg["alignment.xor.times"])
    else:  # gmm: every measurement; dscan: the full Hessian only, at the d-scan's checkpoints
        sgd = OnlineSGD(cfg["alignment.gmm.c"], cfg["alignment.gmm.beta"])
        times = cfg["alignment.gmm.times"] if task == "gmm" else cfg["alignment.dscan.times"]
        run = run_gmm(cfg["alignment.gmm.k"], cfg["alignment.gmm.means"], sgd, mats, d, lam, step.seed, times,
                      blocks=task == "gmm", kinds=KINDS if task == "gmm" else ("hessian",))
    save_arrays(step.output["run"], **run)
