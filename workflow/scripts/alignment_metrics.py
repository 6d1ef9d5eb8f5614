"""Per-seed metrics of SPEC §4 claims 24-32 from the saved alignment runs."""
from nnspectra.experiments.benarous2024.alignment_metrics import AlignmentClaims, alignment_metrics
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import load_arrays, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    runs = {key: [load_arrays(p) for p in step.input[key]] for key in ("gmm", "dscan", "xor")}
    claims = settings(AlignmentClaims, step.params["cfg"]["alignment.claims"])
    save_json(step.output["metrics"], alignment_metrics(runs["gmm"], runs["dscan"], runs["xor"], claims).as_dict())
