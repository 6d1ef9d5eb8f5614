"""Progress of a long run: jobs done of the target's total and the time left, from measured per-rule times.

``nnspectra status`` asks Snakemake for two plans of the same target and config: the jobs still to run (a dry
run) and every job of the target (a dry run with ``--forceall``); their ``Job stats`` tables give jobs done =
total - to go. Jobs being written now are Snakemake's incomplete markers. The time left is, per rule, the jobs
to go times the mean wall time of that rule's finished jobs in this results tree (Snakemake's benchmark
files, :func:`nnspectra.pipeline.timings.benchmark_jobs`), divided by the cores: an estimate that sharpens
as each rule's first jobs finish; rules not measured yet are named, not guessed. On a shared machine the wall
pace includes time lost to other load, so the CPU time left (the same sum over CPU seconds) is shown beside
it: single-threaded jobs on idle cores take about their CPU time.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nnspectra.errors import ConfigError
from nnspectra.pipeline.repair import snakemake_command
from nnspectra.pipeline.timings import benchmark_jobs

AGGREGATE_RULES = frozenset({"all"})  # rules that only collect inputs (no benchmark file, no time)
_STATS_ROW = re.compile(r"^(\S+)\s+(\d+)\s*$")


def parse_job_stats(text: str) -> dict[str, int]:
    """Jobs per rule from the ``Job stats:`` table of a Snakemake dry run ({} when nothing is to be done)."""
    lines = text.splitlines()
    counts: dict[str, int] = {}
    if "Job stats:" not in lines:
        return counts
    for line in lines[lines.index("Job stats:") + 3:]:  # skip the header and the dashes
        match = _STATS_ROW.match(line)
        if not match or match.group(1) == "total":
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def planned_jobs(targets: Sequence[str], configfiles: Sequence[str | Path], overrides: Sequence[str],
                 snakefile: str | Path = "Snakefile", workdir: str | Path = ".", forceall: bool = False,
                 timeout: float = 900) -> dict[str, int]:
    """Jobs per rule Snakemake would run now for ``targets`` (``forceall``: every job of the target)."""
    command = snakemake_command(targets, configfiles, overrides, snakefile, workdir)
    command += ["--dry-run", "--nolock", "--quiet", "rules"] + (["--forceall"] if forceall else [])
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir, check=False)
    if proc.returncode:
        last = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()][-1:] or ["no output"]
        raise ConfigError(f"snakemake could not plan {list(targets) or ['all']}: {last[0].strip()}")
    return parse_job_stats(proc.stdout + "\n" + proc.stderr)


def running_outputs(workdir: str | Path = ".") -> list[str]:
    """Outputs Snakemake marked as being written now (``.snakemake/incomplete/``; a run cut off leaves them
    too, until the next run reruns their jobs): the audit's reader of those markers."""
    from nnspectra.pipeline.audit_sources import snakemake_incomplete

    return snakemake_incomplete(workdir)


