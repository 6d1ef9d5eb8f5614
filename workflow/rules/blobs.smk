# Sagun et al. (2018) synthetic Gaussian-blob experiments: Figs 1-3 and Table 1 (SPEC §1.0-1.4).
# data -> train (GD / SGD) -> exact Hessian spectra -> outlier counts -> table1, fig1-3, metrics.

from nnspectra.experiments.blobs import paper_table1, run_name, selected_runs

BLOBS = config["blobs"]
BLOBS_RUNS = selected_runs(BLOBS["table1"]["rows"])
BLOBS_SEEDS = BLOBS["table1"]["seeds"]
BLOBS_FIG1 = selected_runs([BLOBS["fig1"]["row"]])[0]
BLOBS_FIG3 = [run_name(BLOBS["fig3"]["alg"], BLOBS["fig3"]["act"], k, BLOBS["fig3"]["cov"]) for k in BLOBS["fig3"]["ks"]]


wildcard_constraints:
    alg="gd|sgd",
    act="relu|tanh",
    k=r"\d+",
    cov=r"[0-9.]+",
    seed=r"\d+",
    point="init|final",


TARGETS["table1"] = ["results/tables/table1.csv", "results/tables/table1.md"]
TARGETS["fig1"] = ["results/figures/fig1.png"]
TARGETS["fig2"] = ["results/figures/fig2.png"]
TARGETS["fig3"] = ["results/figures/fig3.png"]
METRICS.append("results/metrics/blobs.json")


