"""Wang et al.'s heavy-tail examples (SPEC §3.2): ridge readouts on four fixed first layers, all seeds."""
from nnspectra.experiments.wang2023.heavytail_examples import HtExamples, run_examples, summary, verdicts
from nnspectra.pipeline.config import settings
from nnspectra.pipeline.io import save_arrays, save_json, save_table
from nnspectra.pipeline.step import Step

with Step.from_namespace(snakemake) as step:  # noqa: F821
    examples = settings(HtExamples, step.params["cfg"]["evolution.ht_examples"])
    runs, spectra = run_examples(examples, examples.seeds)
    save_table(runs, step.output["runs"])
    save_arrays(step.output["spectra"], **spectra)
    save_table(summary(runs), step.output["csv"], step.output["md"],
               caption="Heavy-tailed vs Gaussian first layers, ridge readout (SPEC §3.2): mean and sd over seeds.")
    save_json(step.output["verdicts"], {f"ridge_{r:g}": verdicts(runs, r) for r in examples.ridges})
