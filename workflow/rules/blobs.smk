# Sagun et al. (2018) synthetic Gaussian-blob experiments: Figs 1-3 and Table 1 (SPEC §1.0-1.4).
# data -> train (GD / SGD) -> exact Hessian spectra -> outlier counts -> table1, fig1-3, metrics.

from nnspectra.experiments.sagun2018.blobs_runs import run_name, selected_runs

BLOBS = config["blobs"]
BLOBS_RUNS = selected_runs(BLOBS["table1"]["rows"])
BLOBS_SEEDS = BLOBS["table1"]["seeds"]
BLOBS_FIG1 = selected_runs([BLOBS["fig1"]["row"]])[0]
BLOBS_FIG3 = [run_name(BLOBS["fig3"]["alg"], BLOBS["fig3"]["act"], k, BLOBS["fig3"]["cov"]) for k in BLOBS["fig3"]["ks"]]

BLOBS_COUNTS = [blobs_run_file(r["name"], s, "counts.json") for r in BLOBS_RUNS for s in BLOBS_SEEDS]


wildcard_constraints:
    alg="gd|sgd",
    act="relu|tanh",
    k=r"\d+",
    cov=r"[0-9.]+",
    seed=r"\d+",
    point="init|final",


TARGETS["table1"] = [result("tables/table1.csv"), result("tables/table1.md")]
TARGETS["fig1"] = [result("figures/fig1.png")]
TARGETS["fig2"] = [result("figures/fig2.png")]
TARGETS["fig3"] = [result("figures/fig3.png")]
METRICS.append(result("metrics/blobs.json"))


