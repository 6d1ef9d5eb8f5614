"""Pipeline plumbing: one Snakemake job as a :class:`~nnspectra.pipeline.step.Step`, provenance
sidecars, the cache audit, config loading and validation, runtime (device, threads, determinism),
GPU slots, timings and file I/O. Nothing here computes science; nothing outside it knows Snakemake.
"""