@dataclass
class Progress:
    """Jobs of a target: total, still to run (per rule), and the measured seconds per job of each rule."""

    total: Mapping[str, int]
    to_go: Mapping[str, int]
    seconds_per_job: Mapping[str, float]
    running: Sequence[str] = field(default_factory=list)
    cpu_seconds_per_job: Mapping[str, float] = field(default_factory=dict)

    @property
    def jobs_total(self) -> int:
        return sum(n for rule, n in self.total.items() if rule not in AGGREGATE_RULES)

    @property
    def jobs_to_go(self) -> int:
        return sum(n for rule, n in self.to_go.items() if rule not in AGGREGATE_RULES)

    @property
    def unmeasured(self) -> dict[str, int]:
        """Rules with jobs to go but no finished job to time yet, with their job counts."""
        return {rule: n for rule, n in self.to_go.items()
                if rule not in AGGREGATE_RULES and rule not in self.seconds_per_job}

    def seconds_left(self) -> float:
        """Job-seconds still to run over the measured rules (sum of jobs x mean seconds per job)."""
        return sum(n * self.seconds_per_job[rule] for rule, n in self.to_go.items() if rule in self.seconds_per_job)

    def cpu_seconds_left(self) -> float:
        """CPU-seconds still to run over the rules with a measured CPU time (jobs x mean CPU seconds per job)."""
        return sum(n * self.cpu_seconds_per_job[rule] for rule, n in self.to_go.items()
                   if not math.isnan(self.cpu_seconds_per_job.get(rule, math.nan)))

    def lines(self, cores: int) -> list[str]:
        """The terminal view: jobs done / total, running, and the time left at ``cores`` parallel jobs."""
        total, to_go = self.jobs_total, self.jobs_to_go
        done = total - to_go
        share = f" ({100 * done / total:.0f}%)" if total else ""
        out = [f"jobs: {done} of {total} done{share}, {to_go} to go; {len(self.running)} outputs marked in progress"]
        if not to_go:
            out.append("time left: none, the target is up to date")
            return out
        left = self.seconds_left()
        unmeasured = self.unmeasured
        measured_jobs = to_go - sum(unmeasured.values())
        out.append(f"time left: ≈{left / 60 / max(cores, 1):.1f} min wall on {cores} cores "
                   f"({left / 60:.1f} job-min for {measured_jobs} jobs, from the mean time of each rule's finished jobs)")
        if self.cpu_seconds_per_job:
            cpu = self.cpu_seconds_left()
            out.append(f"on idle cores: ≈{cpu / 60 / max(cores, 1):.1f} min wall on {cores} cores ({cpu / 60:.1f} CPU-min "
                       "left; the wall pace above includes time lost to other load on a shared machine)")
        if unmeasured:
            names = sorted(unmeasured, key=lambda rule: -unmeasured[rule])
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            rules = f"{len(names)} rule" + ("s" if len(names) != 1 else "")
            out.append(f"not in the estimate: {sum(unmeasured.values())} jobs of {rules} with no finished job yet "
                       f"({shown})")
        return out


def seconds_per_job(results: str | Path, column: str = "wall_s") -> dict[str, float]:
    """Mean seconds of a job of each rule (``column``: ``wall_s`` or ``cpu_s``), from the benchmark files
    under ``<results>/logs``."""
    bench = benchmark_jobs(results)
    if bench.empty:
        return {}
    means: pd.Series = bench.groupby("rule")[column].mean()
    return {str(rule): float(value) for rule, value in means.items()}


def progress(targets: Sequence[str], configfiles: Sequence[str | Path], overrides: Sequence[str], results: Path,
             snakefile: str | Path = "Snakefile", workdir: str | Path = ".") -> Progress:
    """The :class:`Progress` of ``targets`` (default: ``rule all``) under this config, measured in ``results``."""
    total = planned_jobs(targets, configfiles, overrides, snakefile, workdir, forceall=True)
    to_go = planned_jobs(targets, configfiles, overrides, snakefile, workdir)
    results_prefix = str(Path(results)).rstrip("/") + "/"
    running = [p for p in running_outputs(workdir) if p.startswith(results_prefix)]
    measured = Path(workdir) / results
    return Progress(total=total, to_go=to_go, seconds_per_job=seconds_per_job(measured), running=running,
                    cpu_seconds_per_job=seconds_per_job(measured, "cpu_s"))


def status_lines(targets: Sequence[str], configfiles: Sequence[str | Path], overrides: Sequence[str], results: Path,
                 cores: int | None = None, snakefile: str | Path = "Snakefile", workdir: str | Path = ".",
                 ) -> Iterator[str]:
    """``nnspectra status``: a first line saying what is asked (printed before the slow plans), then the view."""
    if cores is not None and cores < 1:
        raise ConfigError(f"--cores {cores} is impossible: give a whole number of at least 1")
    if not Path(snakefile).is_file():
        raise ConfigError(f"no workflow at {snakefile}; run this in the checkout (or pass --snakefile and --directory)")
    yield f"nnspectra status: {results}/, target {' '.join(targets) or 'all'} (asking Snakemake for the plan)"
    state = progress(targets, configfiles, overrides, results, snakefile, workdir)
    yield from state.lines(cores or os.cpu_count() or 1)
