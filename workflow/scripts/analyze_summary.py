"""The table across studies of `snakemake analyze`."""
import pandas as pd

from nnspectra.analyze import summary_row
from nnspectra.pipeline.io import load_json, save_table
from nnspectra.pipeline.step import Step
from nnspectra.report import studies_rst, write_rst

with Step.from_namespace(snakemake) as step:  # noqa: F821
    rows = [summary_row(load_json(path)) for path in step.input["records"]]
    save_table(pd.DataFrame(rows), step.output["csv"], step.output["md"],
               caption="Studies of `snakemake analyze`: outlier counts (gap rule) next to the number of classes C.")
    write_rst(studies_rst(rows), step.output["compact"])
