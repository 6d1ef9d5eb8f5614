"""Evaluate every replication claim on the metrics files -> results/scorecard.csv, .md and the compact table."""

from nnspectra.pipeline.config import settings
from nnspectra.report import write_compact_rst
from nnspectra.scorecard import ScorecardSettings, build_scorecard
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821 (injected by Snakemake)
    card = build_scorecard(step.input["metrics"], claim_files=step.input["claims"],
                           setting=settings(ScorecardSettings, step.params["cfg"]["scorecard"]).setting)
    card.write(step.output["csv"], step.output["md"])
    write_compact_rst(card.frame, step.output["compact"], setting=card.setting)
