"""What the workflow should have made, and ``nnspectra audit --repair`` (issue 12).

The DAG is Snakemake's, never re-implemented here: :func:`expected_outputs` runs ``snakemake --summary``
for the run's targets and config options and reads back every output file of the DAG with its rule and
Snakemake's status. The audit (:func:`nnspectra.pipeline.audit.audit`) turns the absent ones into
``missing`` entries.

A repair (:func:`plan_repair`, :func:`quarantine`, :func:`rebuild`) rebuilds exactly the files the audit
flagged and everything made from them, through Snakemake:

* temporaries of killed writers (``leftover``) are deleted;
* untrusted files (corrupt, or without a sidecar) are moved aside, with their sidecars, into
  ``.snakemake/nnspectra-quarantine/<UTC time>/`` (kept for inspection, never deleted);
* orphan sidecars of files the DAG no longer makes are moved aside the same way;
* ``snakemake <targets> --forcerun <every flagged file>`` then reruns the jobs that make them and,
  as Snakemake always does for jobs that rerun, every job downstream of them in the DAG of the targets.

Flagged files that the DAG of the targets does not make are left alone and listed (run the repair for
the targets that make them, or with no targets for ``rule all``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnspectra.errors import ConfigError, StorageError
from nnspectra.pipeline.audit import STALE, AuditReport
from nnspectra.pipeline.provenance import SIDECAR_SUFFIX

QUARANTINE = Path(".snakemake") / "nnspectra-quarantine"
UNTRUSTED = frozenset({"corrupt", "missing-sidecar"})  # moved aside before the rebuild
SUMMARY_HEADER = "output_file\tdate\trule\tlog-file(s)\tstatus\tplan"
_SKIPPED = frozenset({"removed temp file", "pipe file", "service file", "file local to node"})


@dataclass(frozen=True)
class Expected:
    """One output file of the DAG: the rule that makes it and Snakemake's ``--summary`` status."""

    rule: str
    status: str


def snakemake_overrides(overrides: Sequence[str]) -> list[str]:
    """``nnspectra``'s ``--config`` entries (dotted keys, YAML values) as Snakemake accepts them: one
    ``section=<JSON>`` per top-level key (Snakemake refuses dotted keys and replaces, not merges, a repeated
    key); e.g. ``["blobs.train.lr=0.05", "blobs.counting.top=30"]`` -> ``['blobs={"train": {"lr": 0.05},
    "counting": {"top": 30}}']``."""
    nested: dict[str, Any] = {}
    for text in overrides:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--config '{text}' must look like KEY=VALUE (dotted keys allowed, e.g. "
                              "blobs.train.lr=0.1)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        *parents, leaf = key.strip().split(".")
        node = nested
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in nested.items()]


def snakemake_command(targets: Sequence[str] = (), configfiles: Sequence[str | Path] = (),
                      overrides: Sequence[str] = (), snakefile: str | Path = "Snakefile",
                      workdir: str | Path = ".") -> list[str]:
    """``python -m snakemake <targets> --snakefile S --directory W [--configfile ...] [--config ...]``
    (``overrides`` in ``nnspectra``'s form, see :func:`snakemake_overrides`)."""
    command = [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(Path(snakefile).resolve()),
               "--directory", str(Path(workdir).resolve())]
    if configfiles:
        command += ["--configfile", *[str(Path(f).resolve()) for f in configfiles]]
    if overrides:
        command += ["--config", *snakemake_overrides(overrides)]
    return command


def parse_summary(text: str) -> dict[str, Expected]:
    """Output files of ``snakemake --summary`` stdout (tab-separated table) with rule and status."""
    lines = text.splitlines()
    if SUMMARY_HEADER not in lines:
        raise ValueError("no 'snakemake --summary' table found")
    out: dict[str, Expected] = {}
    for line in lines[lines.index(SUMMARY_HEADER) + 1:]:
        cells = line.split("\t")
        if len(cells) == 6 and cells[4] not in _SKIPPED:
            out[cells[0]] = Expected(rule=cells[2], status=cells[4])
    return out


def expected_outputs(targets: Sequence[str] = (), configfiles: Sequence[str | Path] = (),
                     overrides: Sequence[str] = (), snakefile: str | Path = "Snakefile", workdir: str | Path = ".",
                     timeout: float = 900) -> dict[str, Expected]:
    """Every output file the DAG of ``targets`` (default: ``rule all``) has, as Snakemake names it (relative
    to ``workdir``), from ``snakemake --summary`` under the run's ``--configfile``/``--config`` options."""
    command = snakemake_command(targets, configfiles, overrides, snakefile, workdir) + ["--summary"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir, check=False)
    try:
        if proc.returncode:
            raise ValueError("snakemake failed")
        return parse_summary(proc.stdout)
    except ValueError:
        last = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()][-1:] or ["no output"]
        raise ConfigError(f"snakemake --summary could not list the files of {list(targets) or ['all']}: "
                          f"{last[0].strip()}; check the targets and config options") from None


