"""results/metrics/realdata.json: per-seed values of SPEC claims 8-19."""
from nnspectra.experiments.realdata import collect_metrics
from nnspectra.io import save_json
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    ins = snakemake.input  # noqa: F821
    save_json(step.output["metrics"], collect_metrics(step.params["cfg"], list(ins.mnist), list(ins.lbsb),
                                                      list(ins.cifar), list(ins.mp)))
