"""Per-seed metrics of SPEC §4 claims 20-23 (P0) for the replication scorecard."""
from nnspectra.experiments.sagun2016.predecessor import P0Fig4, P0Fig7
from nnspectra.experiments.sagun2016.predecessor_metrics import predecessor_metrics, scale_evidence
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    fig4: dict = {}
    for run in map(load_arrays, step.input["blobs"]):
        fig4.setdefault(int(run["seed"]), {})[int(run["width"])] = run["eig_final"]
    fig6 = {int(r["seed"]): r["lambda_max"] for r in map(load_arrays, step.input["sphere"])}
    fig7 = {int(r["seed"]): dict(zip(r["stds"].tolist(), r["lambda_max"].tolist()))
            for r in map(load_arrays, step.input["std"])}
    init = {(str(r["inputs"]), int(r["seed"])): r["eig_init"] for r in map(load_arrays, step.input["init"])}
    fig2 = {s: (init[("mnist", s)], init[("random", s)]) for (kind, s) in init if kind == "mnist" and ("random", s) in init}
    cfg = step.params["cfg"]
    save_json(step.output["metrics"], predecessor_metrics(fig4=fig4, fig6=fig6, fig7=fig7, fig2=fig2,
                                                 widths=list(settings(P0Fig4, cfg["predecessor.fig4"]).widths),
                                                 stds=list(settings(P0Fig7, cfg["predecessor.fig7"]).stds),
                                                 scale=scale_evidence(cfg)).as_dict())
