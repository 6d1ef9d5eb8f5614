# Replication scorecard: every claim of SPEC §4 (src/nnspectra/claims/*.yaml) evaluated against the
# metrics the experiments wrote (METRICS). Included LAST in the Snakefile, so METRICS is complete.
#   snakemake --cores 2 scorecard  ->  results/<run>/scorecard.csv, scorecard.md, scorecard_compact.rst
# scorecard_compact.rst is the compact claims table that the report's landing page (workflow/report/workflow.rst)
# includes from beside scorecard.csv.

from nnspectra.claims import claim_files

SCORECARD = {"csv": f"{RESULTS}/scorecard.csv", "md": f"{RESULTS}/scorecard.md",
             "compact": f"{RESULTS}/scorecard_compact.rst"}
TARGETS["scorecard"] = list(SCORECARD.values())


rule scorecard:
    localrule: True
    input:
        metrics=METRICS,
        claims=[os.path.relpath(p) for p in claim_files()],  # relative: the tree can be moved or copied
    output:
        csv=report(SCORECARD["csv"], caption="../report/scorecard.rst", category="Scorecard",
                   labels={"table": "scorecard", "format": "csv"}),
        md=report(SCORECARD["md"], caption="../report/scorecard.rst", category="Scorecard",
                  labels={"table": "scorecard", "format": "markdown"}),
        compact=SCORECARD["compact"],
    log:
        logfile("scorecard"),
    benchmark:
        benchfile("scorecard")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code("scorecard.py"),
        cfg=cfg("scorecard"),
    script:
        "../scripts/scorecard.py"
