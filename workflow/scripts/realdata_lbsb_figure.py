"""Seed Figs 7 (top eigenvalues with the heuristic threshold) and 8 (negative edge), LB vs SB."""
from nnspectra.experiments.sagun2018.lbsb import LbsbAnalysis
from nnspectra.experiments.sagun2018.lbsb_training import LbsbTrain
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, load_json
from nnspectra.pipeline.step import Step
from nnspectra.plotting.sagun2018 import RealdataPlot
from nnspectra.plotting.sagun2018.lbsb import plot_lbsb_bottom, plot_lbsb_top

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    plot, analysis = settings(RealdataPlot, cfg["realdata.plot"]), settings(LbsbAnalysis, cfg["realdata.lbsb.analysis"])
    train = settings(LbsbTrain, cfg["realdata.lbsb.train"])
    specs = {r: {**load_arrays(step.input[r]), "batch_size": train.batch_size(r)} for r in ("lb", "sb")}
    counted = load_json(step.input["analysis"])
    counts = {r: (int(counted[f"count_{r}"]), float(counted[f"cutoff_{r}"])) for r in ("lb", "sb")}
    plot_lbsb_top(specs, counts, step.output["fig7"], int(plot.top_lbsb), analysis.count_rule, plot.setting)
    plot_lbsb_bottom(specs, step.output["fig8"], plot.setting)
