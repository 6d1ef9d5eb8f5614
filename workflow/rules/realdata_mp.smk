# Sagun et al. (2018) Appendix B (claims 18-19): logistic-regression Hessians vs the Marchenko-Pastur law.

TARGETS["appendix_mp"] = [result("figures/appendix_mp.png")]


rule realdata_mp:
    output:
        spectra=f"{MP_RUN}/mp.npz",
        analysis=f"{MP_RUN}/analysis.json",
    log:
        logfile("realdata_mp", "seed{seed}"),
    benchmark:
        benchfile("realdata_mp", "seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=cfg("realdata.mp", per_seed=True),
        code=code("realdata_mp.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_mp.py"


rule realdata_mp_figure:
    input:
        spectra=f"{MP_RUN}/mp.npz".format(seed=RD_SEED),
    output:
        fig=report(result("figures/appendix_mp.png"), caption="../report/appendix_mp.rst",
                   category="Sagun et al. real data"),
    log:
        logfile("realdata_mp_figure"),
    benchmark:
        benchfile("realdata_mp_figure")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("realdata.plot", "realdata.mp"),
        code=code("realdata_mp_figure.py"),
    script:
        "../scripts/realdata_mp_figure.py"


rule appendix_mp:
    input:
        TARGETS["appendix_mp"],
