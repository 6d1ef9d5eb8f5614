# On-demand benchmark of the curvature engine (docs/performance.md). Deliberately NOT in TARGETS, so
# `rule all` never runs it:
#   snakemake --cores 2 bench_curvature   ->  results/<run>/benchmarks/curvature.csv, curvature.md

BENCH_HARNESS = "benchmarks/curvature_harness.py"


rule bench_curvature:
    input:
        harness=BENCH_HARNESS,
    output:
        csv=report(result("benchmarks/curvature.csv"), caption="../report/bench_curvature.rst", category="Benchmarks",
                   labels={"table": "curvature benchmark", "format": "csv"}),
        md=report(result("benchmarks/curvature.md"), caption="../report/bench_curvature.rst", category="Benchmarks",
                  labels={"table": "curvature benchmark", "format": "markdown"}),
    log:
        logfile("bench_curvature"),
    benchmark:
        benchfile("bench_curvature")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=12000,
        runtime=120,
    params:
        code=code("bench_curvature.py"),
        cfg=cfg("bench"),
        harness=lambda w, input: input.harness,
    script:
        "../scripts/bench_curvature.py"
