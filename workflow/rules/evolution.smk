# Wang et al. (2023) spectral invariance and evolution (SPEC §3, claims 33-42).
# per (dataset, run, seed): train + spectra of W^T W/h, CK, NTK at checkpoints -> figures, metrics.

EVO = config["evolution"]
EVO_SEEDS = EVO["seeds"]

EVO_PLOT_SEED = EVO["plot"]["seed"]
EVO_SCALING = result("evolution/scaling/{dataset}/{run}/x{factor}/seed{seed}/scaling.json")


wildcard_constraints:
    dataset="[A-Za-z0-9_-]+",
    run="[A-Za-z0-9_-]+",
    seed=r"\d+",
    factor=r"[0-9.]+",



# Input lists, built once, with the (dataset, run, seed) of each file beside it (scripts pass these
# identities to the library, which never parses paths): every summary of a dataset (all seeds), the plot
# seed's spectra, and the runs and scaling records the claims read.
EVO_SUMMARY_IDS = {ds: [(ds, run, seed) for run in spec["runs"] for seed in evo_seeds(ds)] for ds, spec in EVO["datasets"].items()}
EVO_SUMMARIES = {ds: [evo_summary(*i) for i in ids] for ds, ids in EVO_SUMMARY_IDS.items()}
EVO_SPECTRA = {ds: [f"{EVO_RUN}/spectra.npz".format(dataset=ds, run=run, seed=EVO_PLOT_SEED) for run in spec["runs"]]
               for ds, spec in EVO["datasets"].items()}
EVO_CLAIM_DATASETS = list(dict.fromkeys([EVO["claims"]["dataset"]]
                                         + ([EVO["claims"]["real_dataset"]] if EVO["claims"]["real_dataset"] else [])
                                         + EVO["claims"]["also_real_datasets"]))
EVO_CLAIM_RUNS = [EVO["claims"][key] for key in ("gd_small", "sgd_small", "gd_large", "adam")]
EVO_METRIC_IDS = [(ds, run, seed) for ds in EVO_CLAIM_DATASETS for run in EVO_CLAIM_RUNS for seed in evo_seeds(ds)
                  if run in EVO["datasets"][ds]["runs"]]
EVO_SCALING_IDS = [(float(factor), seed) for factor in EVO["scaling"]["factors"] for seed in EVO_SEEDS]
EVO_METRIC_INPUTS = {
    "runs": [evo_summary(*i) for i in EVO_METRIC_IDS],
    "scaling": [EVO_SCALING.format(dataset=EVO["scaling"]["dataset"], run=EVO["scaling"]["run"], factor=factor, seed=seed)
                for factor, seed in [(f, s) for f in EVO["scaling"]["factors"] for s in EVO_SEEDS]],
}
# the datasets each figure draws: the synthetic one, or every real-data variant the claims name that is configured
EVO_REAL_DATASETS = [ds for ds in EVO_CLAIM_DATASETS[1:] if ds in EVO["datasets"]] or [EVO["claims"]["dataset"]]
EVO_FIGURES = {
    "evolution_invariance": [EVO["claims"]["dataset"]],
    "evolution_spike": [EVO["claims"]["dataset"]],
    "evolution_heavytail": [EVO["claims"]["dataset"]],
    "evolution_realdata": EVO_REAL_DATASETS,
}
EVO_FIG_INPUTS = {name: {"summaries": [f for ds in dss for f in EVO_SUMMARIES[ds]],
                         "spectra": [f for ds in dss for f in EVO_SPECTRA[ds]]} for name, dss in EVO_FIGURES.items()}
for _name in EVO_FIGURES:
    TARGETS[_name] = [result(f"figures/{_name}.png")]
TARGETS["evolution_table"] = [result("tables/evolution_table.csv"), result("tables/evolution_table.md")]
TARGETS["evolution_ht_examples"] = [result("tables/evolution_ht_examples.csv"), result("tables/evolution_ht_examples.md"),
                                    result("figures/evolution_ht_examples.png")]
METRICS.append(result("metrics/evolution.json"))


