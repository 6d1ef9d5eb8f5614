"""Per-seed metrics of claims 33-42 -> results/metrics/evolution.json."""
from nnspectra.experiments.evolution import claim_metrics, group_summaries
from nnspectra.io import load_json, save_json
from nnspectra.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    cfg = step.params["cfg"]
    runs = group_summaries([load_json(p) | {"path": p} for p in snakemake.input.runs])  # noqa: F821
    scaling: dict[float, list] = {}
    for path in snakemake.input.scaling:  # noqa: F821
        record = load_json(path)
        scaling.setdefault(float(record["scale"]), []).append(record)
    save_json(step.output["metrics"], claim_metrics(runs, scaling, cfg["evolution.claims"]))