rule blobs_data:
    output:
        data="results/blobs/data/k{k}_cov{cov}/seed{seed}/data.npz",
    log:
        logfile("blobs_data", "k{k}_cov{cov}_seed{seed}"),
    benchmark:
        benchfile("blobs_data", "k{k}_cov{cov}_seed{seed}")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.data"),
        code=code_version("nnspectra.data.blobs"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/blobs_data.py"


rule blobs_train:
    input:
        data="results/blobs/data/k{k}_cov{cov}/seed{seed}/data.npz",
    output:
        init="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/model_init.pt",
        final="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/model_final.pt",
        history="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/history.csv",
        summary="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/train.json",
    log:
        logfile("blobs_train", "{alg}_{act}_k{k}_cov{cov}_seed{seed}"),
    benchmark:
        benchfile("blobs_train", "{alg}_{act}_k{k}_cov{cov}_seed{seed}")
    priority: 10
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cfg=config_subset(config, "blobs.model", "blobs.train"),
        code=code_version("nnspectra.experiments.blobs"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/blobs_train.py"


rule blobs_spectrum:
    input:
        data="results/blobs/data/k{k}_cov{cov}/seed{seed}/data.npz",
        model="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/model_{point}.pt",
    output:
        spectrum="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/spectrum_{point}.npz",
    log:
        logfile("blobs_spectrum", "{alg}_{act}_k{k}_cov{cov}_seed{seed}_{point}"),
    benchmark:
        benchfile("blobs_spectrum", "{alg}_{act}_k{k}_cov{cov}_seed{seed}_{point}")
    priority: 20
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=3000,
        runtime=30,
    params:
        cfg=config_subset(config, "blobs.model"),
        code=code_version("nnspectra.experiments.blobs"),
        decompose=False,
        seed=lambda w: int(w.seed),
    script:
        "../scripts/blobs_spectrum.py"


rule blobs_decomposition:
    input:
        data="results/blobs/data/k{k}_cov{cov}/seed{seed}/data.npz",
        model="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/model_{point}.pt",
    output:
        spectrum="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/decomposition_{point}.npz",
    log:
        logfile("blobs_decomposition", "{alg}_{act}_k{k}_cov{cov}_seed{seed}_{point}"),
    benchmark:
        benchfile("blobs_decomposition", "{alg}_{act}_k{k}_cov{cov}_seed{seed}_{point}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=60,
    params:
        cfg=config_subset(config, "blobs.model"),
        code=code_version("nnspectra.experiments.blobs"),
        decompose=True,
        seed=lambda w: int(w.seed),
    script:
        "../scripts/blobs_spectrum.py"


rule blobs_counts:
    input:
        spectrum="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/spectrum_final.npz",
        summary="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/train.json",
    output:
        counts="results/blobs/runs/{alg}_{act}_k{k}_cov{cov}/seed{seed}/counts.json",
    log:
        logfile("blobs_counts", "{alg}_{act}_k{k}_cov{cov}_seed{seed}"),
    benchmark:
        benchfile("blobs_counts", "{alg}_{act}_k{k}_cov{cov}_seed{seed}")
    priority: 30
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.counting"),
        code=code_version("nnspectra.spectra.outliers"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/blobs_counts.py"


rule table1:
    input:
        counts=[f"results/blobs/runs/{r['name']}/seed{s}/counts.json" for r in BLOBS_RUNS for s in BLOBS_SEEDS],
    output:
        csv=report("results/tables/table1.csv", caption="../report/table1.rst", category="Sagun et al. 2018"),
        md="results/tables/table1.md",
        seeds="results/tables/table1_seeds.csv",
    log:
        logfile("table1"),
    benchmark:
        benchfile("table1")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.table1"),
        code=code_version("nnspectra.experiments.blobs"),
    script:
        "../scripts/blobs_table1.py"


rule fig1:
    input:
        init=f"results/blobs/runs/{BLOBS_FIG1['name']}/seed{BLOBS['fig1']['seed']}/decomposition_init.npz",
        final=f"results/blobs/runs/{BLOBS_FIG1['name']}/seed{BLOBS['fig1']['seed']}/decomposition_final.npz",
    output:
        fig=report("results/figures/fig1.png", caption="../report/fig1.rst", category="Sagun et al. 2018"),
    log:
        logfile("fig1"),
    benchmark:
        benchfile("fig1")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.fig1", "blobs.data"),
        code=code_version("nnspectra.plotting.blobs"),
        setting=f"{BLOBS_FIG1['alg'].upper()}, {BLOBS_FIG1['act']}, k={BLOBS_FIG1['k']}, cov={BLOBS_FIG1['cov']:g}, seed {BLOBS['fig1']['seed']}",
    script:
        "../scripts/blobs_fig1.py"


rule fig2:
    input:
        data=[f"results/blobs/data/k{k}_cov{BLOBS['fig2']['cov']:g}/seed{BLOBS['fig2']['seed']}/data.npz" for k in BLOBS["fig2"]["ks"]],
    output:
        fig=report("results/figures/fig2.png", caption="../report/fig2.rst", category="Sagun et al. 2018"),
    log:
        logfile("fig2"),
    benchmark:
        benchfile("fig2")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.fig2", "blobs.data"),
        code=code_version("nnspectra.plotting.blobs", "nnspectra.data.blobs"),
    script:
        "../scripts/blobs_fig2.py"


rule fig3:
    input:
        spectra=[f"results/blobs/runs/{name}/seed{BLOBS['fig3']['seed']}/spectrum_final.npz" for name in BLOBS_FIG3],
        counts=[f"results/blobs/runs/{name}/seed{BLOBS['fig3']['seed']}/counts.json" for name in BLOBS_FIG3],
    output:
        fig=report("results/figures/fig3.png", caption="../report/fig3.rst", category="Sagun et al. 2018"),
    log:
        logfile("fig3"),
    benchmark:
        benchfile("fig3")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.fig3", "blobs.counting"),
        code=code_version("nnspectra.plotting.blobs"),
    script:
        "../scripts/blobs_fig3.py"


rule blobs_metrics:
    input:
        counts=[f"results/blobs/runs/{r['name']}/seed{s}/counts.json" for r in BLOBS_RUNS for s in BLOBS_SEEDS],
        fig1_init=[f"results/blobs/runs/{BLOBS_FIG1['name']}/seed{s}/spectrum_init.npz" for s in BLOBS_SEEDS],
        fig1_final=[f"results/blobs/runs/{BLOBS_FIG1['name']}/seed{s}/spectrum_final.npz" for s in BLOBS_SEEDS],
    output:
        metrics="results/metrics/blobs.json",
    log:
        logfile("blobs_metrics"),
    benchmark:
        benchfile("blobs_metrics")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "blobs.table1", "blobs.fig1"),
        code=code_version("nnspectra.experiments.blobs"),
        seeds=BLOBS_SEEDS,
    script:
        "../scripts/blobs_metrics.py"
