"""Per-seed metrics of claims 33-42 -> results/<run>/metrics/evolution.json."""
from nnspectra.experiments.wang2023.evolution_metrics import EvoClaims, claim_metrics, group_summaries
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_json, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    runs = group_summaries([(ds, run, load_json(p))
                            for (ds, run, _), p in zip(step.params["runs"], step.input["runs"])])
    scaling: dict[float, list] = {}
    for (factor, _), path in zip(step.params["scaling"], step.input["scaling"]):
        scaling.setdefault(float(factor), []).append(load_json(path))
    claims = settings(EvoClaims, step.params["cfg"]["evolution.claims"])
    save_json(step.output["metrics"], claim_metrics(runs, scaling, claims).as_dict())
