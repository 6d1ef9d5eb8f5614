# Sagun et al. (2018) §4.1, seed Figs 7-8 (claims 11-13): MNIST-1K convnet, large batch (LB) vs small batch (SB)
#   train (SGD, same lr and steps) -> Hessian edges (Lanczos or dense) -> per-seed analysis -> fig7, fig8.

wildcard_constraints:
    regime="lb|sb",


TARGETS["fig7"] = [result("figures/fig7.png")]
TARGETS["fig8"] = [result("figures/fig8.png")]


rule realdata_lbsb_train:
    output:
        model=f"{LBSB_RUN}/model.pt",
        history=f"{LBSB_RUN}/history.csv",
    log:
        logfile("realdata_lbsb_train", "{regime}_seed{seed}"),
    benchmark:
        benchfile("realdata_lbsb_train", "{regime}_seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=120,
    params:
        cfg=cfg("realdata.lbsb.data", "realdata.lbsb.model", "realdata.lbsb.train", *RD_DATA_KEYS),
        code=code("realdata_lbsb_train.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_lbsb_train.py"


rule realdata_lbsb_spectrum:
    input:
        model=rules.realdata_lbsb_train.output.model,
    output:
        spectrum=f"{LBSB_RUN}/spectrum.npz",
    log:
        logfile("realdata_lbsb_spectrum", "{regime}_seed{seed}"),
    benchmark:
        benchfile("realdata_lbsb_spectrum", "{regime}_seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=600,
    params:
        cfg=cfg("realdata.lbsb.data", "realdata.lbsb.model", "realdata.lbsb.curvature", "memory_budget_gb",
                *RD_DATA_KEYS),
        code=code("realdata_lbsb_spectrum.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_lbsb_spectrum.py"


rule realdata_lbsb_analysis:
    input:
        unpack(lambda w: lbsb_spectra(w.seed)),
    output:
        analysis=LBSB_ANALYSIS,
    log:
        logfile("realdata_lbsb_analysis", "seed{seed}"),
    benchmark:
        benchfile("realdata_lbsb_analysis", "seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=cfg("realdata.lbsb.analysis"),
        code=code("realdata_lbsb_analysis.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_lbsb_analysis.py"


rule realdata_lbsb_figure:
    input:
        **lbsb_spectra(RD_SEED),
        analysis=LBSB_ANALYSIS.format(seed=RD_SEED),
    output:
        fig7=report(result("figures/fig7.png"), caption="../report/fig7.rst", category="Sagun et al. real data"),
        fig8=report(result("figures/fig8.png"), caption="../report/fig8.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_lbsb_figure"),
    benchmark:
        benchfile("realdata_lbsb_figure")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("realdata.plot", "realdata.lbsb.analysis", "realdata.lbsb.train"),
        code=code("realdata_lbsb_figure.py"),
    script:
        "../scripts/realdata_lbsb_figure.py"


rule fig7:
    input:
        TARGETS["fig7"],


rule fig8:
    input:
        TARGETS["fig8"],
