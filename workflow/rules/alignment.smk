# Ben Arous, Gheissari, Huang & Jagannath (ICLR 2024): SGD aligns with the emerging outlier eigenspaces
# (SPEC §2, claims 24-32). Per (setting, seed): one online-SGD run with spectral measurements at every
# checkpoint -> metrics, figures alignment_gmm and alignment_xor.

ALN = config["alignment"]


# Every run of each setting; numbers appear in paths as f"{value:g}" (10.0 -> "10").
ALN_GMM_RUNS = [f"results/alignment/gmm/d{ALN['gmm']['d']}_lam{float(lam):g}/seed{s}/run.npz"
                for lam in ALN["gmm"]["lams"] for s in range(ALN["gmm"]["seeds"])]
ALN_DSCAN_RUNS = [f"results/alignment/dscan/d{d}_lam{float(ALN['dscan']['lam']):g}/seed{s}/run.npz"
                  for d in ALN["dscan"]["dims"] for s in range(ALN["dscan"]["seeds"])]
ALN_XOR_RUNS = [f"results/alignment/xor/d{ALN['xor']['d']}_K{ALN['xor']['K']}_lam{float(ALN['xor']['lam']):g}/seed{s}/run.npz"
                for s in range(ALN["xor"]["seeds"])]


if not any(float(lam) == float(ALN["claims"]["lam"]) for lam in ALN["gmm"]["lams"]):
    sys.exit(f"Config error: alignment.claims.lam = {ALN['claims']['lam']} is not one of alignment.gmm.lams")
if ALN["plot"]["seed"] >= min(ALN["gmm"]["seeds"], ALN["xor"]["seeds"]):
    sys.exit("Config error: alignment.plot.seed must be below alignment.gmm.seeds and alignment.xor.seeds")

TARGETS["alignment_gmm"] = ["results/figures/alignment_gmm.png", "results/figures/alignment_gmm_spectra.png"]
TARGETS["alignment_xor"] = ["results/figures/alignment_xor.png"]
METRICS.append("results/metrics/alignment.json")


wildcard_constraints:
    aln_d=r"\d+",
    aln_K=r"\d+",
    aln_lam=r"[0-9.e+-]+",
    seed=r"\d+",


rule alignment_gmm_run:
    output:
        run="results/alignment/gmm/d{aln_d}_lam{aln_lam}/seed{seed}/run.npz",
    log:
        logfile("alignment_gmm_run", "d{aln_d}_lam{aln_lam}_seed{seed}"),
    benchmark:
        benchfile("alignment_gmm_run", "d{aln_d}_lam{aln_lam}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=60,
    params:
        cfg=config_subset(config, "alignment.gmm.k", "alignment.gmm.means", "alignment.gmm.c", "alignment.gmm.beta",
                          "alignment.gmm.times", "alignment.matrices"),
        task="gmm",
        code=code_version("nnspectra.experiments.alignment"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/alignment_run.py"


rule alignment_dscan_run:
    output:
        run="results/alignment/dscan/d{aln_d}_lam{aln_lam}/seed{seed}/run.npz",
    log:
        logfile("alignment_dscan_run", "d{aln_d}_lam{aln_lam}_seed{seed}"),
    benchmark:
        benchfile("alignment_dscan_run", "d{aln_d}_lam{aln_lam}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=4000,
        runtime=120,
    params:
        cfg=config_subset(config, "alignment.gmm.k", "alignment.gmm.means", "alignment.gmm.c", "alignment.gmm.beta",
                          "alignment.dscan.times", "alignment.matrices"),
        task="dscan",
        code=code_version("nnspectra.experiments.alignment"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/alignment_run.py"


rule alignment_xor_run:
    output:
        run="results/alignment/xor/d{aln_d}_K{aln_K}_lam{aln_lam}/seed{seed}/run.npz",
    log:
        logfile("alignment_xor_run", "d{aln_d}_K{aln_K}_lam{aln_lam}_seed{seed}"),
    benchmark:
        benchfile("alignment_xor_run", "d{aln_d}_K{aln_K}_lam{aln_lam}_seed{seed}")
    threads: JOB_THREADS
    conda:
        "../envs/nnspectra.yaml"
    resources:
        gpu=GPU,
        mem_mb=2000,
        runtime=60,
    params:
        cfg=config_subset(config, "alignment.xor.c", "alignment.xor.beta", "alignment.xor.times",
                          "alignment.matrices"),
        task="xor",
        code=code_version("nnspectra.experiments.alignment"),
        seed=lambda w: int(w.seed),
    script:
        "../scripts/alignment_run.py"


rule alignment_metrics:
    input:
        gmm=ALN_GMM_RUNS,
        dscan=ALN_DSCAN_RUNS,
        xor=ALN_XOR_RUNS,
    output:
        metrics="results/metrics/alignment.json",
    log:
        logfile("alignment_metrics"),
    benchmark:
        benchfile("alignment_metrics")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cfg=config_subset(config, "alignment.claims"),
        code=code_version("nnspectra.experiments.alignment"),
    script:
        "../scripts/alignment_metrics.py"


rule alignment_gmm_figures:
    input:
        gmm=ALN_GMM_RUNS,
        dscan=ALN_DSCAN_RUNS,
    output:
        figure=report("results/figures/alignment_gmm.png", caption="../report/alignment_gmm.rst",
                      category="Ben Arous et al. 2024"),
        spectra=report("results/figures/alignment_gmm_spectra.png", caption="../report/alignment_gmm_spectra.rst",
                       category="Ben Arous et al. 2024"),
    log:
        logfile("alignment_gmm_figures"),
    benchmark:
        benchfile("alignment_gmm_figures")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=config_subset(config, "alignment.plot", "alignment.claims"),
        code=code_version("nnspectra.plotting.alignment"),
    script:
        "../scripts/alignment_figure_gmm.py"


rule alignment_xor_figure:
    input:
        xor=ALN_XOR_RUNS,
    output:
        figure=report("results/figures/alignment_xor.png", caption="../report/alignment_xor.rst",
                      category="Ben Arous et al. 2024"),
    log:
        logfile("alignment_xor_figure"),
    benchmark:
        benchfile("alignment_xor_figure")
    threads: 1
    conda:
        "../envs/nnspectra.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=config_subset(config, "alignment.plot", "alignment.claims"),
        code=code_version("nnspectra.plotting.alignment"),
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
        TARGETS["alignment_gmm"] + TARGETS["alignment_xor"] + ["results/metrics/alignment.json"],
