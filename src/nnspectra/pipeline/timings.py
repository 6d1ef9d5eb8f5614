"""Where the time went: per-rule wall and CPU time and peak memory of the cached results.

The numbers are Snakemake's own ``benchmark:`` files under ``<results>/logs/<rule>/*.bench.tsv`` (one per job,
every rule of the pipeline writes one), summed: the whole job as Snakemake ran it, interpreter start and
imports included, so ``nnspectra timings`` equals the sum of those files. The provenance sidecars add the
device each rule ran on; a rule with sidecars but no benchmark files (none in this pipeline) falls back to the
sidecars' ``wall_time_s``/``cpu_time_s`` (time inside the step only), counting each job once.
The table answers "how long does this target take here" from what actually ran, so it can be quoted next to
a preset, and :mod:`nnspectra.pipeline.progress` reads the same files to estimate the time left.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pandas as pd

from nnspectra.pipeline.provenance import SIDECAR_SUFFIX
from nnspectra.pipeline.sidecar import Sidecar, output_of, read_sidecar

BENCH_SUFFIX = ".bench.tsv"
COLUMNS = ["rule", "jobs", "wall_total_min", "wall_max_min", "cpu_total_min", "peak_rss_mb", "devices", "source"]


def _job_key(record: Sidecar) -> str:
    wildcards = record.extra.get("wildcards") or {}
    if wildcards:
        return json.dumps(wildcards, sort_keys=True)
    return f"{record.created}|{record.wall_time_s}"  # one job's outputs share both


def _cutoff(since: str | None) -> pd.Timestamp | None:
    cutoff = pd.Timestamp(since) if since else None
    if cutoff is not None and cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize("UTC")
    return cutoff


def benchmark_jobs(results: str | Path, rule_prefix: str = "", since: str | None = None) -> pd.DataFrame:
    """One row per Snakemake benchmark file under ``<results>/logs/<rule>/``: ``rule``, ``job`` (file stem),
    ``wall_s`` (column ``s``), ``cpu_s`` (``cpu_time``), ``max_rss_mb`` and ``finished`` (the file's mtime,
    UTC). Repeated measurements (``benchmark: repeat(...)``) are summed. Unreadable files are skipped."""
    cutoff = _cutoff(since)
    rows = []
    logs = Path(results) / "logs"
    for tsv in sorted(logs.glob(f"*/*{BENCH_SUFFIX}")) if logs.is_dir() else []:
        rule = tsv.parent.name
        if not rule.startswith(rule_prefix):
            continue
        try:
            finished = pd.Timestamp(tsv.stat().st_mtime, unit="s", tz="UTC")
            frame = pd.read_csv(tsv, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError):
            continue
        if (cutoff is not None and finished < cutoff) or "s" not in frame or not len(frame):
            continue

        def total(column: str) -> float:
            return float(pd.to_numeric(frame[column], errors="coerce").sum()) if column in frame else math.nan

        rss = pd.to_numeric(frame["max_rss"], errors="coerce").max() if "max_rss" in frame else math.nan
        rows.append({"rule": rule, "job": tsv.name.removesuffix(BENCH_SUFFIX), "wall_s": total("s"),
                     "cpu_s": total("cpu_time"), "max_rss_mb": float(rss), "finished": finished})
    return pd.DataFrame(rows, columns=["rule", "job", "wall_s", "cpu_s", "max_rss_mb", "finished"])


def _sidecar_jobs(results: Path, rule_prefix: str, cutoff: pd.Timestamp | None) -> dict[str, dict[str, Sidecar]]:
    """The sidecars under ``results`` by rule and job; an unreadable one stops with its one line
    (:class:`SidecarError`) rather than silently dropping a job from the sums."""
    jobs: dict[str, dict[str, Sidecar]] = defaultdict(dict)
    for sidecar in sorted(results.rglob(f"*{SIDECAR_SUFFIX}")):
        record = read_sidecar(output_of(sidecar))
        rule = record.step
        if not rule or not rule.startswith(rule_prefix) or record.wall_time_s is None:
            continue
        if cutoff is not None and (not record.created or pd.Timestamp(record.created) < cutoff):
            continue
        jobs[rule].setdefault(_job_key(record), record)
    return jobs


def rule_timings(results: str | Path = "results", rule_prefix: str = "", since: str | None = None) -> pd.DataFrame:
    """One row per rule (whose name starts with ``rule_prefix``): jobs, total and longest wall time, total
    CPU time, peak RSS, devices, and the ``source`` of the numbers (``benchmark`` files, else ``sidecars``).
    Times are in minutes, summed over a rule's jobs exactly as in its benchmark files. ``since`` (ISO
    date-time, e.g. ``2026-11-23T04:00``) keeps only jobs finished (benchmarks) or created (sidecars) from
    then on, i.e. one pipeline run. An unreadable sidecar raises
    :class:`~nnspectra.pipeline.sidecar.SidecarError` (one line: the file and ``nnspectra audit --repair``),
    so no job is left out of the sums unseen.
    """
    results = Path(results)
    bench = benchmark_jobs(results, rule_prefix, since)
    sidecars = _sidecar_jobs(results, rule_prefix, _cutoff(since))
    rows = []
    for rule in sorted(set(bench["rule"]) | set(sidecars)):
        devices = ",".join(sorted({(r.device or "?").split(" ")[0] for r in sidecars.get(rule, {}).values()}))
        mine = bench[bench["rule"] == rule]
        if len(mine):
            wall, cpu, source = list(mine["wall_s"]), list(mine["cpu_s"]), "benchmark"
            rss = float(mine["max_rss_mb"].max())
        else:
            by_job = sidecars[rule].values()
            wall = [float(r.wall_time_s or 0.0) for r in by_job]
            cpu = [float(r.cpu_time_s or 0.0) for r in by_job]
            rss, source = math.nan, "sidecars"
        rows.append({"rule": rule, "jobs": len(wall), "wall_total_min": round(sum(wall) / 60, 2),
                     "wall_max_min": round(max(wall) / 60, 2), "cpu_total_min": round(sum(cpu) / 60, 2),
                     "peak_rss_mb": round(rss, 0), "devices": devices or "?", "source": source})
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(frame: pd.DataFrame) -> str:
    """The table as GitHub markdown (tabulate), with a total row."""
    if frame.empty:
        return "no benchmark files or results with provenance found\n"
    total = {"rule": "**total**", "jobs": int(frame["jobs"].sum()),
             "wall_total_min": round(frame["wall_total_min"].sum(), 2), "wall_max_min": "",
             "cpu_total_min": round(frame["cpu_total_min"].sum(), 2), "peak_rss_mb": frame["peak_rss_mb"].max(),
             "devices": "", "source": ""}
    shown = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return shown.to_markdown(index=False) + "\n"
