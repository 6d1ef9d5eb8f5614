"""Table 1 replica: our outlier counts per configuration (median [min-max] over seeds) beside the paper's."""
from nnspectra.experiments.sagun2018.blobs import attach_rows, collect_counts, table1
from nnspectra.pipeline.io import load_json, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    long = collect_counts(attach_rows([load_json(p) for p in step.input["counts"]]))
    save_table(long, step.output["seeds"])
    save_table(table1(long), step.output["csv"], step.output["md"],
               caption="Table 1 (Sagun et al. 2018, App. A) replicated: outlier counts of the final Hessian per rule, "
                       "median [min-max] over seeds; paper_* columns are the published single-run values.")
