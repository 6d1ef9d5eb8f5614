"""results/<run>/metrics/realdata.json: per-seed values of SPEC claims 8-19 from the sections' analyses."""
from nnspectra.experiments.sagun2018.realdata_metrics import realdata_record, scale_evidence
from nnspectra.pipeline.io import load_json, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    seeds = step.params["seeds"]
    analyses = {section: {int(s): load_json(p) for s, p in zip(seeds[section], step.input[section])}
                for section in seeds}
    save_json(step.output["metrics"], realdata_record(analyses, scale_evidence(step.params["cfg"])).as_dict(sort=True))
