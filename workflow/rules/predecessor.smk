# Sagun, Bottou & LeCun (2016), "Singularity of the Hessian in Deep Learning" (SPEC §1.12, claims 20-23):
#   2-D blobs: 2-n-n-2 nets by width (Figs 4-5), many inits on a sphere (Fig 6), growing data std (Fig 7),
#   straight-line profiles between simultaneous GD/SGD iterates (Fig 8); MNIST vs random inputs (Figs 1-2).

P0_SEEDS = P0["seeds"]
P0_PLOT = P0["plot"]["seed"]
P0_FIG1 = [("mnist", "x".join([str(w)] * k), P0_PLOT) for w in P0["mnist"]["fig1"]["widths"]
           for k in P0["mnist"]["fig1"]["hidden_layers"]]

wildcard_constraints:
    inputs="mnist|random",
    hidden=r"\d+(x\d+)*",

for _fig in (1, 2, 4, 5, 6, 7, 8):
    TARGETS[f"p0_fig{_fig}"] = [result(f"figures/p0_fig{_fig}.png")]
METRICS.append(result("metrics/p0.json"))
# what every P0 run of one seed reads (not the seed list: adding a seed runs only the new seed's jobs)
P0_KEYS = ("predecessor.model", "predecessor.train", "predecessor.blobs")