rule blobs_data:
    output:
        data=BLOBS_DATA,
    log:
        logfile("blobs_data", "k{k}_cov{cov}_seed{seed}"),
    benchmark:
        benchfile("blobs_data", "k{k}_cov{cov}_seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=cfg("blobs.data"),
        code=code("blobs_data.py"),
        seed=seed_of,
    script:
        "../scripts/blobs_data.py"


rule blobs_train:
    input:
        data=rules.blobs_data.output.data,
    output:
        init=f"{BLOBS_RUN}/model_init.pt",
        final=f"{BLOBS_RUN}/model_final.pt",
        history=f"{BLOBS_RUN}/history.csv",
        summary=f"{BLOBS_RUN}/train.json",
    log:
        logfile("blobs_train", BLOBS_RUN_ID),
    benchmark:
        benchfile("blobs_train", BLOBS_RUN_ID)
    priority: 10
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cfg=cfg("blobs.model", "blobs.train"),
        code=code("blobs_train.py"),
        seed=seed_of,
    script:
        "../scripts/blobs_train.py"


rule blobs_spectrum:
    input:
        data=rules.blobs_data.output.data,
        model=f"{BLOBS_RUN}/model_{{point}}.pt",
    output:
        spectrum=f"{BLOBS_RUN}/spectrum_{{point}}.npz",
    log:
        logfile("blobs_spectrum", f"{BLOBS_RUN_ID}_{{point}}"),
    benchmark:
        benchfile("blobs_spectrum", f"{BLOBS_RUN_ID}_{{point}}")
    priority: 20
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=3000,
        runtime=30,
    params:
        cfg=cfg("blobs.model"),
        code=code("blobs_spectrum.py"),
        decompose=False,
        seed=seed_of,
    script:
        "../scripts/blobs_spectrum.py"


use rule blobs_spectrum as blobs_decomposition with:
    output:
        spectrum=f"{BLOBS_RUN}/decomposition_{{point}}.npz",
    log:
        logfile("blobs_decomposition", f"{BLOBS_RUN_ID}_{{point}}"),
    benchmark:
        benchfile("blobs_decomposition", f"{BLOBS_RUN_ID}_{{point}}")
    priority: 0
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=60,
    params:
        cfg=cfg("blobs.model"),
        code=code("blobs_spectrum.py"),
        decompose=True,
        seed=seed_of,


rule blobs_counts:
    input:
        spectrum=f"{BLOBS_RUN}/spectrum_final.npz",
        summary=rules.blobs_train.output.summary,
    output:
        counts=f"{BLOBS_RUN}/counts.json",
    log:
        logfile("blobs_counts", BLOBS_RUN_ID),
    benchmark:
        benchfile("blobs_counts", BLOBS_RUN_ID)
    priority: 30
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=cfg("blobs.counting"),
        code=code("blobs_counts.py"),
        seed=seed_of,
    script:
        "../scripts/blobs_counts.py"


rule blobs_table1:
    input:
        counts=BLOBS_COUNTS,
    output:
        csv=report(result("tables/table1.csv"), caption="../report/table1.rst", category="Sagun et al. 2018"),
        md=result("tables/table1.md"),
        seeds=result("tables/table1_seeds.csv"),
    log:
        logfile("blobs_table1"),
    benchmark:
        benchfile("blobs_table1")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=cfg("blobs.table1"),
        code=code("blobs_table1.py"),
    script:
        "../scripts/blobs_table1.py"


rule blobs_fig1:
    input:
        init=blobs_run_file(BLOBS_FIG1["name"], BLOBS["fig1"]["seed"], "decomposition_init.npz"),
        final=blobs_run_file(BLOBS_FIG1["name"], BLOBS["fig1"]["seed"], "decomposition_final.npz"),
    output:
        fig=report(result("figures/fig1.png"), caption="../report/fig1.rst", category="Sagun et al. 2018"),
    log:
        logfile("blobs_fig1"),
    benchmark:
        benchfile("blobs_fig1")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("blobs.fig1", "blobs.data"),
        code=code("blobs_fig1.py"),
        setting=f"{BLOBS_FIG1['alg'].upper()}, {BLOBS_FIG1['act']}, k={BLOBS_FIG1['k']}, cov={BLOBS_FIG1['cov']:g}, seed {BLOBS['fig1']['seed']}",
        algorithm=BLOBS_FIG1["alg"],
    script:
        "../scripts/blobs_fig1.py"


rule blobs_fig2:
    input:
        data=[BLOBS_DATA.format(k=k, cov=f"{BLOBS['fig2']['cov']:g}", seed=BLOBS["fig2"]["seed"]) for k in BLOBS["fig2"]["ks"]],
    output:
        fig=report(result("figures/fig2.png"), caption="../report/fig2.rst", category="Sagun et al. 2018"),
    log:
        logfile("blobs_fig2"),
    benchmark:
        benchfile("blobs_fig2")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("blobs.fig2", "blobs.data"),
        code=code("blobs_fig2.py"),
    script:
        "../scripts/blobs_fig2.py"


rule blobs_fig3:
    input:
        spectra=[blobs_run_file(name, BLOBS["fig3"]["seed"], "spectrum_final.npz") for name in BLOBS_FIG3],
        counts=[blobs_run_file(name, BLOBS["fig3"]["seed"], "counts.json") for name in BLOBS_FIG3],
    output:
        fig=report(result("figures/fig3.png"), caption="../report/fig3.rst", category="Sagun et al. 2018"),
    log:
        logfile("blobs_fig3"),
    benchmark:
        benchfile("blobs_fig3")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("blobs.fig3", "blobs.counting"),
        code=code("blobs_fig3.py"),
    script:
        "../scripts/blobs_fig3.py"


rule blobs_metrics:
    input:
        counts=BLOBS_COUNTS,
        fig1_init=[blobs_run_file(BLOBS_FIG1["name"], s, "spectrum_init.npz") for s in BLOBS_SEEDS],
        fig1_final=[blobs_run_file(BLOBS_FIG1["name"], s, "spectrum_final.npz") for s in BLOBS_SEEDS],
    output:
        metrics=result("metrics/blobs.json"),
    log:
        logfile("blobs_metrics"),
    benchmark:
        benchfile("blobs_metrics")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("blobs.table1", "blobs.fig1", "blobs.data", "blobs.model", "blobs.train", "run_name"),
        code=code("blobs_metrics.py"),
        seeds=BLOBS_SEEDS,
        fig1_run={key: BLOBS_FIG1[key] for key in ("alg", "act", "k", "cov")},
    script:
        "../scripts/blobs_metrics.py"


rule table1:
    input:
        TARGETS["table1"],


rule fig1:
    input:
        TARGETS["fig1"],


rule fig2:
    input:
        TARGETS["fig2"],


rule fig3:
    input:
        TARGETS["fig3"],


rule blobs:
    input:
        [p for name in ("table1", "fig1", "fig2", "fig3") for p in TARGETS[name]] + [result("metrics/blobs.json")],
