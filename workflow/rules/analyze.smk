# Your model, your data: the papers' spectral analyses for any model and dataset named in the config section
# `analyze.studies` (README "Your model, your data", docs/analyze.md). Deliberately NOT in TARGETS: `rule all`
# never runs it, and with no studies (the default) nothing here is planned.
#   snakemake --cores 2 analyze --configfile config/analyze.yaml        every study + the summary table
#   snakemake --cores 2 analyze_<study> --configfile config/analyze.yaml  one study
# Outputs: results/<run_name>/analyze/<study>/{record.json, arrays.npz, blocks.csv, weights.csv, *.png} and
# results/<run_name>/analyze/summary.{csv,md} (+ summary_compact.rst, the report landing page's table), each
# with a provenance sidecar. Report: snakemake --report report.html analyze --configfile config/analyze.yaml

from nnspectra.analyze.study import factory_source

AN_STUDIES = config["analyze"]["studies"]
AN_DIR = result("analyze/{study}")
AN_FIGURES = ("spectrum", "density", "blocks", "lambda_max")
AN_RESERVED = {"run", "figures", "summary"}  # rule names analyze_<word> already taken

for _study in AN_STUDIES:
    if _study in AN_RESERVED:
        sys.exit(f"Config error: config key 'analyze.studies.{_study}': the study name '{_study}' is reserved "
                 f"(rule analyze_{_study} exists); rename the study")


wildcard_constraints:
    study="[A-Za-z0-9][A-Za-z0-9_-]*",


# every file a study's target builds
AN_OUTPUTS = {s: [f"{AN_DIR}/{name}".format(study=s) for name in ("record.json", "blocks.csv", "weights.csv")]
                 + [f"{AN_DIR}/{fig}.png".format(study=s) for fig in AN_FIGURES] for s in AN_STUDIES}


rule analyze_run:
    output:
        record=f"{AN_DIR}/record.json",
        arrays=f"{AN_DIR}/arrays.npz",
        blocks=f"{AN_DIR}/blocks.csv",
        weights=f"{AN_DIR}/weights.csv",
    log:
        logfile("analyze_run", "{study}"),
    benchmark:
        benchfile("analyze_run", "{study}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=study_gpu,
        mem_mb=8000,
        runtime=120,
    params:
        cfg=lambda w: cfg(f"analyze.studies.{w.study}", "data_dir", "download", "device", "memory_budget_gb"),
        code=code("analyze_run.py"),
        # the user's factory file and sha256: editing their model code reruns the study
        factory=lambda w: factory_source(AN_STUDIES[w.study]["model"]["name"], missing_ok=True),
        seed=lambda w: AN_STUDIES[w.study]["seed"],
    script:
        "../scripts/analyze_run.py"


rule analyze_figures:
    input:
        record=f"{AN_DIR}/record.json",
        arrays=f"{AN_DIR}/arrays.npz",
        blocks=f"{AN_DIR}/blocks.csv",
    output:
        **{name: report(f"{AN_DIR}/{name}.png", caption=f"../report/analyze_{name}.rst", category="Your model, your data",
                        subcategory="{study}", labels={"study": "{study}", "figure": name}) for name in AN_FIGURES},
    log:
        logfile("analyze_figures", "{study}"),
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code("analyze_figures.py"),
    script:
        "../scripts/analyze_figures.py"


rule analyze_summary:
    localrule: True
    input:
        records=[f"{AN_DIR}/record.json".format(study=s) for s in AN_STUDIES],
    output:
        csv=report(result("analyze/summary.csv"), caption="../report/analyze_summary.rst", category="Your model, your data",
                   labels={"table": "studies", "format": "csv"}),
        md=report(result("analyze/summary.md"), caption="../report/analyze_summary.rst", category="Your model, your data",
                  labels={"table": "studies", "format": "markdown"}),
        compact=result("analyze/summary_compact.rst"),  # the report's landing page includes it (workflow.rst)
    log:
        logfile("analyze_summary"),
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code("analyze_summary.py"),
    script:
        "../scripts/analyze_summary.py"


rule analyze:
    input:
        [path for s in AN_STUDIES for path in AN_OUTPUTS[s]],
        rules.analyze_summary.output,


for _study in AN_STUDIES:
    rule:
        name: f"analyze_{_study}"
        input: AN_OUTPUTS[_study]
