"""Per-seed metrics of SPEC §4 claims 1-7 for the replication scorecard."""
from nnspectra.experiments.sagun2018.blobs import attach_rows, collect_counts
from nnspectra.experiments.sagun2018.blobs_metrics import blobs_metrics, scale_evidence
from nnspectra.pipeline.io import load_arrays, load_json, save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    long = collect_counts(attach_rows([load_json(p) for p in step.input["counts"]]))
    fig1 = {int(s): {"init": load_arrays(i)["eig_H"], "final": load_arrays(f)["eig_H"]}
            for s, i, f in zip(step.params["seeds"], step.input["fig1_init"], step.input["fig1_final"])}
    save_json(step.output["metrics"], blobs_metrics(long, fig1, step.params["fig1_run"],
                                                           scale_evidence(step.params["cfg"])).as_dict())
