# Sagun et al. (2018) §3.2, seed Figs 4-6 (claims 8-10): 784-n-10 MLPs on MNIST-1K, growing width n
#   train (GD) -> exact Hessian spectrum (dense, or Lanczos edges when too large) -> per-seed analysis
#   -> fig4 (right edge), fig5 / fig6 (left edge by rank / by fraction of P).

from nnspectra.models.sizes import mlp_spectrum_mb


wildcard_constraints:
    width=r"\d+",


for _name in ("fig4", "fig5", "fig6"):
    TARGETS[_name] = [result(f"figures/{_name}.png")]


rule realdata_mnist_train:
    output:
        model=f"{MNIST_RUN}/model.pt",
        history=f"{MNIST_RUN}/history.csv",
    log:
        logfile("realdata_mnist_train", "n{width}_seed{seed}"),
    benchmark:
        benchfile("realdata_mnist_train", "n{width}_seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=120,
    params:
        cfg=cfg("realdata.mnist.data", "realdata.mnist.model", "realdata.mnist.train", *RD_DATA_KEYS),
        code=code("realdata_mnist_train.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_mnist_train.py"


rule realdata_mnist_spectrum:
    input:
        model=rules.realdata_mnist_train.output.model,
    output:
        spectrum=f"{MNIST_RUN}/spectrum.npz",
    log:
        logfile("realdata_mnist_spectrum", "n{width}_seed{seed}"),
    benchmark:
        benchfile("realdata_mnist_spectrum", "n{width}_seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=lambda w: mlp_spectrum_mb([RD["mnist"]["data"]["image_size"] ** 2, int(w.width), 10],
                                         10 * RD["mnist"]["data"]["per_class"], RD["mnist"]["curvature"]["method"]),
        runtime=600,
    params:
        cfg=cfg("realdata.mnist.data", "realdata.mnist.model", "realdata.mnist.curvature", "memory_budget_gb",
                *RD_DATA_KEYS),
        code=code("realdata_mnist_spectrum.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_mnist_spectrum.py"


rule realdata_mnist_analysis:
    input:
        spectra=lambda w: mnist_spectra(w.seed),
    output:
        analysis=MNIST_ANALYSIS,
    log:
        logfile("realdata_mnist_analysis", "seed{seed}"),
    benchmark:
        benchfile("realdata_mnist_analysis", "seed{seed}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cfg=cfg("realdata.mnist.analysis"),
        code=code("realdata_mnist_analysis.py"),
        seed=seed_of,
    script:
        "../scripts/realdata_mnist_analysis.py"


rule realdata_mnist_figure:
    input:
        spectra=mnist_spectra(RD_SEED),
    output:
        fig4=report(result("figures/fig4.png"), caption="../report/fig4.rst", category="Sagun et al. real data"),
        fig5=report(result("figures/fig5.png"), caption="../report/fig5.rst", category="Sagun et al. real data"),
        fig6=report(result("figures/fig6.png"), caption="../report/fig6.rst", category="Sagun et al. real data"),
    log:
        logfile("realdata_mnist_figure"),
    benchmark:
        benchfile("realdata_mnist_figure")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        cfg=cfg("realdata.plot"),
        code=code("realdata_mnist_figure.py"),
    script:
        "../scripts/realdata_mnist_figure.py"


rule fig4:
    input:
        TARGETS["fig4"],


rule fig5:
    input:
        TARGETS["fig5"],


rule fig6:
    input:
        TARGETS["fig6"],
