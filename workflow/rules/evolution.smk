# Wang et al. (2023) spectral invariance and evolution (SPEC §3, claims 33-42).
# per (dataset, run, seed): train + spectra of W^T W/h, CK, NTK at checkpoints -> figures, metrics.

EVO = config["evolution"]
EVO_SEEDS = EVO["seeds"]
EVO_PLOT_SEED = EVO["plot"]["seed"]
if EVO_PLOT_SEED not in EVO_SEEDS:
    sys.exit(f"Config error: evolution.plot.seed = {EVO_PLOT_SEED} is not one of evolution.seeds {EVO_SEEDS}")
for _ds_name, _ds in EVO["datasets"].items():
    for _run in _ds["runs"]:
        if _run not in EVO["runs"]:
            sys.exit(f"Config error: evolution.datasets.{_ds_name}.runs names '{_run}', which is not in evolution.runs")


wildcard_constraints:
    dataset="[A-Za-z0-9_-]+",
    run="[A-Za-z0-9_-]+",
    seed=r"\d+",
    factor=r"[0-9.]+",


# Input lists, built once: every summary of a dataset (all seeds), the plot seed's spectra, the
# runs and scaling records the claims read.
EVO_SUMMARIES = {ds: [f"results/evolution/{ds}/{run}/seed{seed}/summary.json" for run in spec["runs"] for seed in EVO_SEEDS]
                 for ds, spec in EVO["datasets"].items()}
EVO_SPECTRA = {ds: [f"results/evolution/{ds}/{run}/seed{EVO_PLOT_SEED}/spectra.npz" for run in spec["runs"]]
               for ds, spec in EVO["datasets"].items()}
EVO_CLAIM_DATASETS = [EVO["claims"]["dataset"]] + ([EVO["claims"]["real_dataset"]] if EVO["claims"]["real_dataset"] else [])
for _ds_name in EVO_CLAIM_DATASETS:
    if _ds_name not in EVO["datasets"]:
        sys.exit(f"Config error: evolution.claims names dataset '{_ds_name}', which is not in evolution.datasets")
EVO_CLAIM_RUNS = [EVO["claims"][key] for key in ("gd_small", "sgd_small", "gd_large", "adam")]
EVO_METRIC_INPUTS = {
    "runs": [f"results/evolution/{ds}/{run}/seed{seed}/summary.json" for ds in EVO_CLAIM_DATASETS
             for run in EVO_CLAIM_RUNS for seed in EVO_SEEDS if run in EVO["datasets"][ds]["runs"]],
    "scaling": [f"results/evolution/scaling/{EVO['scaling']['dataset']}/{EVO['scaling']['run']}/x{factor}/seed{seed}/scaling.json"
                for factor in EVO["scaling"]["factors"] for seed in EVO_SEEDS],
}
EVO_FIGURES = {
    "evolution_invariance": EVO["claims"]["dataset"],
    "evolution_spike": EVO["claims"]["dataset"],
    "evolution_heavytail": EVO["claims"]["dataset"],
    "evolution_realdata": EVO["claims"]["real_dataset"] or EVO["claims"]["dataset"],
}
EVO_FIG_INPUTS = {name: {"summaries": EVO_SUMMARIES[ds], "spectra": EVO_SPECTRA[ds]} for name, ds in EVO_FIGURES.items()}
for _name in EVO_FIGURES:
    TARGETS[_name] = [f"results/figures/{_name}.png"]
TARGETS["evolution_table"] = ["results/tables/evolution_table.csv", "results/tables/evolution_table.md"]
TARGETS["evolution_ht_examples"] = ["results/tables/evolution_ht_examples.csv", "results/tables/evolution_ht_examples.md",
                                    "results/figures/evolution_ht_examples.png"]
METRICS.append("results/metrics/evolution.json")


