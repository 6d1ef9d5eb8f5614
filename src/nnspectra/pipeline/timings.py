"""Where the time went: per-rule wall and CPU time of the cached results, from their provenance.

Every job writes ``wall_time_s``, ``cpu_time_s``, its device and wildcards into the sidecar of each
output; a job is counted once however many outputs it has. Peak memory comes from the Snakemake
``benchmark:`` files under ``<results>/logs/<rule>/`` when they exist. The table answers "how long
does this target take here" from what actually ran, so it can be quoted next to a preset.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pandas as pd

from nnspectra.pipeline.provenance import SIDECAR_SUFFIX


def _job_key(record: dict) -> str:
    extra = record.get("extra") or {}
    wildcards = extra.get("wildcards") or {}
    if wildcards:
        return json.dumps(wildcards, sort_keys=True)
    return f"{record.get('created')}|{record.get('wall_time_s')}"  # one job's outputs share both


def _peak_rss_mb(logs: Path, rule: str) -> float:
    peaks = []
    for tsv in (logs / rule).glob("*.bench.tsv"):
        try:
            frame = pd.read_csv(tsv, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError):
            continue
        if "max_rss" in frame and len(frame):
            peaks.append(float(pd.to_numeric(frame["max_rss"], errors="coerce").max()))
    peaks = [p for p in peaks if not math.isnan(p)]
    return max(peaks) if peaks else math.nan


def rule_timings(results: str | Path = "results", rule_prefix: str = "", since: str | None = None) -> pd.DataFrame:
    """One row per rule (whose name starts with ``rule_prefix``): jobs, total and longest wall time,
    total CPU time, peak RSS, devices. Times are in minutes; CPU time is summed over a job's threads.
    ``since`` (ISO date-time, e.g. ``2026-11-23T04:00``) keeps only results created from then on,
    i.e. one pipeline run. Peak RSS covers every benchmark file of the rule.
    """
    cutoff = pd.Timestamp(since) if since else None
    if cutoff is not None and cutoff.tzinfo is None:
        cutoff = cutoff.tz_localize("UTC")
    results = Path(results)
    jobs: dict[str, dict[str, dict]] = defaultdict(dict)
    for sidecar in sorted(results.rglob(f"*{SIDECAR_SUFFIX}")):
        try:
            record = json.loads(sidecar.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        rule = record.get("step")
        if not rule or not rule.startswith(rule_prefix) or record.get("wall_time_s") is None:
            continue
        if cutoff is not None and (not record.get("created") or pd.Timestamp(record["created"]) < cutoff):
            continue
        jobs[rule].setdefault(_job_key(record), record)
    rows = []
    for rule, by_job in sorted(jobs.items()):
        wall = [float(r["wall_time_s"]) for r in by_job.values()]
        cpu = [float(r.get("cpu_time_s") or 0.0) for r in by_job.values()]
        devices = {str(r.get("device", "?")).split(" ")[0] for r in by_job.values()}
        rows.append({
            "rule": rule,
            "jobs": len(by_job),
            "wall_total_min": round(sum(wall) / 60, 2),
            "wall_max_min": round(max(wall) / 60, 2),
            "cpu_total_min": round(sum(cpu) / 60, 2),
            "peak_rss_mb": round(_peak_rss_mb(results / "logs", rule), 0),
            "devices": ",".join(sorted(devices)),
        })
    columns = ["rule", "jobs", "wall_total_min", "wall_max_min", "cpu_total_min", "peak_rss_mb", "devices"]
    return pd.DataFrame(rows, columns=columns)


def to_markdown(frame: pd.DataFrame) -> str:
    """The table as GitHub markdown (tabulate), with a total row."""
    if frame.empty:
        return "no results with provenance found\n"
    total = {"rule": "**total**", "jobs": int(frame["jobs"].sum()),
             "wall_total_min": round(frame["wall_total_min"].sum(), 2), "wall_max_min": "",
             "cpu_total_min": round(frame["cpu_total_min"].sum(), 2), "peak_rss_mb": frame["peak_rss_mb"].max(),
             "devices": ""}
    shown = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    return shown.to_markdown(index=False) + "\n"
