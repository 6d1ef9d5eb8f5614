# Sagun et al. (2018) §4 and App. B on real data (SPEC §1.5-1.11, claims 8-19):
#   MNIST-1K 784-n-10 width sweep -> exact Hessian spectra -> fig4 (right edge), fig5/fig6 (left edge)
#   MNIST-1K convnet LB vs SB     -> Hessian edges         -> fig7 (outliers), fig8 (negative edge)
#   CIFAR-10 bare AlexNet Part I (LB) -> Part II (SB)       -> fig9; line between end points -> fig10
#   logistic regression vs Marchenko-Pastur                 -> appendix_mp
# Datasets come from config data_dir > $NNSPECTRA_DATA > ./data (torchvision layout).

RD = config["realdata"]
RD_GLOBAL = ("data_dir", "download", "device")
RD_MNIST = "results/realdata/mnist/n{width}/seed{seed}"
RD_LBSB = "results/realdata/lbsb/{regime}/seed{seed}"
RD_CIFAR = "results/realdata/cifar/seed{seed}"
RD_MP = "results/realdata/mp/seed{seed}"
RD_SEED = RD["plot"]["seed"]


wildcard_constraints:
    width=r"\d+",
    regime="lb|sb",
    part="1|2",


# per-width / per-regime paths of one seed (the figures show realdata.plot.seed)
RD_MNIST_FILES = lambda file, seed=RD_SEED: [
    f"{RD_MNIST}/{file}".format(width=w, seed=seed) for w in RD["mnist"]["model"]["widths"]
]
RD_LBSB_FILES = lambda file, seed=RD_SEED: {r: f"{RD_LBSB}/{file}".format(regime=r, seed=seed) for r in ("lb", "sb")}


TARGETS["fig4"] = ["results/figures/fig4.png"]
TARGETS["fig5"] = ["results/figures/fig5.png"]
TARGETS["fig6"] = ["results/figures/fig6.png"]
TARGETS["fig7"] = ["results/figures/fig7.png"]
TARGETS["fig8"] = ["results/figures/fig8.png"]
if RD["cifar"]["enabled"]:
    TARGETS["fig9"] = ["results/figures/fig9.png"]
    TARGETS["fig10"] = ["results/figures/fig10.png"]
TARGETS["appendix_mp"] = ["results/figures/appendix_mp.png"]
TARGETS["realdata_metrics"] = ["results/metrics/realdata.json"]
METRICS.append("results/metrics/realdata.json")