rule evolution_run:
    output:
        summary=f"{EVO_RUN}/summary.json",
        spectra=f"{EVO_RUN}/spectra.npz",
    log:
        logfile("evolution_run", "{dataset}_{run}_seed{seed}"),
    benchmark:
        benchfile("evolution_run", "{dataset}_{run}_seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=120,
    params:
        cfg=lambda w: cfg(f"evolution.datasets.{w.dataset}.data", "evolution.model", f"evolution.datasets.{w.dataset}.model",
                          f"evolution.runs.{w.run}", "evolution.analysis", *RD_DATA_KEYS),
        code=code("evolution_run.py"),
        seed=seed_of,
    script:
        "../scripts/evolution_run.py"


rule evolution_scaling:
    output:
        record=EVO_SCALING,
    log:
        logfile("evolution_scaling", "{dataset}_{run}_x{factor}_seed{seed}"),
    benchmark:
        benchfile("evolution_scaling", "{dataset}_{run}_x{factor}_seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=120,
    params:
        cfg=lambda w: cfg(f"evolution.datasets.{w.dataset}.data", "evolution.model", f"evolution.datasets.{w.dataset}.model",
                          f"evolution.runs.{w.run}", "device"),
        code=code("evolution_scaling.py"),
        seed=seed_of,
    script:
        "../scripts/evolution_scaling.py"


rule evolution_metrics:
    input:
        **EVO_METRIC_INPUTS,
    output:
        metrics=result("metrics/evolution.json"),
    log:
        logfile("evolution_metrics"),
    benchmark:
        benchfile("evolution_metrics")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=cfg("evolution.claims", "evolution.scaling", "run_name"),
        code=code("evolution_metrics.py"),
        runs=EVO_METRIC_IDS,
        scaling=EVO_SCALING_IDS,
    script:
        "../scripts/evolution_metrics.py"


rule evolution_table:
    input:
        summaries=[f for files in EVO_SUMMARIES.values() for f in files],
    output:
        csv=report(result("tables/evolution_table.csv"), caption="../report/evolution_table.rst", category="Wang et al. 2023"),
        md=result("tables/evolution_table.md"),
    log:
        logfile("evolution_table"),
    benchmark:
        benchfile("evolution_table")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code("evolution_table.py"),
        ids=[i for ids in EVO_SUMMARY_IDS.values() for i in ids],
    script:
        "../scripts/evolution_table.py"


rule evolution_figure:
    input:
        unpack(lambda w: EVO_FIG_INPUTS[w.figure]),
    output:
        figure=report(result("figures/{figure}.png"), caption="../report/evolution_figure.rst", category="Wang et al. 2023"),
    log:
        logfile("evolution_figure", "{figure}"),
    benchmark:
        benchfile("evolution_figure", "{figure}")
    wildcard_constraints:
        figure="evolution_invariance|evolution_spike|evolution_heavytail|evolution_realdata",
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("evolution.plot", "evolution.model", "evolution.claims", "evolution.analysis"),
        code=code("evolution_figure.py"),
        ids=lambda w: [i for ds in EVO_FIGURES[w.figure] for i in EVO_SUMMARY_IDS[ds]],
        spectra_runs=lambda w: [[ds, run] for ds in EVO_FIGURES[w.figure] for run in EVO["datasets"][ds]["runs"]],
    script:
        "../scripts/evolution_figure.py"


rule evolution_ht_run:
    output:
        runs=result("evolution/ht_examples/runs.csv"),
        spectra=result("evolution/ht_examples/spectra.npz"),
        verdicts=result("evolution/ht_examples/verdicts.json"),
        csv=report(result("tables/evolution_ht_examples.csv"), caption="../report/evolution_ht_examples_table.rst",
                   category="Wang et al. 2023"),
        md=result("tables/evolution_ht_examples.md"),
    log:
        logfile("evolution_ht_run"),
    benchmark:
        benchfile("evolution_ht_run")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        cfg=cfg("evolution.ht_examples"),
        code=code("evolution_ht_examples.py"),
    script:
        "../scripts/evolution_ht_examples.py"


rule evolution_ht_figure:
    input:
        runs=rules.evolution_ht_run.output.runs,
        spectra=rules.evolution_ht_run.output.spectra,
        summary=rules.evolution_ht_run.output.csv,
    output:
        figure=report(result("figures/evolution_ht_examples.png"), caption="../report/evolution_ht_examples.rst",
                      category="Wang et al. 2023"),
    log:
        logfile("evolution_ht_figure"),
    benchmark:
        benchfile("evolution_ht_figure")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("evolution.ht_examples"),
        code=code("evolution_ht_figure.py"),
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
        + [result("metrics/evolution.json")],
