"""Seed Figs 7 (top eigenvalues with the heuristic threshold) and 8 (negative edge), LB vs SB."""
from nnspectra.experiments.realdata import heuristic_count
from nnspectra.io import load_arrays
from nnspectra.plotting.realdata import plot_lbsb_bottom, plot_lbsb_top
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    plot, analysis, train = cfg["realdata.plot"], cfg["realdata.lbsb.analysis"], cfg["realdata.lbsb.train"]
    specs = {r: {**load_arrays(step.input[r]), "batch_size": train[f"batch_{r}"]} for r in ("lb", "sb")}
    counts = {r: heuristic_count(s["top"], analysis["count_rule"], int(analysis["window"])) for r, s in specs.items()}
    plot_lbsb_top(specs, counts, step.output["fig7"], int(plot["top_lbsb"]), analysis["count_rule"], plot["setting"])
    plot_lbsb_bottom(specs, step.output["fig8"], plot["setting"])
