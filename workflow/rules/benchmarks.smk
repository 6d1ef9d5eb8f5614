# On-demand benchmark of the curvature engine (issue #3; docs/performance.md). Deliberately NOT in
# TARGETS, so `rule all` never runs it:
#   snakemake --cores 2 bench_curvature   ->  results/benchmarks/curvature.csv, curvature.md

BENCH_CURVATURE = {"csv": f"{RESULTS}/benchmarks/curvature.csv", "md": f"{RESULTS}/benchmarks/curvature.md"}


rule bench_curvature:
    output:
        csv=report(BENCH_CURVATURE["csv"], caption="../report/bench_curvature.rst", category="Benchmarks",
                   labels={"table": "curvature benchmark", "format": "csv"}),
        md=report(BENCH_CURVATURE["md"], caption="../report/bench_curvature.rst", category="Benchmarks",
                  labels={"table": "curvature benchmark", "format": "markdown"}),
    log:
        logfile("bench_curvature"),
    benchmark:
        benchfile("bench_curvature")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=12000,
        runtime=120,
    params:
        code=code_version("nnspectra.curvature.benchmark"),
        cfg=config_subset(config, "bench"),
    script:
        "../scripts/bench_curvature.py"
