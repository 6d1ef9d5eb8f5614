# Sagun et al. (2018) on real data, claims 8-19: the per-seed analyses of the four real-data sections
# (realdata_mnist.smk, realdata_lbsb.smk, realdata_cifar.smk, realdata_mp.smk) gathered into one metrics file, and the
# group target `realdata`.

REALDATA_ANALYSES = {
    "mnist": [MNIST_ANALYSIS.format(seed=s) for s in RD["mnist"]["seeds"]],
    "lbsb": [LBSB_ANALYSIS.format(seed=s) for s in RD["lbsb"]["seeds"]],
    "cifar": [f"{CIFAR_RUN}/analysis.json".format(seed=s) for s in RD["cifar"]["seeds"]] if RD["cifar"]["enabled"] else [],
    "mp": [f"{MP_RUN}/analysis.json".format(seed=s) for s in RD["mp"]["seeds"]],
}
TARGETS["realdata_metrics"] = [result("metrics/realdata.json")]
METRICS.append(result("metrics/realdata.json"))


rule realdata_metrics:
    input:
        **REALDATA_ANALYSES,
    output:
        metrics=result("metrics/realdata.json"),
    log:
        logfile("realdata_metrics"),
    benchmark:
        benchfile("realdata_metrics")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        seeds={section: RD[section]["seeds"] for section in REALDATA_ANALYSES},
        # the sections' scale, recorded as evidence (realdata_metrics.SCALE_KEYS)
        cfg=cfg("run_name", "realdata.mnist.data", "realdata.mnist.train", "realdata.lbsb.data", "realdata.lbsb.model",
                "realdata.lbsb.train", "realdata.cifar.data", "realdata.cifar.model", "realdata.cifar.train",
                "realdata.mp"),
        code=code("realdata_metrics.py"),
    script:
        "../scripts/realdata_metrics.py"


rule realdata:
    input:
        [p for name in ("fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "appendix_mp", "realdata_metrics")
         for p in TARGETS.get(name, [])],
