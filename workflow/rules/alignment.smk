# Ben Arous, Gheissari, Huang & Jagannath (ICLR 2024): SGD aligns with the emerging outlier eigenspaces
# (SPEC §2, claims 24-32). Per (setting, seed): one online-SGD run with spectral measurements at every
# checkpoint -> metrics, figures alignment_gmm and alignment_xor.

ALN = config["alignment"]


ALN_GMM = result("alignment/gmm/d{aln_d}_lam{aln_lam}/seed{seed}/run.npz")
ALN_DSCAN = result("alignment/dscan/d{aln_d}_lam{aln_lam}/seed{seed}/run.npz")
ALN_XOR = result("alignment/xor/d{aln_d}_K{aln_K}_lam{aln_lam}/seed{seed}/run.npz")
ALN_RUN_ID = "d{aln_d}_lam{aln_lam}_seed{seed}"
# Every run of each setting; numbers appear in paths as f"{value:g}" (10.0 -> "10").
ALN_GMM_RUNS = [ALN_GMM.format(aln_d=ALN["gmm"]["d"], aln_lam=f"{float(lam):g}", seed=s)
                for lam in ALN["gmm"]["lams"] for s in range(ALN["gmm"]["seeds"])]
ALN_DSCAN_RUNS = [ALN_DSCAN.format(aln_d=d, aln_lam=f"{float(ALN['dscan']['lam']):g}", seed=s)
                  for d in ALN["dscan"]["dims"] for s in range(ALN["dscan"]["seeds"])]
ALN_XOR_RUNS = [ALN_XOR.format(aln_d=ALN["xor"]["d"], aln_K=ALN["xor"]["K"], aln_lam=f"{float(ALN['xor']['lam']):g}",
                               seed=s) for s in range(ALN["xor"]["seeds"])]

TARGETS["alignment_gmm"] = [result("figures/alignment_gmm.png"), result("figures/alignment_gmm_spectra.png")]
TARGETS["alignment_xor"] = [result("figures/alignment_xor.png")]
METRICS.append(result("metrics/alignment.json"))


wildcard_constraints:
    aln_d=r"\d+",
    aln_K=r"\d+",
    aln_lam=r"[0-9.e+-]+",
    seed=r"\d+",


rule alignment_gmm_run:
    output:
        run=ALN_GMM,
    log:
        logfile("alignment_gmm_run", ALN_RUN_ID),
    benchmark:
        benchfile("alignment_gmm_run", ALN_RUN_ID)
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=60,
    params:
        cfg=cfg("alignment.gmm.k", "alignment.gmm.means", "alignment.gmm.c", "alignment.gmm.beta",
                          "alignment.gmm.times", "alignment.matrices"),
        task="gmm",
        code=code("alignment_run.py"),
        seed=seed_of,
    script:
        "../scripts/alignment_run.py"


rule alignment_dscan_run:
    output:
        run=ALN_DSCAN,
    log:
        logfile("alignment_dscan_run", ALN_RUN_ID),
    benchmark:
        benchfile("alignment_dscan_run", ALN_RUN_ID)
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=120,
    params:
        cfg=cfg("alignment.gmm.k", "alignment.gmm.means", "alignment.gmm.c", "alignment.gmm.beta",
                          "alignment.dscan.times", "alignment.matrices"),
        task="dscan",
        code=code("alignment_run.py"),
        seed=seed_of,
    script:
        "../scripts/alignment_run.py"


rule alignment_xor_run:
    output:
        run=ALN_XOR,
    log:
        logfile("alignment_xor_run", "d{aln_d}_K{aln_K}_lam{aln_lam}_seed{seed}"),
    benchmark:
        benchfile("alignment_xor_run", "d{aln_d}_K{aln_K}_lam{aln_lam}_seed{seed}")
    threads: JOB_THREADS
    conda:
        CONDA_ENV
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=60,
    params:
        cfg=cfg("alignment.xor.c", "alignment.xor.beta", "alignment.xor.times",
                          "alignment.matrices"),
        task="xor",
        code=code("alignment_run.py"),
        seed=seed_of,
    script:
        "../scripts/alignment_run.py"


rule alignment_metrics:
    input:
        gmm=ALN_GMM_RUNS,
        dscan=ALN_DSCAN_RUNS,
        xor=ALN_XOR_RUNS,
    output:
        metrics=result("metrics/alignment.json"),
    log:
        logfile("alignment_metrics"),
    benchmark:
        benchfile("alignment_metrics")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=cfg("alignment.claims", "run_name"),
        code=code("alignment_metrics.py"),
    script:
        "../scripts/alignment_metrics.py"


rule alignment_gmm_figures:
    input:
        gmm=ALN_GMM_RUNS,
        dscan=ALN_DSCAN_RUNS,
    output:
        figure=report(result("figures/alignment_gmm.png"), caption="../report/alignment_gmm.rst",
                      category="Ben Arous et al. 2024"),
        spectra=report(result("figures/alignment_gmm_spectra.png"), caption="../report/alignment_gmm_spectra.rst",
                       category="Ben Arous et al. 2024"),
    log:
        logfile("alignment_gmm_figures"),
    benchmark:
        benchfile("alignment_gmm_figures")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("alignment.plot", "alignment.claims"),
        code=code("alignment_figure_gmm.py"),
    script:
        "../scripts/alignment_figure_gmm.py"


rule alignment_xor_figure:
    input:
        xor=ALN_XOR_RUNS,
    output:
        figure=report(result("figures/alignment_xor.png"), caption="../report/alignment_xor.rst",
                      category="Ben Arous et al. 2024"),
    log:
        logfile("alignment_xor_figure"),
    benchmark:
        benchfile("alignment_xor_figure")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=cfg("alignment.plot", "alignment.claims"),
        code=code("alignment_figure_xor.py"),
    script:
        "../scripts/alignment_figure_xor.py"


rule alignment_gmm:
    input:
        TARGETS["alignment_gmm"],


rule alignment_xor:
    input:
        TARGETS["alignment_xor"],


rule alignment:
    input:
        TARGETS["alignment_gmm"] + TARGETS["alignment_xor"] + [result("metrics/alignment.json")],