@dataclass
class RepairPlan:
    """What a repair moves aside and what it makes Snakemake rebuild (paths relative to the workdir)."""

    quarantine: list[str] = field(default_factory=list)
    forcerun: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.quarantine or self.forcerun or self.delete)

    def describe(self) -> str:
        """A few lines: what moves aside, what is rebuilt, what is left alone."""
        lines = [f"repair: delete {len(self.delete)} leftover temporary file(s): {', '.join(self.delete)}"] \
            if self.delete else []
        lines += [f"repair: move aside {len(self.quarantine)} untrusted file(s): {', '.join(self.quarantine) or '-'}",
                 (f"repair: rebuild {len(self.forcerun)} file(s) and everything made from them: "
                  f"{', '.join(self.forcerun) or '-'}")]
        if self.outside:
            lines.append(f"repair: {len(self.outside)} flagged file(s) are not made for these targets and are left "
                         f"alone: {', '.join(self.outside)}")
        return "\n".join(lines)


def plan_repair(report: AuditReport, expected: Mapping[str, Any]) -> RepairPlan:
    """The files to move aside and to rebuild for every problem the audit found (see module docstring)."""
    plan = RepairPlan()
    for entry in report.entries:
        if entry.status == "ok":
            continue
        if entry.status == "leftover":
            plan.delete.append(entry.file)
            continue
        made = entry.file in expected
        if entry.status == "orphan-sidecar" and not made:
            plan.quarantine.append(entry.file + SIDECAR_SUFFIX)
            continue
        if not made:
            plan.outside.append(entry.file)
            continue
        if entry.status in UNTRUSTED:
            plan.quarantine.append(entry.file)
        if entry.status in UNTRUSTED or entry.status in STALE or entry.status in ("missing", "incomplete"):
            plan.forcerun.append(entry.file)
    return plan


def writable_or_raise(plan: RepairPlan, workdir: str | Path = ".") -> None:
    """Stop in one line, before anything moves, when a folder the repair writes to is read-only."""
    workdir = Path(workdir)
    folders = sorted({(workdir / name).parent for name in (*plan.quarantine, *plan.forcerun, *plan.delete)})
    for folder in [*folders, workdir / QUARANTINE.parent]:  # the results first, then the quarantine's home
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            fd, probe = tempfile.mkstemp(prefix=".nnspectra-write-probe", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise StorageError(f"cannot repair: {folder} is not writable ({err.strerror}); make the results tree "
                               f"writable (e.g. chmod -R u+w {folder}, or remount it read-write) and run the repair "
                               "again; nothing was changed") from None


def remove_leftovers(files: Sequence[str], workdir: str | Path = ".") -> None:
    """Delete temporaries of killed writers (audit status ``leftover``): incomplete by construction."""
    for name in files:
        (Path(workdir) / name).unlink(missing_ok=True)


def quarantine(files: Sequence[str], workdir: str | Path = ".") -> Path | None:
    """Move ``files`` (and their sidecars) to a new ``.snakemake/nnspectra-quarantine/<UTC time>/`` folder of
    ``workdir``, keeping their relative paths; returns the folder (None when there is nothing to move)."""
    workdir = Path(workdir)
    moves = []
    for name in files:
        for path in (Path(name), Path(name + SIDECAR_SUFFIX)) if not name.endswith(SIDECAR_SUFFIX) else (Path(name),):
            if (workdir / path).is_file():
                moves.append(path)
    if not moves:
        return None
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = workdir / QUARANTINE / stamp
    for path in moves:
        dest = folder / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(workdir / path), dest)  # a rename on the same file system: mtimes and bytes kept
    return folder


def rebuild_command(targets: Sequence[str], forcerun: Sequence[str], configfiles: Sequence[str | Path] = (),
                    overrides: Sequence[str] = (), cores: str = "1", snakefile: str | Path = "Snakefile",
                    workdir: str | Path = ".", profile: str | None = None) -> list[str]:
    """``snakemake <targets> ... --cores N --rerun-incomplete [--profile P] --forcerun <files>``."""
    command = snakemake_command(targets, configfiles, overrides, snakefile, workdir)
    command += ["--cores", str(cores), "--rerun-incomplete"]
    if profile:
        command += ["--profile", profile]
    if forcerun:
        command += ["--forcerun", *forcerun]
    return command


def shown(command: Sequence[str]) -> str:
    """A ``python -m snakemake ...`` command as the user would type it."""
    return "snakemake " + " ".join(shlex.quote(c) for c in command[3:])


def rebuild(command: Sequence[str], workdir: str | Path = ".") -> int:
    """Run a :func:`rebuild_command` (its output streams pass through); its exit code."""
    print("repair: " + shown(command), flush=True)
    return subprocess.run(list(command), cwd=workdir, check=False).returncode
