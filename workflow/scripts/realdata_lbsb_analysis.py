"""Claims 11-13 for one seed: LB vs SB outliers (count and cutoff of the heuristic threshold) and negative edge."""
from nnspectra.experiments.sagun2018.lbsb import LbsbAnalysis, lbsb_metrics
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    analysis = settings(LbsbAnalysis, step.params["cfg"]["realdata.lbsb.analysis"])
    lb, sb = load_arrays(step.input["lb"]), load_arrays(step.input["sb"])
    save_json(step.output["analysis"], lbsb_metrics(lb, sb, analysis.count_rule, analysis.window))
