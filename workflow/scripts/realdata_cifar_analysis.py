"""Claims 14-17 for one seed: the switch, the final gain, the barrier and the sharpness along the line."""
import pandas as pd

from nnspectra.experiments.sagun2018.cifar import cifar_metrics
from nnspectra.pipeline.io import save_json
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    frames = {key: pd.read_csv(step.input[key]) for key in ("part1", "part2", "interp")}
    save_json(step.output["analysis"], cifar_metrics(frames["part1"], frames["part2"], frames["interp"]))