rule realdata_mnist_train:
    output:
        model=f"{RD_MNIST}/model.pt",
        history=f"{RD_MNIST}/history.csv",
    log:
        logfile("realdata_mnist_train", "n{width}_seed{seed}"),
    benchmark:
        benchfile("realdata_mnist_train", "n{width}_seed{seed}")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=120,
    params:
        cfg=config_subset(config, "realdata.mnist.data", "realdata.mnist.model", "realdata.mnist.train", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/realdata_mnist_train.py"


rule realdata_mnist_spectrum:
    input:
        model=f"{RD_MNIST}/model.pt",
    output:
        spectrum=f"{RD_MNIST}/spectrum.npz",
    log:
        logfile("realdata_mnist_spectrum", "n{width}_seed{seed}"),
    benchmark:
        benchfile("realdata_mnist_spectrum", "n{width}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        # dense float64 Hessian + eigvalsh workspace: about 2 x 8 P^2 bytes (P = 795 n + 10)
        mem_mb=lambda w: 2000 + int(2 * 8 * (795 * int(w.width) + 10) ** 2 / 1e6),
        runtime=600,
    params:
        cfg=config_subset(config, "realdata.mnist.data", "realdata.mnist.model", "realdata.mnist.curvature",
                          "memory_budget_gb", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/realdata_mnist_spectrum.py"


rule realdata_lbsb_train:
    output:
        model=f"{RD_LBSB}/model.pt",
        history=f"{RD_LBSB}/history.csv",
    log:
        logfile("realdata_lbsb_train", "{regime}_seed{seed}"),
    benchmark:
        benchfile("realdata_lbsb_train", "{regime}_seed{seed}")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=120,
    params:
        cfg=config_subset(config, "realdata.lbsb.data", "realdata.lbsb.model", "realdata.lbsb.train", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
        regime=lambda w: w.regime,
    script:
        "../scripts/realdata_lbsb_train.py"


rule realdata_lbsb_spectrum:
    input:
        model=f"{RD_LBSB}/model.pt",
    output:
        spectrum=f"{RD_LBSB}/spectrum.npz",
    log:
        logfile("realdata_lbsb_spectrum", "{regime}_seed{seed}"),
    benchmark:
        benchfile("realdata_lbsb_spectrum", "{regime}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=600,
    params:
        cfg=config_subset(config, "realdata.lbsb.data", "realdata.lbsb.model", "realdata.lbsb.curvature",
                          "memory_budget_gb", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
        regime=lambda w: w.regime,
    script:
        "../scripts/realdata_lbsb_spectrum.py"


rule realdata_cifar_part1:
    output:
        model=f"{RD_CIFAR}/part1.pt",
        history=f"{RD_CIFAR}/history1.csv",
    log:
        logfile("realdata_cifar_part1", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_part1", "seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=6000,
    params:
        cfg=config_subset(config, "realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
        part=1,
        checkpoint=lambda w: f"{RD_CIFAR}/part1.ckpt".format(seed=w.seed),
    script:
        "../scripts/realdata_cifar_part.py"


rule realdata_cifar_part2:
    input:
        start=f"{RD_CIFAR}/part1.pt",
    output:
        model=f"{RD_CIFAR}/part2.pt",
        history=f"{RD_CIFAR}/history2.csv",
    log:
        logfile("realdata_cifar_part2", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_part2", "seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=6000,
    params:
        cfg=config_subset(config, "realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
        part=2,
        checkpoint=lambda w: f"{RD_CIFAR}/part2.ckpt".format(seed=w.seed),
    script:
        "../scripts/realdata_cifar_part.py"


rule realdata_cifar_interp:
    input:
        part1=f"{RD_CIFAR}/part1.pt",
        part2=f"{RD_CIFAR}/part2.pt",
    output:
        interp=f"{RD_CIFAR}/interpolation.csv",
    log:
        logfile("realdata_cifar_interp", "seed{seed}"),
    benchmark:
        benchfile("realdata_cifar_interp", "seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=6000,
        runtime=600,
    params:
        cfg=config_subset(config, "realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train",
                          "realdata.cifar.interpolation", *RD_GLOBAL),
        code=code_version("nnspectra.experiments.realdata"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/realdata_cifar_interp.py"


rule realdata_mp:
    output:
        spectra=f"{RD_MP}/mp.npz",
    log:
        logfile("realdata_mp", "seed{seed}"),
    benchmark:
        benchfile("realdata_mp", "seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=config_subset(config, "realdata.mp"),
        code=code_version("nnspectra.experiments.mp_appendix"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/realdata_mp.py"


rule realdata_metrics:
    input:
        mnist=[p for s in RD["mnist"]["seeds"] for p in RD_MNIST_FILES("spectrum.npz", s)],
        lbsb=[p for s in RD["lbsb"]["seeds"] for p in RD_LBSB_FILES("spectrum.npz", s).values()],
        cifar=[f"{RD_CIFAR}/{f}".format(seed=s) for s in RD["cifar"]["seeds"]
               for f in ("history1.csv", "history2.csv", "interpolation.csv")] if RD["cifar"]["enabled"] else [],
        mp=expand(f"{RD_MP}/mp.npz", seed=RD["mp"]["seeds"]),
    output:
        metrics="results/metrics/realdata.json",
    log:
        logfile("realdata_metrics"),
    benchmark:
        benchfile("realdata_metrics")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "realdata.mnist.analysis", "realdata.lbsb.analysis", "realdata.mp",
                          "realdata.mnist.seeds", "realdata.lbsb.seeds", "realdata.cifar.seeds",
                          "realdata.cifar.enabled"),
        code=code_version("nnspectra.experiments.realdata", "nnspectra.experiments.mp_appendix"),
    script:
        "../scripts/realdata_metrics.py"


rule realdata_fig_mnist:
    input:
        spectra=RD_MNIST_FILES("spectrum.npz"),
    output:
        fig4=report("results/figures/fig4.png", caption="../report/fig4.rst", category="Sagun et al. real data"),
        fig5=report("results/figures/fig5.png", caption="../report/fig5.rst", category="Sagun et al. real data"),
        fig6=report("results/figures/fig6.png", caption="../report/fig6.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_fig_mnist"),
    benchmark:
        benchfile("realdata_fig_mnist")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        cfg=config_subset(config, "realdata.plot"),
        code=code_version("nnspectra.plotting.realdata"),
    script:
        "../scripts/realdata_fig_mnist.py"


rule realdata_fig_lbsb:
    input:
        **RD_LBSB_FILES("spectrum.npz"),
    output:
        fig7=report("results/figures/fig7.png", caption="../report/fig7.rst", category="Sagun et al. real data"),
        fig8=report("results/figures/fig8.png", caption="../report/fig8.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_fig_lbsb"),
    benchmark:
        benchfile("realdata_fig_lbsb")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "realdata.plot", "realdata.lbsb.analysis", "realdata.lbsb.train"),
        code=code_version("nnspectra.plotting.realdata", "nnspectra.experiments.realdata"),
    script:
        "../scripts/realdata_fig_lbsb.py"


rule realdata_fig9:
    input:
        part1=f"{RD_CIFAR}/history1.csv".format(seed=RD_SEED),
        part2=f"{RD_CIFAR}/history2.csv".format(seed=RD_SEED),
    output:
        fig=report("results/figures/fig9.png", caption="../report/fig9.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_fig9"),
    benchmark:
        benchfile("realdata_fig9")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "realdata.plot"),
        code=code_version("nnspectra.plotting.realdata"),
    script:
        "../scripts/realdata_fig9.py"


rule realdata_fig10:
    input:
        interp=f"{RD_CIFAR}/interpolation.csv".format(seed=RD_SEED),
    output:
        fig=report("results/figures/fig10.png", caption="../report/fig10.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_fig10"),
    benchmark:
        benchfile("realdata_fig10")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "realdata.plot"),
        code=code_version("nnspectra.plotting.realdata", "nnspectra.interpolation"),
    script:
        "../scripts/realdata_fig10.py"


rule realdata_fig_mp:
    input:
        spectra=f"{RD_MP}/mp.npz".format(seed=RD_SEED),
    output:
        fig=report("results/figures/appendix_mp.png", caption="../report/appendix_mp.rst",
                   category="Sagun et al. real data"),
    log:
        logfile("realdata_fig_mp"),
    benchmark:
        benchfile("realdata_fig_mp")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "realdata.plot", "realdata.mp"),
        code=code_version("nnspectra.plotting.realdata"),
    script:
        "../scripts/realdata_fig_mp.py"


# Named targets: `snakemake --cores 2 fig4` regenerates one figure.
rule fig4:
    input:
        TARGETS["fig4"],


rule fig5:
    input:
        TARGETS["fig5"],


rule fig6:
    input:
        TARGETS["fig6"],


rule fig7:
    input:
        TARGETS["fig7"],


rule fig8:
    input:
        TARGETS["fig8"],


rule fig9:
    input:
        "results/figures/fig9.png",


rule fig10:
    input:
        "results/figures/fig10.png",


rule appendix_mp:
    input:
        TARGETS["appendix_mp"],


rule realdata:
    input:
        [p for name in ("fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "appendix_mp", "realdata_metrics")
         for p in TARGETS.get(name, [])],