rule predecessor_blobs:
    output:
        run=f"{P0_BLOBS}/run.npz",
        summary=f"{P0_BLOBS}/summary.json",
    log:
        logfile("predecessor_blobs", "n{width}_seed{seed}"),
    benchmark:
        benchfile("predecessor_blobs", "n{width}_seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cfg=cfg(*P0_KEYS),
        code=code("predecessor_blobs.py"),
        seed=seed_of,
    script:
        "../scripts/predecessor_blobs.py"


rule predecessor_std:
    output:
        run=result("p0/fig7/seed{seed}.npz"),
    log:
        logfile("predecessor_std", "seed{seed}"),
    benchmark:
        benchfile("predecessor_std", "seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        cfg=cfg(*P0_KEYS, "predecessor.fig7"),
        code=code("predecessor_std.py"),
        seed=seed_of,
    script:
        "../scripts/predecessor_std.py"


rule predecessor_sphere:
    output:
        run=result("p0/fig6/seed{seed}.npz"),
    log:
        logfile("predecessor_sphere", "seed{seed}"),
    benchmark:
        benchfile("predecessor_sphere", "seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=600,
    params:
        cfg=cfg(*P0_KEYS, "predecessor.fig6", "device", per_seed=True),
        code=code("predecessor_sphere.py"),
        seed=seed_of,
        # the pool state of the refilled batched GD (resume after max_hours or a kill, bit-identically); not an
        # output, kept until the run is done
        checkpoint=lambda w: result(f"p0/fig6/seed{w.seed}.pool"),  # file pool.ckpt
    script:
        "../scripts/predecessor_sphere.py"


rule predecessor_mnist:
    output:
        spectra=P0_MNIST,
    wildcard_constraints:
        point="init|trained",
    log:
        logfile("predecessor_mnist", "{point}_{inputs}_{hidden}_seed{seed}"),
    benchmark:
        benchfile("predecessor_mnist", "{point}_{inputs}_{hidden}_seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=8000,
        runtime=600,
    params:
        cfg=cfg(*P0_KEYS, "predecessor.mnist", "data_dir", "download", "device"),
        code=code("predecessor_mnist.py"),
        seed=seed_of,
    script:
        "../scripts/predecessor_mnist.py"


rule predecessor_interp:
    output:
        profiles=result("p0/fig8/profiles.npz"),
    log:
        logfile("predecessor_interp"),
    benchmark:
        benchfile("predecessor_interp")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cfg=cfg(*P0_KEYS, "predecessor.fig8", "predecessor.plot"),
        code=code("predecessor_interp.py"),
    script:
        "../scripts/predecessor_interp.py"


rule predecessor_metrics:
    input:
        blobs=p0_blob_runs(P0_SEEDS),
        sphere=[result(f"p0/fig6/seed{s}.npz") for s in P0["fig6"]["seeds"]],
        std=[result(f"p0/fig7/seed{s}.npz") for s in P0_SEEDS],
        init=p0_mnist_spectra("init", [(i, P0_HIDDEN2, s) for s in P0_SEEDS for i in ("mnist", "random")]),
    output:
        metrics=result("metrics/p0.json"),
    log:
        logfile("predecessor_metrics"),
    benchmark:
        benchfile("predecessor_metrics")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("predecessor.fig4", "predecessor.fig7", "predecessor.blobs", "predecessor.train", "predecessor.fig6",
                "predecessor.mnist", "run_name"),   # the runs' scale is recorded as evidence (SCALE_KEYS)
        code=code("predecessor_metrics.py"),
    script:
        "../scripts/predecessor_metrics.py"


rule predecessor_fig1:
    input:
        spectra=p0_mnist_spectra("trained", P0_FIG1),
    output:
        fig=report(result("figures/p0_fig1.png"), caption="../report/p0_fig1.rst", category="Sagun et al. 2016"),
    log:
        logfile("predecessor_fig1"),
    benchmark:
        benchfile("predecessor_fig1")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        cfg=cfg("predecessor.mnist"),
        code=code("predecessor_fig1.py"),
        setting=config["scorecard"]["setting"],
    script:
        "../scripts/predecessor_fig1.py"


rule predecessor_fig2:
    input:
        spectra=p0_mnist_spectra("trained", [(i, P0_HIDDEN2, P0_PLOT) for i in ("mnist", "random")]),
    output:
        fig=report(result("figures/p0_fig2.png"), caption="../report/p0_fig2.rst", category="Sagun et al. 2016"),
    log:
        logfile("predecessor_fig2"),
    benchmark:
        benchfile("predecessor_fig2")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("predecessor.mnist"),
        code=code("predecessor_fig2.py"),
        setting=config["scorecard"]["setting"],
    script:
        "../scripts/predecessor_fig2.py"


rule predecessor_fig45:
    input:
        runs=p0_blob_runs([P0_PLOT]),
    output:
        fig4=report(result("figures/p0_fig4.png"), caption="../report/p0_fig4.rst", category="Sagun et al. 2016"),
        fig5=report(result("figures/p0_fig5.png"), caption="../report/p0_fig5.rst", category="Sagun et al. 2016"),
    log:
        logfile("predecessor_fig45"),
    benchmark:
        benchfile("predecessor_fig45")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("predecessor.fig4"),
        code=code("predecessor_fig45.py"),
        setting=config["scorecard"]["setting"],
    script:
        "../scripts/predecessor_fig45.py"


rule predecessor_fig6:
    input:
        runs=rules.predecessor_metrics.input.sphere,
    output:
        fig=report(result("figures/p0_fig6.png"), caption="../report/p0_fig6.rst", category="Sagun et al. 2016"),
    log:
        logfile("predecessor_fig6"),
    benchmark:
        benchfile("predecessor_fig6")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("predecessor.train"),
        code=code("predecessor_fig6.py"),
        setting=config["scorecard"]["setting"],
    script:
        "../scripts/predecessor_fig6.py"


rule predecessor_fig7:
    input:
        run=result(f"p0/fig7/seed{P0_PLOT}.npz"),
    output:
        fig=report(result("figures/p0_fig7.png"), caption="../report/p0_fig7.rst", category="Sagun et al. 2016"),
    log:
        logfile("predecessor_fig7"),
    benchmark:
        benchfile("predecessor_fig7")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("predecessor_fig7.py"),
        setting=config["scorecard"]["setting"],
    script:
        "../scripts/predecessor_fig7.py"


rule predecessor_fig8:
    input:
        profiles=rules.predecessor_interp.output.profiles,
    output:
        fig=report(result("figures/p0_fig8.png"), caption="../report/p0_fig8.rst", category="Sagun et al. 2016"),
    log:
        logfile("predecessor_fig8"),
    benchmark:
        benchfile("predecessor_fig8")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("predecessor_fig8.py"),
        setting=config["scorecard"]["setting"],
    script:
        "../scripts/predecessor_fig8.py"


# Named targets: `snakemake --cores 2 p0_fig6` regenerates one figure; `predecessor` the whole section.
rule p0_fig1:
    input:
        TARGETS["p0_fig1"],


rule p0_fig2:
    input:
        TARGETS["p0_fig2"],


rule p0_fig4:
    input:
        TARGETS["p0_fig4"],


rule p0_fig5:
    input:
        TARGETS["p0_fig5"],


rule p0_fig6:
    input:
        TARGETS["p0_fig6"],


rule p0_fig7:
    input:
        TARGETS["p0_fig7"],


rule p0_fig8:
    input:
        TARGETS["p0_fig8"],


rule predecessor:
    input:
        [p for fig in (1, 2, 4, 5, 6, 7, 8) for p in TARGETS[f"p0_fig{fig}"]] + [result("metrics/p0.json")],