rule evolution_run:
    output:
        summary="results/evolution/{dataset}/{run}/seed{seed}/summary.json",
        spectra="results/evolution/{dataset}/{run}/seed{seed}/spectra.npz",
    log:
        logfile("evolution_run", "{dataset}_{run}_seed{seed}"),
    benchmark:
        benchfile("evolution_run", "{dataset}_{run}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=120,
    params:
        cfg=lambda w: config_subset(config, f"evolution.datasets.{w.dataset}.data", "evolution.model",
                                    f"evolution.runs.{w.run}", "evolution.analysis", "data_dir", "device"),
        code=code_version("nnspectra.experiments.evolution"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/evolution_run.py"


rule evolution_scaling:
    output:
        record="results/evolution/scaling/{dataset}/{run}/x{factor}/seed{seed}/scaling.json",
    log:
        logfile("evolution_scaling", "{dataset}_{run}_x{factor}_seed{seed}"),
    benchmark:
        benchfile("evolution_scaling", "{dataset}_{run}_x{factor}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=120,
    params:
        cfg=lambda w: config_subset(config, f"evolution.datasets.{w.dataset}.data", "evolution.model",
                                    f"evolution.runs.{w.run}", "device"),
        code=code_version("nnspectra.experiments.evolution"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/evolution_scaling.py"


rule evolution_metrics:
    input:
        **EVO_METRIC_INPUTS,
    output:
        metrics="results/metrics/evolution.json",
    log:
        logfile("evolution_metrics"),
    benchmark:
        benchfile("evolution_metrics")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=config_subset(config, "evolution.claims", "evolution.scaling"),
        code=code_version("nnspectra.experiments.evolution"),
    script:
        "../scripts/evolution_metrics.py"


rule evolution_table:
    input:
        summaries=[f for files in EVO_SUMMARIES.values() for f in files],
    output:
        csv=report("results/tables/evolution_table.csv", caption="../report/evolution_table.rst", category="Wang et al. 2023"),
        md="results/tables/evolution_table.md",
    log:
        logfile("evolution_table"),
    benchmark:
        benchfile("evolution_table")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code_version("nnspectra.experiments.evolution"),
    script:
        "../scripts/evolution_table.py"


rule evolution_figure:
    input:
        unpack(lambda w: EVO_FIG_INPUTS[w.figure]),
    output:
        figure=report("results/figures/{figure}.png", caption="../report/evolution_figure.rst", category="Wang et al. 2023"),
    log:
        logfile("evolution_figure", "{figure}"),
    benchmark:
        benchfile("evolution_figure", "{figure}")
    wildcard_constraints:
        figure="evolution_invariance|evolution_spike|evolution_heavytail|evolution_realdata",
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=config_subset(config, "evolution.plot", "evolution.model", "evolution.claims", "evolution.analysis"),
        code=code_version("nnspectra.plotting.evolution"),
    script:
        "../scripts/evolution_figure.py"


rule evolution_ht_run:
    output:
        runs="results/evolution/ht_examples/runs.csv",
        spectra="results/evolution/ht_examples/spectra.npz",
        verdicts="results/evolution/ht_examples/verdicts.json",
        csv=report("results/tables/evolution_ht_examples.csv", caption="../report/evolution_ht_examples_table.rst",
                   category="Wang et al. 2023"),
        md="results/tables/evolution_ht_examples.md",
    log:
        logfile("evolution_ht_run"),
    benchmark:
        benchfile("evolution_ht_run")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        cfg=config_subset(config, "evolution.ht_examples"),
        code=code_version("nnspectra.experiments.heavytail_examples"),
    script:
        "../scripts/evolution_ht_examples.py"


rule evolution_ht_figure:
    input:
        runs="results/evolution/ht_examples/runs.csv",
        spectra="results/evolution/ht_examples/spectra.npz",
    output:
        figure=report("results/figures/evolution_ht_examples.png", caption="../report/evolution_ht_examples.rst",
                      category="Wang et al. 2023"),
    log:
        logfile("evolution_ht_figure"),
    benchmark:
        benchfile("evolution_ht_figure")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=config_subset(config, "evolution.ht_examples"),
        code=code_version("nnspectra.plotting.heavytail_examples"),
    script:
        "../scripts/evolution_ht_figure.py"


rule evolution_ht_examples:
    input:
        TARGETS["evolution_ht_examples"],


rule evolution_invariance:
    input:
        TARGETS["evolution_invariance"],


rule evolution_spike:
    input:
        TARGETS["evolution_spike"],


rule evolution_heavytail:
    input:
        TARGETS["evolution_heavytail"],


rule evolution_realdata:
    input:
        TARGETS["evolution_realdata"],


rule evolution:
    input:
        [f for name in EVO_FIGURES for f in TARGETS[name]] + TARGETS["evolution_table"] + TARGETS["evolution_ht_examples"]
        + ["results/metrics/evolution.json"],
