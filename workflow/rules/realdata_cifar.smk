# Sagun et al. (2018) §4.2, seed Figs 9-10 (claims 14-17): CIFAR-10 bare AlexNet, Part I large batch, then
# Part II small batch from Part I's end point; the line between the two end points.

if RD["cifar"]["enabled"]:
    TARGETS["fig9"] = [result("figures/fig9.png")]
    TARGETS["fig10"] = [result("figures/fig10.png")]
    TARGETS["fig_cifar_density"] = [result("figures/fig_cifar_density.png")]


rule realdata_cifar_part1:
    output:
        model=f"{CIFAR_RUN}/part1.pt",
        history=f"{CIFAR_RUN}/history1.csv",
    log:
        logfile("realdata_cifar_part1", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_part1", "seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=6000,
    params:
        cfg=cfg("realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train", *RD_DATA_KEYS),
        code=code("realdata_cifar_part.py"),
        seed=seed_of,
        part=1,
        checkpoint=lambda w: f"{CIFAR_RUN}/part1.ckpt".format(seed=w.seed),
    script:
        "../scripts/realdata_cifar_part.py"


use rule realdata_cifar_part1 as realdata_cifar_part2 with:
    input:
        start=rules.realdata_cifar_part1.output.model,
    output:
        model=f"{CIFAR_RUN}/part2.pt",
        history=f"{CIFAR_RUN}/history2.csv",
    log:
        logfile("realdata_cifar_part2", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_part2", "seed{seed}")
    params:
        cfg=cfg("realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train", *RD_DATA_KEYS),
        code=code("realdata_cifar_part.py"),
        seed=seed_of,
        part=2,
        checkpoint=lambda w: f"{CIFAR_RUN}/part2.ckpt".format(seed=w.seed),


rule realdata_cifar_interp:
    input:
        part1=rules.realdata_cifar_part1.output.model,
        part2=rules.realdata_cifar_part2.output.model,
    output:
        interp=f"{CIFAR_RUN}/interpolation.csv",
    log:
        logfile("realdata_cifar_interp", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_interp", "seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=600,
    params:
        cfg=cfg("realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train", "realdata.cifar.interpolation",
                *RD_DATA_KEYS),
        code=code("realdata_cifar_interp.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_cifar_interp.py"


rule realdata_cifar_analysis:
    input:
        part1=rules.realdata_cifar_part1.output.history,
        part2=rules.realdata_cifar_part2.output.history,
        interp=rules.realdata_cifar_interp.output.interp,
    output:
        analysis=f"{CIFAR_RUN}/analysis.json",
    log:
        logfile("realdata_cifar_analysis", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_analysis", "seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=code("realdata_cifar_analysis.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_cifar_analysis.py"


rule realdata_cifar_fig9:
    input:
        part1=f"{CIFAR_RUN}/history1.csv".format(seed=RD_SEED),
        part2=f"{CIFAR_RUN}/history2.csv".format(seed=RD_SEED),
    output:
        fig=report(result("figures/fig9.png"), caption="../report/fig9.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_cifar_fig9"),
    benchmark:
        benchfile("realdata_cifar_fig9")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("realdata.plot"),
        code=code("realdata_cifar_fig9.py"),
    script:
        "../scripts/realdata_cifar_fig9.py"


rule realdata_cifar_fig10:
    input:
        interp=f"{CIFAR_RUN}/interpolation.csv".format(seed=RD_SEED),
        analysis=f"{CIFAR_RUN}/analysis.json".format(seed=RD_SEED),
    output:
        fig=report(result("figures/fig10.png"), caption="../report/fig10.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_cifar_fig10"),
    benchmark:
        benchfile("realdata_cifar_fig10")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("realdata.plot"),
        code=code("realdata_cifar_fig10.py"),
    script:
        "../scripts/realdata_cifar_fig10.py"


rule fig9:
    input:
        result("figures/fig9.png"),


rule fig10:
    input:
        result("figures/fig10.png"),


# Beyond the paper (issue 15, item 4): Hessian spectral density (SLQ), trace and top eigenvalues of each end point.
rule realdata_cifar_density:
    input:
        model=f"{CIFAR_RUN}/part{{part}}.pt",
    output:
        density=f"{CIFAR_RUN}/density_part{{part}}.npz",
    wildcard_constraints:
        part="[12]",
    log:
        logfile("realdata_cifar_density", "seed{seed}_part{part}"),
    benchmark:
        benchfile("realdata_cifar_density", "seed{seed}_part{part}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=8000,
        runtime=600,
    params:
        cfg=cfg("realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.density", *RD_DATA_KEYS),
        code=code("realdata_cifar_density.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_cifar_density.py"


rule realdata_cifar_density_figure:
    input:
        part1=f"{CIFAR_RUN}/density_part1.npz".format(seed=RD_SEED),
        part2=f"{CIFAR_RUN}/density_part2.npz".format(seed=RD_SEED),
    output:
        fig=report(result("figures/fig_cifar_density.png"), caption="../report/fig_cifar_density.rst",
                   category="Beyond the papers"),
    log:
        logfile("realdata_cifar_density_figure"),
    benchmark:
        benchfile("realdata_cifar_density_figure")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("realdata.plot"),
        code=code("realdata_cifar_density_figure.py"),
    script:
        "../scripts/realdata_cifar_density_figure.py"


rule fig_cifar_density:
    input:
        result("figures/fig_cifar_density.png"),
